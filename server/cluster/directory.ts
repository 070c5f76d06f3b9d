/**
 * {@link Directory} in Redis: who is online on which node, for the whole
 * cluster. Each online user is a hash `on:USER` (node, since, the entry as
 * JSON, away text), listed in the sorted set `order` by login time and in the
 * set `users:NODE` of the node holding them. Every script checks the holder's
 * heartbeat (`node.ts`): a user of a dead node is offline, and may claim again
 * on any node, as soon as that node's heartbeat has expired.
 *
 * The directory remembers what this node claimed, so that it can claim it
 * again after Redis lost it (a restart); a user claimed elsewhere meanwhile is
 * reported to {@link RedisDirectory.onLost} (their session here must end).
 *
 * @module
 */

import type { Directory, PresenceEntry } from "../ports.ts";
import type { ClusterNode } from "./node.ts";
import { defineScript, type Script } from "./redis.ts";

/** Shared by the scripts: is `node` alive (memoised per call). */
const ALIVE = `
local alive = {}
local function isAlive(node)
  local a = alive[node]
  if a == nil then
    a = redis.call('EXISTS', p .. 'alive:' .. node) == 1
    alive[node] = a
  end
  return a
end`;

/**
 * ARGV: prefix, user, node, since, entry JSON, mode. Claims the user for
 * `node` unless a live node holds them; in mode `reclaim` the holder may also
 * be `node` itself. Returns 1 when claimed.
 */
const CLAIM = `
local p, u, node, since, json = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
${ALIVE}
local key = p .. 'on:' .. u
local cur = redis.call('HGET', key, 'node')
if cur then
  if isAlive(cur) and not (ARGV[6] == 'reclaim' and cur == node and
      redis.call('HGET', key, 'since') == since) then
    return 0
  end
  redis.call('SREM', p .. 'users:' .. cur, u)
end
redis.call('DEL', key)
redis.call('HSET', key, 'node', node, 'since', since, 'entry', json)
if ARGV[7] then redis.call('HSET', key, 'away', ARGV[7]) end
redis.call('ZADD', p .. 'order', since, u)
redis.call('SADD', p .. 'users:' .. node, u)
return 1`;

/** ARGV: prefix, user, node, since. Releases the user if that claim is still theirs. */
const RELEASE = `
local p, u, node, since = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local key = p .. 'on:' .. u
local cur = redis.call('HMGET', key, 'node', 'since')
if cur[1] ~= node or cur[2] ~= since then return 0 end
redis.call('DEL', key)
redis.call('ZREM', p .. 'order', u)
redis.call('SREM', p .. 'users:' .. node, u)
return 1`;

/** ARGV: prefix, users... Returns [entry JSON, away] pairs of the live ones. */
const LOOKUP = `
local p = ARGV[1]
${ALIVE}
local out = {}
for i = 2, #ARGV do
  local e = redis.call('HMGET', p .. 'on:' .. ARGV[i], 'node', 'entry', 'away')
  if e[1] and isAlive(e[1]) then
    out[#out + 1] = e[2]
    out[#out + 1] = e[3] or ''
  end
end
return out`;

/** ARGV: prefix. Everyone online, in login order, as LOOKUP returns them. */
const LIST = `
local p = ARGV[1]
${ALIVE}
local out = {}
for _, u in ipairs(redis.call('ZRANGE', p .. 'order', 0, -1)) do
  local e = redis.call('HMGET', p .. 'on:' .. u, 'node', 'entry', 'away')
  if e[1] and isAlive(e[1]) then
    out[#out + 1] = e[2]
    out[#out + 1] = e[3] or ''
  end
end
return out`;

/** ARGV: prefix, user, away text ('' clears). */
const SET_AWAY = `
local key = ARGV[1] .. 'on:' .. ARGV[2]
if redis.call('EXISTS', key) == 0 then return 0 end
if ARGV[3] == '' then redis.call('HDEL', key, 'away') else redis.call('HSET', key, 'away', ARGV[3]) end
return 1`;

/** Entries as the scripts return them: JSON and away text, flat. */
function entries(flat: string[]): PresenceEntry[] {
  const out: PresenceEntry[] = [];
  for (let i = 0; i < flat.length; i += 2) {
    const entry = JSON.parse(flat[i]) as PresenceEntry;
    if (flat[i + 1] !== "") entry.away = flat[i + 1];
    out.push(entry);
  }
  return out;
}

/** The cluster's {@link Directory}, as one node sees and changes it. */
export class RedisDirectory implements Directory {
  readonly #node: ClusterNode;
  readonly #claim: Script;
  readonly #release: Script;
  readonly #lookup: Script;
  readonly #list: Script;
  readonly #setAway: Script;
  /** What this node claimed and has not released: claimed again after Redis lost it. */
  readonly #mine = new Map<string, PresenceEntry>();
  /** Releases that Redis did not take (user → since): made again at the next heartbeat. */
  readonly #unreleased = new Map<string, number>();
  #lost: (user: string) => void = () => {};

  constructor(node: ClusterNode) {
    this.#node = node;
    const r = node.redis;
    this.#claim = defineScript(r, "tessengerClaim", CLAIM);
    this.#release = defineScript(r, "tessengerRelease", RELEASE);
    this.#lookup = defineScript(r, "tessengerLookup", LOOKUP);
    this.#list = defineScript(r, "tessengerList", LIST);
    this.#setAway = defineScript(r, "tessengerSetAway", SET_AWAY);
    node.onRebuild(() => this.#reclaim());
    node.onBeat(() => this.#retryReleases());
  }

  /** Called with a user of this node who was claimed on another node while Redis had lost them. */
  onLost(fn: (user: string) => void): void {
    this.#lost = fn;
  }

  /** Claims `entry` for this node (its `node` field is set to this node's name). */
  async claim(entry: PresenceEntry): Promise<boolean> {
    const mine: PresenceEntry = { ...entry, node: this.#node.name };
    const { away, ...stored } = mine;
    let ok: boolean;
    try {
      ok = await this.#claim(
        this.#node.prefix,
        mine.user,
        mine.node,
        mine.since,
        JSON.stringify(stored),
        "claim",
        ...(away === undefined ? [] : [away]),
      ) === 1;
    } catch (e) {
      // The claim may have been made before the connection dropped: undo it later.
      this.#unreleased.set(mine.user, mine.since);
      throw e;
    }
    if (ok) this.#mine.set(mine.user, mine);
    return ok;
  }

  /**
   * Releases the user. When Redis cannot be reached, the release is kept and
   * made at the next heartbeat: a user who logged out must not stay online.
   */
  async release(user: string, since: number): Promise<void> {
    if (this.#mine.get(user)?.since === since) this.#mine.delete(user);
    try {
      await this.#release(this.#node.prefix, user, this.#node.name, since);
    } catch (e) {
      this.#unreleased.set(user, since);
      throw e;
    }
  }

  /** Makes the releases that failed. */
  async #retryReleases(): Promise<void> {
    for (const [user, since] of [...this.#unreleased]) {
      await this.#release(this.#node.prefix, user, this.#node.name, since);
      if (this.#unreleased.get(user) === since) this.#unreleased.delete(user);
    }
  }

  async lookup(user: string): Promise<PresenceEntry | undefined> {
    return entries(await this.#lookup(this.#node.prefix, user) as string[])[0];
  }

  async list(): Promise<PresenceEntry[]> {
    return entries(await this.#list(this.#node.prefix) as string[]);
  }

  async setAway(user: string, text: string | undefined): Promise<void> {
    const mine = this.#mine.get(user);
    if (mine) {
      if (text === undefined) delete mine.away;
      else mine.away = text;
    }
    await this.#setAway(this.#node.prefix, user, text ?? "");
  }

  /** The users this node holds (what it claimed and has not released). */
  get local(): ReadonlyMap<string, PresenceEntry> {
    return this.#mine;
  }

  /** Claims this node's users again, after Redis lost them. */
  async #reclaim(): Promise<void> {
    for (const entry of [...this.#mine.values()]) {
      const { away, ...stored } = entry;
      const ok = await this.#claim(
        this.#node.prefix,
        entry.user,
        entry.node,
        entry.since,
        JSON.stringify(stored),
        "reclaim",
        ...(away === undefined ? [] : [away]),
      ) === 1;
      if (this.#mine.get(entry.user) !== entry) {
        // Released while this ran: make sure the claim just made is undone.
        if (ok) await this.#release(this.#node.prefix, entry.user, entry.node, entry.since);
      } else if (!ok) {
        this.#mine.delete(entry.user);
        this.#lost(entry.user);
      }
    }
  }
}

/**
 * A node's membership of the cluster in Redis: its name, held by a heartbeat
 * key that expires when the node stops refreshing it (killed, hung, cut off),
 * and the reaping of nodes whose heartbeat expired, so that their users are
 * offline everywhere within the heartbeat's time to live.
 *
 * Keys (after the cluster's prefix, see `redis.ts`):
 * - `alive:NODE` — the running instance's id, with a TTL; refreshed every
 *   {@link ClusterNodeOptions.heartbeatMs}.
 * - `nodes` — every node name that may hold users (a set).
 * - `users:NODE` — the users a node holds (a set), for the reaper.
 * - `on:USER` — where a user is online (a hash, see `directory.ts`).
 *
 * When a heartbeat finds its key gone (Redis restarted empty, or the node was
 * out of reach for longer than the TTL and got reaped), the node rebuilds:
 * it claims its sessions again ({@link ClusterNode.onRebuild}).
 *
 * @module
 */

import { randomBytes } from "node:crypto";
import { defineScript, type Redis, type Script } from "./redis.ts";

/** Settings of a {@link ClusterNode}. */
export interface ClusterNodeOptions {
  /** How often the heartbeat is refreshed. Default 3000 ms. */
  heartbeatMs?: number;
  /** How long a heartbeat lives: a node silent this long is dead. Default 15000 ms. */
  ttlMs?: number;
}

export const DEFAULT_HEARTBEAT_MS = 3000;
export const DEFAULT_TTL_MS = 15000;

/** Refreshes the heartbeat; says whether it was still ours. */
const HEARTBEAT = `
local key, id, ttl = ARGV[1] .. 'alive:' .. ARGV[2], ARGV[3], ARGV[4]
local old = redis.call('GET', key)
if old and old ~= id then return 'taken' end
redis.call('SET', key, id, 'PX', ttl)
redis.call('SADD', ARGV[1] .. 'nodes', ARGV[2])
if old then return 'ok' end
return 'lost'`;

/** Takes a node name unless a live instance holds it. */
const TAKE_NAME = `
local key = ARGV[1] .. 'alive:' .. ARGV[2]
local ok = redis.call('SET', key, ARGV[3], 'NX', 'PX', ARGV[4])
if not ok then return redis.call('GET', key) end
redis.call('SADD', ARGV[1] .. 'nodes', ARGV[2])
return false`;

/**
 * Takes the users of dead nodes offline (and, with ARGV[2], those of one
 * named node, alive or not: a node that starts or stops clears its own).
 * Returns the users taken offline.
 */
const REAP = `
local p = ARGV[1]
local gone = {}
local function reap(node)
  for _, u in ipairs(redis.call('SMEMBERS', p .. 'users:' .. node)) do
    if redis.call('HGET', p .. 'on:' .. u, 'node') == node then
      redis.call('DEL', p .. 'on:' .. u)
      redis.call('ZREM', p .. 'order', u)
      gone[#gone + 1] = u
    end
  end
  redis.call('DEL', p .. 'users:' .. node)
end
if ARGV[2] then
  reap(ARGV[2])
else
  for _, node in ipairs(redis.call('SMEMBERS', p .. 'nodes')) do
    if redis.call('EXISTS', p .. 'alive:' .. node) == 0 then
      reap(node)
      redis.call('SREM', p .. 'nodes', node)
    end
  end
end
return gone`;

/** Removes this instance's heartbeat, if it is still its own. */
const DROP_NAME = `
local key = ARGV[1] .. 'alive:' .. ARGV[2]
if redis.call('GET', key) == ARGV[3] then redis.call('DEL', key) end
redis.call('SREM', ARGV[1] .. 'nodes', ARGV[2])
return 1`;

/** One node's place in the cluster. */
export class ClusterNode {
  readonly name: string;
  /** This process's id: tells a restarted node from its previous life. */
  readonly instance = randomBytes(8).toString("hex");
  readonly prefix: string;
  readonly redis: Redis;
  readonly heartbeatMs: number;
  readonly ttlMs: number;
  readonly #heartbeat: Script;
  readonly #takeName: Script;
  readonly #reap: Script;
  readonly #dropName: Script;
  #timer: ReturnType<typeof setInterval> | undefined;
  #beating: Promise<void> | undefined;
  readonly #rebuilders: (() => Promise<void>)[] = [];
  readonly #beaters: (() => Promise<void>)[] = [];
  readonly #reapedListeners: ((users: string[]) => void)[] = [];
  #onError: (e: unknown) => void = () => {};

  constructor(redis: Redis, prefix: string, name: string, options: ClusterNodeOptions = {}) {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) {
      throw new Error(`Invalid node name ${JSON.stringify(name)}: 1-64 letters, digits, _ . -`);
    }
    this.redis = redis;
    this.prefix = prefix;
    this.name = name;
    this.heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    this.ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
    if (this.ttlMs < 2 * this.heartbeatMs) {
      throw new Error("The heartbeat's time to live must be at least two heartbeats");
    }
    this.#heartbeat = defineScript(redis, "tessengerHeartbeat", HEARTBEAT);
    this.#takeName = defineScript(redis, "tessengerTakeName", TAKE_NAME);
    this.#reap = defineScript(redis, "tessengerReap", REAP);
    this.#dropName = defineScript(redis, "tessengerDropName", DROP_NAME);
  }

  /** Runs after the node's heartbeat was lost and retaken: claim the sessions again. */
  onRebuild(fn: () => Promise<void>): void {
    this.#rebuilders.push(fn);
  }

  /** Runs after every heartbeat that reached Redis. */
  onBeat(fn: () => Promise<void>): void {
    this.#beaters.push(fn);
  }

  /** Called with the users of dead nodes that this node took offline. */
  onReaped(fn: (users: string[]) => void): void {
    this.#reapedListeners.push(fn);
  }

  /** Where heartbeat failures go (Redis out of reach: the heartbeat keeps trying). */
  onError(fn: (e: unknown) => void): void {
    this.#onError = fn;
  }

  /**
   * Takes the node's name and starts the heartbeat. A name still held by a
   * previous instance (a node killed and started again) is waited for until
   * its heartbeat expires.
   *
   * @throws {Error} when a live node holds the name.
   */
  async join(): Promise<void> {
    const deadline = Date.now() + this.ttlMs + this.heartbeatMs;
    let holder: unknown;
    for (;;) {
      holder = await this.#takeName(this.prefix, this.name, this.instance, this.ttlMs);
      if (holder === null) break;
      if (Date.now() > deadline) {
        throw new Error(
          `Cannot join the cluster: the node name ${this.name} is in use by a running node`,
        );
      }
      await new Promise((r) => setTimeout(r, Math.min(500, this.heartbeatMs)));
    }
    // Users a previous life of this node left behind are offline.
    await this.#reap(this.prefix, this.name);
    this.#timer = setInterval(() => void this.beat(), this.heartbeatMs);
    this.redis.on("ready", this.#onReady);
  }

  readonly #onReady = () => void this.beat();

  /** Refreshes the heartbeat now, reaps dead nodes, and rebuilds if the heartbeat was lost. */
  beat(): Promise<void> {
    this.#beating ??= this.#beat().finally(() => this.#beating = undefined);
    return this.#beating;
  }

  async #beat(): Promise<void> {
    try {
      const state = await this.#heartbeat(this.prefix, this.name, this.instance, this.ttlMs);
      if (state === "taken") {
        throw new Error(`Another running node took the name ${this.name}: check --node-name`);
      }
      if (state === "lost") {
        for (const rebuild of this.#rebuilders) await rebuild();
      }
      const gone = await this.#reap(this.prefix) as string[];
      if (gone.length > 0) { for (const fn of this.#reapedListeners) fn(gone); }
      for (const fn of this.#beaters) await fn();
    } catch (e) {
      this.#onError(e);
    }
  }

  /** Stops the heartbeat and takes this node's users offline at once. */
  async leave(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.redis.off("ready", this.#onReady);
    await this.#beating;
    try {
      await this.#reap(this.prefix, this.name);
      await this.#dropName(this.prefix, this.name, this.instance);
    } catch {
      // Redis out of reach: the heartbeat expires by itself
    }
  }
}

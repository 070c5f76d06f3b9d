/**
 * {@link Throttle} in Redis, the same for every node: each decision is one
 * Lua script, atomic across the cluster, so at most `maxAttempts` passwords
 * of a username are checked per block window however many nodes check them
 * at once.
 *
 * Keys (after the cluster's prefix):
 * - `tu:USER` — a hash: `f` consecutive failures, `b` end of the block (ms).
 * - `tr:USER` — the reservations in flight, a sorted set scored by expiry: a
 *   node that dies mid-check gives its reservation back when it expires.
 * - `ta:IP` — a hash: `f` failures in the window that started at `w`, `b`
 *   end of the address's limit.
 *
 * Times come from the node's clock (ARGV), so that tests can drive them; the
 * nodes' clocks should agree to well under the block time (NTP).
 *
 * @module
 */

import type { Clock } from "../../shared/time.ts";
import type { LoginVerdict, Reservation, Throttle } from "../ports.ts";
import { defineScript, type Redis, type Script } from "./redis.ts";

/** Settings of a {@link RedisThrottle}. */
export interface ThrottleOptions {
  /** Failures in a row that block a username (SPEC §2: 1–5). */
  maxAttempts: number;
  /** How long a block lasts, from the failure that caused it. */
  blockMs: number;
  /** Failures (bad passwords, unknown usernames) from one address that limit it. */
  addressMaxFailures: number;
  /** The window those are counted in, and how long the limit then lasts. */
  addressWindowMs: number;
  clock: Clock;
}

/** How long a reservation holds when its check never settles (the node died). */
const RESERVATION_TTL_MS = 60_000;
/** How long a failure count is kept without a new failure. */
const FAILURE_TTL_MS = 24 * 3600_000;

/** Shared by the scripts: the address's state, its window restarted when over. */
const ADDRESS = `
local function addressState(akey, now, window)
  local a = redis.call('HMGET', akey, 'f', 'w', 'b')
  local f, w, b = tonumber(a[1]) or 0, tonumber(a[2]) or now, tonumber(a[3]) or 0
  if now - w >= window then f, w = 0, now end
  return f, w, b
end`;

/**
 * ARGV: prefix, user, ip, now, max, reservation id. Returns
 * {kind, retryAfterMs}: kind 'go', 'blocked', 'wait' or 'address'.
 */
const RESERVE = `
local p, user, ip, now, max = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local ab = tonumber(redis.call('HGET', p .. 'ta:' .. ip, 'b')) or 0
if ab > now then return {'address', ab - now} end
local ukey, rkey = p .. 'tu:' .. user, p .. 'tr:' .. user
local u = redis.call('HMGET', ukey, 'f', 'b')
local f, b = tonumber(u[1]) or 0, tonumber(u[2]) or 0
if b > now then return {'blocked', b - now} end
if b > 0 then
  redis.call('DEL', ukey)
  f = 0
end
redis.call('ZREMRANGEBYSCORE', rkey, '-inf', now)
if f + redis.call('ZCARD', rkey) >= max then return {'wait', 0} end
redis.call('ZADD', rkey, now + ${RESERVATION_TTL_MS}, ARGV[6])
redis.call('PEXPIRE', rkey, ${RESERVATION_TTL_MS})
return {'go', 0}`;

/**
 * ARGV: prefix, user, ip, now, max, blockMs, outcome, addrMax, addrWindow.
 * Gives one reservation back and counts the outcome; returns the verdict.
 */
const SETTLE = `
local p, user, ip, now, max = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local blockMs, outcome = tonumber(ARGV[6]), ARGV[7]
${ADDRESS}
local ukey, rkey = p .. 'tu:' .. user, p .. 'tr:' .. user
redis.call('ZPOPMIN', rkey)
if outcome == 'ok' then
  redis.call('DEL', ukey)
  return 'ok'
end
if outcome ~= 'failed' then return 'failed' end
local akey = p .. 'ta:' .. ip
local af, aw, ab = addressState(akey, now, tonumber(ARGV[9]))
af = af + 1
if af >= tonumber(ARGV[8]) then ab = now + tonumber(ARGV[9]) end
redis.call('HSET', akey, 'f', af, 'w', aw, 'b', ab)
redis.call('PEXPIRE', akey, 2 * tonumber(ARGV[9]))
local f = redis.call('HINCRBY', ukey, 'f', 1)
if f >= max then
  redis.call('HSET', ukey, 'b', now + blockMs)
  redis.call('PEXPIRE', ukey, blockMs + ${FAILURE_TTL_MS})
  return 'now_blocked'
end
redis.call('PEXPIRE', ukey, ${FAILURE_TTL_MS})
return 'failed'`;

/** ARGV: prefix, ip, now, addrMax, addrWindow. Counts a failure against the address. */
const ADDRESS_FAILURE = `
local p, ip, now, window = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[5])
${ADDRESS}
local akey = p .. 'ta:' .. ip
local af, aw, ab = addressState(akey, now, window)
af = af + 1
if af >= tonumber(ARGV[4]) then ab = now + window end
redis.call('HSET', akey, 'f', af, 'w', aw, 'b', ab)
redis.call('PEXPIRE', akey, 2 * window)
return af`;

/** ARGV: prefix, user, now. Milliseconds left of the user's block. */
const BLOCKED_FOR = `
local b = tonumber(redis.call('HGET', ARGV[1] .. 'tu:' .. ARGV[2], 'b')) or 0
local now = tonumber(ARGV[3])
if b > now then return b - now end
return 0`;

/** ARGV: prefix, ip, now. Milliseconds left of the address's limit. */
const ADDRESS_BLOCKED_FOR = `
local b = tonumber(redis.call('HGET', ARGV[1] .. 'ta:' .. ARGV[2], 'b')) or 0
local now = tonumber(ARGV[3])
if b > now then return b - now end
return 0`;

/** The cluster's {@link Throttle}. */
export class RedisThrottle implements Throttle {
  readonly #prefix: string;
  readonly #options: ThrottleOptions;
  readonly #reserve: Script;
  readonly #settle: Script;
  readonly #addressFailure: Script;
  readonly #blockedFor: Script;
  readonly #addressBlockedFor: Script;
  #nextId = 0;
  readonly #idPrefix = crypto.randomUUID();

  constructor(redis: Redis, prefix: string, options: ThrottleOptions) {
    this.#prefix = prefix;
    this.#options = options;
    this.#reserve = defineScript(redis, "tessengerReserve", RESERVE);
    this.#settle = defineScript(redis, "tessengerSettle", SETTLE);
    this.#addressFailure = defineScript(redis, "tessengerAddressFailure", ADDRESS_FAILURE);
    this.#blockedFor = defineScript(redis, "tessengerBlockedFor", BLOCKED_FOR);
    this.#addressBlockedFor = defineScript(
      redis,
      "tessengerAddressBlockedFor",
      ADDRESS_BLOCKED_FOR,
    );
  }

  async blockedFor(user: string): Promise<number> {
    return await this.#blockedFor(this.#prefix, user, this.#options.clock()) as number;
  }

  async reserve(user: string, ip: string): Promise<Reservation> {
    const [kind, retryAfterMs] = await this.#reserve(
      this.#prefix,
      user,
      ip,
      this.#options.clock(),
      this.#options.maxAttempts,
      `${this.#idPrefix}:${this.#nextId++}`,
    ) as [string, number];
    switch (kind) {
      case "go":
        return { kind: "go" };
      case "wait":
        return { kind: "wait" };
      case "blocked":
        return { kind: "blocked", retryAfterMs };
      default:
        return { kind: "address_limited", retryAfterMs };
    }
  }

  async settle(
    user: string,
    ip: string,
    outcome: "ok" | "failed" | "unchecked",
  ): Promise<LoginVerdict> {
    const o = this.#options;
    return await this.#settle(
      this.#prefix,
      user,
      ip,
      o.clock(),
      o.maxAttempts,
      o.blockMs,
      outcome,
      o.addressMaxFailures,
      o.addressWindowMs,
    ) as LoginVerdict;
  }

  async unknownUser(ip: string): Promise<void> {
    const o = this.#options;
    await this.#addressFailure(
      this.#prefix,
      ip,
      o.clock(),
      o.addressMaxFailures,
      o.addressWindowMs,
    );
  }

  async addressBlockedFor(ip: string): Promise<number> {
    return await this.#addressBlockedFor(this.#prefix, ip, this.#options.clock()) as number;
  }
}

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
 * - `ta:IP` — the address's failure budget, a token bucket as the embedded
 *   throttle keeps it: `t` failures it may still make, as of time `l`.
 *
 * Times come from the node's clock (ARGV), so that tests can drive them; the
 * nodes' clocks should agree to well under the block time (NTP).
 *
 * @module
 */

import {
  DEFAULT_ADDRESS_FAILURE_BURST,
  DEFAULT_ADDRESS_FAILURES_PER_MINUTE,
  type LocalThrottleOptions,
} from "../local/throttle.ts";
import type { LoginVerdict, Reservation, Throttle } from "../ports.ts";
import { defineScript, type Redis, type Script } from "./redis.ts";

/** Settings of a {@link RedisThrottle}: those of `LocalThrottle`, the embedded one. */
export type ThrottleOptions = LocalThrottleOptions;

/** How long a reservation holds when its check never settles (the node died). */
const RESERVATION_TTL_MS = 60_000;
/** How long a failure count is kept without a new failure. */
const FAILURE_TTL_MS = 24 * 3600_000;

/**
 * Shared by the scripts: the address's token bucket (failures it may still
 * make), refilled to `now`; ARGV[4] is now, ARGV[5] the burst, ARGV[6] the
 * failures earned back per minute.
 */
const BUCKET = `
local now, burst, perMinute = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local akey = ARGV[1] .. 'ta:' .. ARGV[3]
local function tokens()
  local a = redis.call('HMGET', akey, 't', 'l')
  local t, l = tonumber(a[1]), tonumber(a[2])
  if t == nil then return burst end
  return math.min(burst, t + (now - l) * perMinute / 60000)
end
local function addressBlockedFor()
  if burst == 0 then return 0 end
  local t = tokens()
  if t >= 1 then return 0 end
  return math.ceil((1 - t) * 60000 / perMinute)
end
local function addressFailure()
  if burst == 0 then return end
  redis.call('HSET', akey, 't', tostring(math.max(0, tokens() - 1)), 'l', now)
  redis.call('PEXPIRE', akey, math.ceil(burst / perMinute * 60000) + 60000)
end`;

/**
 * ARGV: prefix, user, ip, now, burst, perMinute, max, reservation id.
 * Returns {kind, retryAfterMs}: kind 'go', 'blocked', 'wait' or 'address'.
 */
const RESERVE = `
${BUCKET}
local limited = addressBlockedFor()
if limited > 0 then return {'address', limited} end
local ukey, rkey = ARGV[1] .. 'tu:' .. ARGV[2], ARGV[1] .. 'tr:' .. ARGV[2]
local u = redis.call('HMGET', ukey, 'f', 'b')
local f, b = tonumber(u[1]) or 0, tonumber(u[2]) or 0
if b > now then return {'blocked', b - now} end
if b > 0 then
  redis.call('DEL', ukey)
  f = 0
end
redis.call('ZREMRANGEBYSCORE', rkey, '-inf', now)
if f + redis.call('ZCARD', rkey) >= tonumber(ARGV[7]) then return {'wait', 0} end
redis.call('ZADD', rkey, now + ${RESERVATION_TTL_MS}, ARGV[8])
redis.call('PEXPIRE', rkey, ${RESERVATION_TTL_MS})
return {'go', 0}`;

/**
 * ARGV: prefix, user, ip, now, burst, perMinute, max, blockMs, outcome.
 * Gives one reservation back and counts the outcome; returns the verdict.
 */
const SETTLE = `
${BUCKET}
local ukey, rkey = ARGV[1] .. 'tu:' .. ARGV[2], ARGV[1] .. 'tr:' .. ARGV[2]
redis.call('ZPOPMIN', rkey)
local outcome = ARGV[9]
if outcome == 'ok' then
  redis.call('DEL', ukey)
  return 'ok'
end
if outcome ~= 'failed' then return 'failed' end
addressFailure()
local f = redis.call('HINCRBY', ukey, 'f', 1)
if f >= tonumber(ARGV[7]) then
  local blockMs = tonumber(ARGV[8])
  redis.call('HSET', ukey, 'b', now + blockMs)
  redis.call('PEXPIRE', ukey, blockMs + ${FAILURE_TTL_MS})
  return 'now_blocked'
end
redis.call('PEXPIRE', ukey, ${FAILURE_TTL_MS})
return 'failed'`;

/** ARGV: prefix, -, ip, now, burst, perMinute. Counts a failure against the address. */
const ADDRESS_FAILURE = `
${BUCKET}
addressFailure()
return 1`;

/** ARGV: prefix, -, ip, now, burst, perMinute. Milliseconds left of the address's limit. */
const ADDRESS_BLOCKED_FOR = `
${BUCKET}
return addressBlockedFor()`;

/** ARGV: prefix, user, now. Milliseconds left of the user's block. */
const BLOCKED_FOR = `
local b = tonumber(redis.call('HGET', ARGV[1] .. 'tu:' .. ARGV[2], 'b')) or 0
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

  /** The arguments every address-aware script starts with. */
  #args(user: string, ip: string): (string | number)[] {
    const o = this.#options;
    return [
      this.#prefix,
      user,
      ip,
      o.clock(),
      o.addressFailureBurst ?? DEFAULT_ADDRESS_FAILURE_BURST,
      o.addressFailuresPerMinute ?? DEFAULT_ADDRESS_FAILURES_PER_MINUTE,
    ];
  }

  async blockedFor(user: string): Promise<number> {
    return await this.#blockedFor(this.#prefix, user, this.#options.clock()) as number;
  }

  async reserve(user: string, ip: string): Promise<Reservation> {
    const [kind, retryAfterMs] = await this.#reserve(
      ...this.#args(user, ip),
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
    return await this.#settle(
      ...this.#args(user, ip),
      this.#options.maxAttempts,
      this.#options.blockMs,
      outcome,
    ) as LoginVerdict;
  }

  async unknownUser(ip: string): Promise<void> {
    await this.#addressFailure(...this.#args("", ip));
  }

  async addressBlockedFor(ip: string): Promise<number> {
    return await this.#addressBlockedFor(...this.#args("", ip)) as number;
  }
}

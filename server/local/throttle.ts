/**
 * The in-process {@link Throttle}: consecutive login failures per username
 * (SPEC §2: not per connection or IP) with blocks, reservations so that
 * parallel logins cannot check more passwords than the limit, and a failure
 * budget per address (see docs/security.md § Login throttling).
 *
 * @module
 */

import type { Clock } from "../../shared/time.ts";
import type { LoginVerdict, Reservation, Throttle } from "../ports.ts";

/** Failed logins (bad passwords and unknown usernames) one address may make at once. */
export const DEFAULT_ADDRESS_FAILURE_BURST = 30;
/** Failures an address earns back per minute. */
export const DEFAULT_ADDRESS_FAILURES_PER_MINUTE = 3;

/** Addresses with failures remembered at most; the oldest is forgotten beyond this. */
const MAX_ADDRESSES = 100_000;

/** Settings of a {@link LocalThrottle}. */
export interface LocalThrottleOptions {
  /** Failures in a row that block the username (1–5). */
  maxAttempts: number;
  /** How long a block lasts, from the failure that caused it. */
  blockMs: number;
  clock: Clock;
  /** Failures one address may make at once; 0 turns the address budget off. Default 30. */
  addressFailureBurst?: number;
  /** Failures an address earns back per minute. Default 3. */
  addressFailuresPerMinute?: number;
}

interface UserRecord {
  failures: number;
  blockedUntil: number;
  /** Password checks reserved and not yet settled. */
  inFlight: number;
}

interface AddressRecord {
  /** Failures the address may still make (a token bucket). */
  tokens: number;
  last: number;
}

/** Consecutive-failure counter, block list and reservations, keyed by username. */
export class LocalThrottle implements Throttle {
  readonly #users = new Map<string, UserRecord>();
  readonly #addresses = new Map<string, AddressRecord>();
  readonly #maxAttempts: number;
  readonly #blockMs: number;
  readonly #clock: Clock;
  readonly #burst: number;
  readonly #perMinute: number;

  constructor(options: LocalThrottleOptions) {
    this.#maxAttempts = options.maxAttempts;
    this.#blockMs = options.blockMs;
    this.#clock = options.clock;
    this.#burst = options.addressFailureBurst ?? DEFAULT_ADDRESS_FAILURE_BURST;
    this.#perMinute = options.addressFailuresPerMinute ?? DEFAULT_ADDRESS_FAILURES_PER_MINUTE;
  }

  /** The user's record with an expired block forgotten (and the count reset). */
  #user(user: string): UserRecord | undefined {
    const r = this.#users.get(user);
    if (r && r.blockedUntil !== 0 && this.#clock() >= r.blockedUntil) {
      r.blockedUntil = 0;
      r.failures = 0;
      if (r.inFlight === 0) this.#users.delete(user);
    }
    return r;
  }

  blockedFor(user: string): Promise<number> {
    return Promise.resolve(this.#blockedFor(user));
  }

  #blockedFor(user: string): number {
    const r = this.#user(user);
    return r && r.blockedUntil !== 0 ? r.blockedUntil - this.#clock() : 0;
  }

  reserve(user: string, ip: string): Promise<Reservation> {
    const limited = this.#addressBlockedFor(ip);
    if (limited > 0) return Promise.resolve({ kind: "address_limited", retryAfterMs: limited });
    const blocked = this.#blockedFor(user);
    if (blocked > 0) return Promise.resolve({ kind: "blocked", retryAfterMs: blocked });
    let r = this.#users.get(user);
    if (r === undefined) this.#users.set(user, r = { failures: 0, blockedUntil: 0, inFlight: 0 });
    if (r.failures + r.inFlight >= this.#maxAttempts) return Promise.resolve({ kind: "wait" });
    r.inFlight++;
    return Promise.resolve({ kind: "go" });
  }

  settle(user: string, ip: string, outcome: "ok" | "failed" | "unchecked"): Promise<LoginVerdict> {
    const r = this.#users.get(user);
    if (r === undefined || r.inFlight === 0) {
      return Promise.reject(new Error(`Cannot settle a login of ${user}: nothing was reserved`));
    }
    r.inFlight--;
    let verdict: LoginVerdict = "failed";
    if (outcome === "ok") {
      r.failures = 0;
      verdict = "ok";
    } else if (outcome === "failed") {
      this.#addressFailure(ip);
      r.failures++;
      if (r.failures >= this.#maxAttempts) {
        r.blockedUntil = this.#clock() + this.#blockMs;
        verdict = "now_blocked";
      }
    }
    if (r.failures === 0 && r.inFlight === 0 && r.blockedUntil === 0) this.#users.delete(user);
    return Promise.resolve(verdict);
  }

  unknownUser(ip: string): Promise<void> {
    this.#addressFailure(ip);
    return Promise.resolve();
  }

  addressBlockedFor(ip: string): Promise<number> {
    return Promise.resolve(this.#addressBlockedFor(ip));
  }

  /** The address's bucket, refilled to now. */
  #address(ip: string): AddressRecord | undefined {
    const a = this.#addresses.get(ip);
    if (a === undefined) return undefined;
    const now = this.#clock();
    a.tokens = Math.min(this.#burst, a.tokens + (now - a.last) * this.#perMinute / 60_000);
    a.last = now;
    if (a.tokens >= this.#burst) {
      this.#addresses.delete(ip);
      return undefined;
    }
    return a;
  }

  #addressBlockedFor(ip: string): number {
    if (this.#burst === 0) return 0;
    const a = this.#address(ip);
    if (a === undefined || a.tokens >= 1) return 0;
    return Math.ceil((1 - a.tokens) * 60_000 / this.#perMinute);
  }

  #addressFailure(ip: string): void {
    if (this.#burst === 0) return;
    const a = this.#address(ip) ?? { tokens: this.#burst, last: this.#clock() };
    a.tokens = Math.max(0, a.tokens - 1);
    this.#addresses.set(ip, a);
    if (this.#addresses.size > MAX_ADDRESSES) {
      this.#addresses.delete(this.#addresses.keys().next().value!);
    }
  }
}

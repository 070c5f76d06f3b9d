/**
 * Counts consecutive login failures per username (not per connection or IP)
 * and blocks a username for a while once it reaches the limit (SPEC §2).
 *
 * @module
 */

import type { Clock } from "../shared/time.ts";

/** Settings of a {@link LoginThrottle}. */
export interface LoginThrottleOptions {
  /** Failures in a row that block the username (1–5). */
  maxAttempts: number;
  /** How long a block lasts, from the failure that caused it. */
  blockMs: number;
  clock: Clock;
}

interface FailureRecord {
  failures: number;
  blockedUntil: number;
}

/** Consecutive-failure counter and block list, keyed by username. */
export class LoginThrottle {
  readonly #records = new Map<string, FailureRecord>();
  readonly #options: LoginThrottleOptions;

  constructor(options: LoginThrottleOptions) {
    this.#options = options;
  }

  /** True while `user` is blocked. An expired block is forgotten (and the count reset). */
  isBlocked(user: string): boolean {
    const r = this.#records.get(user);
    if (!r || r.blockedUntil === 0) return false;
    if (this.#options.clock() < r.blockedUntil) return true;
    this.#records.delete(user);
    return false;
  }

  /**
   * Records a failed password.
   *
   * @returns true when this failure blocked the user.
   */
  recordFailure(user: string): boolean {
    const r = this.#records.get(user) ?? { failures: 0, blockedUntil: 0 };
    r.failures++;
    this.#records.set(user, r);
    if (r.failures >= this.#options.maxAttempts) {
      r.blockedUntil = this.#options.clock() + this.#options.blockMs;
      return true;
    }
    return false;
  }

  /** A successful login resets the count. */
  recordSuccess(user: string): void {
    this.#records.delete(user);
  }
}

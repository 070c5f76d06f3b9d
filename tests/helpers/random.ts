/**
 * The seeded PRNG every test uses, so runs are repeatable and a failure can be
 * replayed from its seed.
 *
 * @module
 */

import { mulberry32 } from "../../shared/random.ts";

export { mulberry32 };

/** {@link mulberry32} with helpers for integers, choices and bytes. */
export class Random {
  readonly #next: () => number;

  constructor(seed: number) {
    this.#next = mulberry32(seed);
  }

  /** A float in [0, 1). */
  next(): number {
    return this.#next();
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** One element of `xs`. */
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }

  /** `n` random bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
}

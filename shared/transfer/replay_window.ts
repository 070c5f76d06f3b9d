/**
 * Anti-replay window over packet numbers (the IPsec/DTLS sliding bitmap): a packet
 * number is fresh if it is above the highest seen, or within the window below it and
 * not seen yet. Check before authenticating, mark after, so forged packets cannot
 * move the window.
 *
 * @module
 */

import { PACKET_WINDOW } from "./constants.ts";

/** Sliding bitmap of the last PACKET_WINDOW packet numbers. */
export class ReplayWindow {
  readonly #size: number;
  readonly #bits: Uint32Array;
  #highest = -1;

  /** @param size window size in packets, a multiple of 32 (default PACKET_WINDOW). */
  constructor(size: number = PACKET_WINDOW) {
    this.#size = size;
    this.#bits = new Uint32Array(size / 32);
  }

  /** Whether `pn` would be accepted: not seen and not older than the window. */
  isFresh(pn: number): boolean {
    if (pn > this.#highest) return true;
    if (pn <= this.#highest - this.#size) return false;
    const slot = pn % this.#size;
    return (this.#bits[slot >>> 5] & (1 << (slot & 31))) === 0;
  }

  /** Records `pn` as seen; call only after it authenticated. */
  mark(pn: number): void {
    if (pn > this.#highest) {
      // Clear the slots between the old highest and pn: they now stand for new numbers.
      const gap = pn - this.#highest;
      if (gap >= this.#size) {
        this.#bits.fill(0);
      } else {
        for (let p = this.#highest + 1; p < pn; p++) {
          const s = p % this.#size;
          this.#bits[s >>> 5] &= ~(1 << (s & 31));
        }
      }
      this.#highest = pn;
    }
    const slot = pn % this.#size;
    this.#bits[slot >>> 5] |= 1 << (slot & 31);
  }

  /** Highest packet number marked, or -1. */
  get highest(): number {
    return this.#highest;
  }
}

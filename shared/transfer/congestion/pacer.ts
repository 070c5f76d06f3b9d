/**
 * The sender's pacer: a token bucket refilled at the controller's pacing rate, so a window
 * is spread over the round trip instead of leaving in bursts that overflow a bottleneck's
 * queue or the peer's socket buffer. The bucket holds a few packets, or as much sending
 * time as the driver's wake-ups come late (a coarse or busy timer must not cap the rate at
 * one bucket per wake-up).
 *
 * @module
 */

import { PACING_BURST_PACKETS, TIMER_GRANULARITY_MS } from "../constants.ts";

const PACING_SLACK_BYTES = 1;
/** Lateness samples are clamped to this (ms): a stall is not a timer property. */
const MAX_PACING_LATENESS_MS = 8;
/** The lateness estimate is a decaying maximum: each sample keeps this much of the old one. */
const PACING_LATENESS_DECAY = 0.97;
const MIN_PACING_STEP_MS = 0.001;

/** Token-bucket pacer; rates are in bytes per millisecond. */
export class Pacer {
  readonly #packetSize: number;
  readonly #quantum: number;
  #tokens: number;
  #last = -Infinity;
  /** Smoothed lateness of the driver's wake-ups after a pacing wait (ms). */
  #lateness = 0;

  /**
   * @param packetSize size of a full datagram (bytes).
   * @param quantumMs the driver's timer granularity: a burst covers at least this much time.
   */
  constructor(packetSize: number, quantumMs: number = TIMER_GRANULARITY_MS) {
    this.#packetSize = packetSize;
    this.#quantum = Math.max(TIMER_GRANULARITY_MS, quantumMs);
    this.#tokens = PACING_BURST_PACKETS * packetSize;
  }

  /** Smoothed lateness of wake-ups after a pacing wait (ms). */
  get lateness(): number {
    return this.#lateness;
  }

  /**
   * The machine asked to be woken at `requested` to pace and was next run at `actual`.
   * A coarse or busy timer makes the gaps between sending opportunities longer than
   * asked; the bucket then holds that much sending time, or the rate would be capped at
   * one bucket per (late) wake-up.
   */
  onWake(requested: number, actual: number): void {
    const late = Math.min(Math.max(actual - requested, 0), MAX_PACING_LATENESS_MS);
    this.#lateness = Math.max(late, this.#lateness * PACING_LATENESS_DECAY);
  }

  /** Bucket size: a few packets, or one (late) timer tick's worth at the current rate. */
  #capacity(rate: number): number {
    const span = Math.max(this.#quantum, this.#lateness);
    return Math.max(PACING_BURST_PACKETS * this.#packetSize, rate * span);
  }
  #refill(now: number, rate: number): void {
    if (now > this.#last) {
      const capacity = this.#capacity(rate);
      this.#tokens = Math.min(capacity, this.#tokens + (now - this.#last) * rate);
      this.#last = now;
    }
  }

  /** Time at or after `now` when `size` bytes may leave. */
  nextSendTime(now: number, size: number, rate: number): number {
    this.#refill(now, rate);
    // Sub-byte shortfalls are float noise: without the slack the deadline could stall.
    if (this.#tokens >= size - PACING_SLACK_BYTES) return now;
    return now + Math.max((size - this.#tokens) / rate, MIN_PACING_STEP_MS);
  }

  /** Spends tokens for a packet sent at `now`. */
  onSend(now: number, size: number, rate: number): void {
    this.#refill(now, rate);
    this.#tokens -= size;
  }
}

/**
 * Round-trip time estimation (RFC 6298) with the ack-delay correction of RFC 9002 §5.3.
 * Packet numbers are never reused, so every sample is unambiguous (no Karn rule needed).
 *
 * @module
 */

import {
  INITIAL_RTO_MS,
  INITIAL_RTT_MS,
  MAX_RTO_MS,
  MIN_RTO_MS,
  TIMER_GRANULARITY_MS,
} from "./constants.ts";

/** SRTT / RTTVAR / RTO in milliseconds. */
export class RttEstimator {
  /** Smoothed RTT; INITIAL_RTT_MS until the first sample. */
  smoothed = INITIAL_RTT_MS;
  /** RTT variation. */
  variance = INITIAL_RTT_MS / 2;
  /** Most recent sample. */
  latest = 0;
  /** Most recent sample less the peer's ACK delay (when that keeps it above the minimum). */
  latestAdjusted = 0;
  /** Smallest sample seen. */
  min = Infinity;
  /** Whether a sample was taken. */
  hasSample = false;
  /** Number of samples taken (a controller tells by it whether an ACK gave one). */
  samples = 0;

  /** Feeds a sample; `ackDelay` (ms) is subtracted when that keeps it above the minimum. */
  update(sample: number, ackDelay: number): void {
    if (!(sample >= 0)) return;
    this.latest = sample;
    this.samples++;
    this.min = Math.min(this.min, sample);
    const adjusted = sample - ackDelay >= this.min ? sample - ackDelay : sample;
    this.latestAdjusted = adjusted;
    if (!this.hasSample) {
      this.hasSample = true;
      this.smoothed = adjusted;
      this.variance = adjusted / 2;
      return;
    }
    this.variance = 0.75 * this.variance + 0.25 * Math.abs(this.smoothed - adjusted);
    this.smoothed = 0.875 * this.smoothed + 0.125 * adjusted;
  }

  /** Retransmission timeout before backoff: SRTT + max(G, 4·RTTVAR), clamped. */
  rto(): number {
    if (!this.hasSample) return INITIAL_RTO_MS;
    const raw = this.smoothed + Math.max(TIMER_GRANULARITY_MS, 4 * this.variance);
    return Math.min(MAX_RTO_MS, Math.max(MIN_RTO_MS, raw));
  }
}

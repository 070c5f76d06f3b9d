/**
 * Congestion control and pacing for the sender.
 *
 * NewReno-style AIMD on bytes (RFC 9002 §7 / Appendix B): slow start doubles the window
 * each round trip; congestion avoidance adds one packet per window acknowledged; a loss
 * event (first loss of a packet sent after the current recovery period began) multiplies
 * the window by LOSS_REDUCTION_FACTOR once per round trip; a retransmission timeout
 * collapses it to MIN_WINDOW_PACKETS. The window only grows while it is the limit.
 *
 * The pacer is a token bucket refilled at gain × cwnd / srtt, so the window is spread over
 * the round trip instead of leaving in bursts that overflow the peer's socket buffer.
 *
 * @module
 */

import {
  INITIAL_WINDOW_PACKETS,
  LOSS_REDUCTION_FACTOR,
  MAX_WINDOW_CHUNKS,
  MIN_WINDOW_PACKETS,
  PACING_BURST_PACKETS,
  PACING_GAIN,
  SLOW_START_PACING_GAIN,
  TIMER_GRANULARITY_MS,
} from "./constants.ts";

const PACING_SLACK_BYTES = 1;
/** Lateness samples are clamped to this (ms): a stall is not a timer property. */
const MAX_PACING_LATENESS_MS = 8;
/** The lateness estimate is a decaying maximum: each sample keeps this much of the old one. */
const PACING_LATENESS_DECAY = 0.97;
const MIN_PACING_STEP_MS = 0.001;

/** NewReno window in bytes for packets of `packetSize` bytes. */
export class NewRenoCongestion {
  /** Congestion window in bytes. */
  cwnd: number;
  /** Slow start threshold in bytes. */
  ssthresh = Infinity;
  /** Number of loss events (window reductions). */
  lossEvents = 0;
  readonly #packetSize: number;
  readonly #min: number;
  readonly #max: number;
  #recoveryStart = -Infinity;
  #undoCwnd = 0;
  #undoSsthresh = Infinity;

  /** @param packetSize size of a full datagram (bytes). */
  constructor(packetSize: number) {
    this.#packetSize = packetSize;
    this.#min = MIN_WINDOW_PACKETS * packetSize;
    this.#max = MAX_WINDOW_CHUNKS * packetSize;
    this.cwnd = INITIAL_WINDOW_PACKETS * packetSize;
  }

  /** Whether the window is still in slow start. */
  get inSlowStart(): boolean {
    return this.cwnd < this.ssthresh;
  }

  /**
   * A packet of `bytes` sent at `sentTime` was acknowledged. `limited` tells whether the
   * window was what held the sender back (no growth when flow control or data limited).
   */
  onAck(bytes: number, sentTime: number, limited: boolean): void {
    if (sentTime <= this.#recoveryStart || !limited) return;
    if (this.inSlowStart) this.cwnd += bytes;
    else this.cwnd += this.#packetSize * bytes / this.cwnd;
    if (this.cwnd > this.#max) this.cwnd = this.#max;
  }

  /** A packet sent at `sentTime` was declared lost at `now`. Returns true on a new loss event. */
  onLoss(sentTime: number, now: number): boolean {
    if (sentTime <= this.#recoveryStart) return false;
    this.#recoveryStart = now;
    this.#undoCwnd = this.cwnd;
    this.#undoSsthresh = this.ssthresh;
    this.ssthresh = Math.max(this.#min, this.cwnd * LOSS_REDUCTION_FACTOR);
    this.cwnd = this.ssthresh;
    this.lossEvents++;
    return true;
  }

  /**
   * A packet declared lost was acknowledged after all (it was only reordered): undo the
   * last reduction (as Linux's undo / RFC 4015 Eifel response do).
   */
  onSpuriousLoss(): void {
    if (this.#undoCwnd === 0) return;
    this.cwnd = Math.max(this.cwnd, this.#undoCwnd);
    this.ssthresh = this.#undoSsthresh;
    this.#undoCwnd = 0;
    this.lossEvents--;
  }

  /** The retransmission timer expired at `now`: restart from the minimum window. */
  onTimeout(now: number): void {
    this.#undoCwnd = 0;
    this.ssthresh = Math.max(this.#min, this.cwnd * LOSS_REDUCTION_FACTOR);
    this.cwnd = this.#min;
    this.#recoveryStart = now;
  }
}

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

  /** Pacing rate (bytes/ms) for a window and smoothed RTT. */
  static rate(cwnd: number, srtt: number, slowStart: boolean): number {
    const gain = slowStart ? SLOW_START_PACING_GAIN : PACING_GAIN;
    return gain * cwnd / Math.max(srtt, 0.05);
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

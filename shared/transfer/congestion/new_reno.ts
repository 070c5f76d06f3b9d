/**
 * NewReno-style AIMD on bytes (RFC 9002 §7 / Appendix B), with CUBIC's gentler decrease:
 * slow start doubles the window each round trip; congestion avoidance adds one packet per
 * window acknowledged; a loss event (the first loss of a packet sent after the current
 * recovery period began) multiplies the window by LOSS_REDUCTION_FACTOR once per round
 * trip; a retransmission timeout collapses it to MIN_WINDOW_PACKETS. The window grows
 * only while it is the limit. Paced at a gain over cwnd / SRTT.
 *
 * Every loss is taken for congestion, so random loss caps it at the Mathis bound
 * (≈ 1.22 · MSS / (RTT · √p)); the BBR-style controller (bbr.ts) is the default.
 *
 * @module
 */

import {
  INITIAL_WINDOW_PACKETS,
  LOSS_REDUCTION_FACTOR,
  MAX_WINDOW_CHUNKS,
  MIN_WINDOW_PACKETS,
  PACING_GAIN,
  SLOW_START_PACING_GAIN,
} from "../constants.ts";
import type { RttEstimator } from "../rtt.ts";
import type { CongestionController } from "./controller.ts";

/** NewReno window in bytes for packets of `packetSize` bytes. */
export class NewReno implements CongestionController {
  readonly name = "newreno";
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
  /** Whether the window held the sender back, judged once per ACK frame. */
  #limited: boolean | undefined;

  /** @param packetSize size of a full datagram (bytes). */
  constructor(packetSize: number) {
    this.#packetSize = packetSize;
    this.#min = MIN_WINDOW_PACKETS * packetSize;
    this.#max = MAX_WINDOW_CHUNKS * packetSize;
    this.cwnd = INITIAL_WINDOW_PACKETS * packetSize;
  }

  get window(): number {
    return this.cwnd;
  }

  get inSlowStart(): boolean {
    return this.cwnd < this.ssthresh;
  }

  get state(): string {
    return this.inSlowStart ? "slow start" : "congestion avoidance";
  }

  /** gain × cwnd / SRTT: above 1 so that pacing never is the bottleneck. */
  pacingRate(rtt: RttEstimator): number {
    const gain = this.inSlowStart ? SLOW_START_PACING_GAIN : PACING_GAIN;
    return gain * this.cwnd / Math.max(rtt.smoothed, 0.05);
  }

  onSent(): void {}

  onAppLimited(): void {}

  /** Grows the window, unless flow control or the data held the sender back. */
  onAck(_now: number, _pn: number, bytes: number, sentTime: number, priorInFlight: number): void {
    this.#limited ??= 2 * priorInFlight >= this.cwnd;
    if (sentTime <= this.#recoveryStart || !this.#limited) return;
    if (this.inSlowStart) this.cwnd += bytes;
    else this.cwnd += this.#packetSize * bytes / this.cwnd;
    if (this.cwnd > this.#max) this.cwnd = this.#max;
  }

  onAckEnd(): void {
    this.#limited = undefined;
  }

  /** A new loss event (one per recovery period) reduces the window. */
  onLost(now: number, _pn: number, _bytes: number, sentTime: number): void {
    if (sentTime <= this.#recoveryStart) return;
    this.#recoveryStart = now;
    this.#undoCwnd = this.cwnd;
    this.#undoSsthresh = this.ssthresh;
    this.ssthresh = Math.max(this.#min, this.cwnd * LOSS_REDUCTION_FACTOR);
    this.cwnd = this.ssthresh;
    this.lossEvents++;
  }

  /** Undoes the last reduction (as Linux's undo and RFC 4015's Eifel response do). */
  onSpuriousLoss(): void {
    if (this.#undoCwnd === 0) return;
    this.cwnd = Math.max(this.cwnd, this.#undoCwnd);
    this.ssthresh = this.#undoSsthresh;
    this.#undoCwnd = 0;
    this.lossEvents--;
  }

  /** Restarts from the minimum window. */
  onTimeout(now: number): void {
    this.#undoCwnd = 0;
    this.ssthresh = Math.max(this.#min, this.cwnd * LOSS_REDUCTION_FACTOR);
    this.cwnd = this.#min;
    this.#recoveryStart = now;
  }
}

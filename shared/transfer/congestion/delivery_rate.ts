/**
 * Delivery-rate samples (draft-cheng-iccrg-delivery-rate-estimation, as Linux's
 * tcp_rate.c computes them): each packet remembers, when it is sent, how much had been
 * delivered by then and when; when it is acknowledged, the bytes delivered since, over the
 * time they took, are one sample of the path's delivery rate.
 *
 * The interval is the longer of the send interval (between the first and the last packet
 * of the sample leaving) and the ACK interval (between their acknowledgements). ACKs that
 * arrive bunched — a receiver or a sender thread that was descheduled, ACK decimation —
 * shorten the ACK interval, but the packets they cover were not sent faster than the
 * pacer let them go, so the send interval bounds the sample. Samples whose interval is
 * shorter than the minimum RTT are dropped: no real path delivers a window faster.
 *
 * @module
 */

import { PACKET_WINDOW } from "../constants.ts";

/** One delivery-rate sample, computed per ACK frame. */
export interface RateSample {
  /** Whether the sample can be used. */
  valid: boolean;
  /** Bytes per ms. */
  rate: number;
  /** Bytes delivered over the sample's interval. */
  delivered: number;
  /** The interval (ms). */
  interval: number;
  /** Bytes delivered when the newest packet acknowledged was sent (marks rounds). */
  priorDelivered: number;
  /** Whether the sender was app-limited when that packet was sent. */
  appLimited: boolean;
  /** Bytes this ACK frame newly acknowledged. */
  acked: number;
}

/** Per-packet bookkeeping and per-ACK samples of the delivery rate. */
export class DeliveryRateEstimator {
  /** Bytes acknowledged so far. */
  delivered = 0;
  #deliveredTime = 0;
  #firstSentTime = 0;
  /** Nonzero while app-limited: samples count as limited until `delivered` passes it. */
  #appLimitedUntil = 0;
  // Per packet, indexed by packet number modulo PACKET_WINDOW.
  readonly #pDelivered = new Float64Array(PACKET_WINDOW);
  readonly #pDeliveredTime = new Float64Array(PACKET_WINDOW);
  readonly #pFirstSent = new Float64Array(PACKET_WINDOW);
  readonly #pAppLimited = new Uint8Array(PACKET_WINDOW);
  // The sample being gathered from the current ACK frame.
  readonly #rs: RateSample = {
    valid: false,
    rate: 0,
    delivered: 0,
    interval: 0,
    priorDelivered: 0,
    appLimited: false,
    acked: 0,
  };
  #priorTime = -1;
  #priorSent = -Infinity;
  #sendElapsed = 0;
  #ackElapsed = 0;

  /** Whether samples are app-limited now. */
  get appLimited(): boolean {
    return this.#appLimitedUntil !== 0;
  }

  /** A packet left at `now`; `firstInFlight`: nothing else was in flight. */
  onSent(now: number, pn: number, firstInFlight: boolean): void {
    if (firstInFlight) {
      this.#firstSentTime = now;
      this.#deliveredTime = now;
    }
    const slot = pn % PACKET_WINDOW;
    this.#pDelivered[slot] = this.delivered;
    this.#pDeliveredTime[slot] = this.#deliveredTime;
    this.#pFirstSent[slot] = this.#firstSentTime;
    this.#pAppLimited[slot] = this.#appLimitedUntil !== 0 ? 1 : 0;
  }

  /** The sender could send but has nothing to: mark samples until `bytesInFlight` is acked. */
  onAppLimited(bytesInFlight: number): void {
    this.#appLimitedUntil = Math.max(this.delivered + bytesInFlight, 1);
  }

  /** A packet sent at `sentTime` was newly acknowledged. */
  onAck(now: number, pn: number, bytes: number, sentTime: number): void {
    const slot = pn % PACKET_WINDOW;
    this.delivered += bytes;
    this.#deliveredTime = now;
    this.#rs.acked += bytes;
    const prior = this.#pDelivered[slot];
    if (
      this.#priorTime < 0 || prior > this.#rs.priorDelivered ||
      (prior === this.#rs.priorDelivered && sentTime > this.#priorSent)
    ) {
      this.#rs.priorDelivered = prior;
      this.#priorTime = this.#pDeliveredTime[slot];
      this.#priorSent = sentTime;
      this.#rs.appLimited = this.#pAppLimited[slot] === 1;
      this.#sendElapsed = sentTime - this.#pFirstSent[slot];
      this.#ackElapsed = now - this.#pDeliveredTime[slot];
      this.#firstSentTime = sentTime;
    }
  }

  /**
   * Ends an ACK frame: returns its sample (valid when it acknowledged something and its
   * interval is at least `minRtt`). The object is reused by the next call.
   */
  sample(minRtt: number): RateSample {
    const rs = this.#rs;
    if (this.#appLimitedUntil !== 0 && this.delivered > this.#appLimitedUntil) {
      this.#appLimitedUntil = 0;
    }
    rs.valid = false;
    if (this.#priorTime >= 0) {
      rs.delivered = this.delivered - rs.priorDelivered;
      rs.interval = Math.max(this.#sendElapsed, this.#ackElapsed);
      if (rs.interval > 0 && rs.interval >= minRtt && rs.delivered > 0) {
        rs.valid = true;
        rs.rate = rs.delivered / rs.interval;
      }
    }
    return rs;
  }

  /** Starts gathering the next ACK frame's sample. */
  beginAck(): void {
    this.#priorTime = -1;
    this.#priorSent = -Infinity;
    this.#rs.acked = 0;
    this.#rs.appLimited = false;
    this.#rs.priorDelivered = 0;
  }
}

/**
 * A BBR-style congestion controller (after Cardwell et al., "BBR: Congestion-Based
 * Congestion Control", and Linux's tcp_bbr.c): it models the path by its bottleneck rate
 * (a windowed maximum of delivery-rate samples) and its base RTT (a windowed minimum),
 * paces at the modelled rate, and keeps about one bandwidth-delay product (BDP) in
 * flight, so it fills the pipe without building a queue.
 *
 * Modes: Startup (pacing gain 2/ln 2, until the rate stops growing by 25 % for three
 * rounds, or for one round while a queue stood) → Drain (the queue Startup built) →
 * ProbeBW (a cycle of four phases of one min RTT each: 1.25 to probe for more rate, 0.75
 * to drain what the probe queued, two at 1) ⇄ ProbeRTT (every 10 s without an RTT sample
 * near the minimum: half a BDP in flight for 200 ms and a round, so the queue drains and
 * the base RTT is measured again). A probe that finds 10 % more rate sends the flow back
 * to Startup: the pipe was not full (it left Startup early, or another flow left).
 *
 * Loss is not taken for congestion by itself: random loss (Wi-Fi, a lossy link) does
 * not mean the queue is full. Loss is judged per epoch of at least LOSS_EPOCH_PACKETS: an
 * epoch is congested when more than LOSS_TOLERANCE of its packets were lost, or more than
 * QUEUE_LOSS_THRESHOLD while even its lowest RTT sample stood QUEUE_RTT_FACTOR above the
 * base RTT (the queue stood full, so the losses are it overflowing). A congested epoch
 * caps what may be in flight at LOSS_BETA of what was in flight in it (and ends Startup);
 * each epoch without congestion raises the cap by INFLIGHT_HI_GROWTH until it no longer
 * binds. A cap set while the epoch's RTT showed a queue overflowing holds for
 * INFLIGHT_HI_HOLD_MS first: that is the flow filling a buffer, typically a receiver's
 * socket buffer on a LAN or loopback when its thread is descheduled for longer than the
 * buffer lasts, where regrowing within a few round trips of a tenth of a ms would
 * overflow it at the next stall again. Random loss comes without the queue and regrows
 * at once.
 * Losses of packets sent before the last cut (or before Startup ended) are not held
 * against the new rate.
 *
 * Flows sharing a bottleneck each see their probes' gains and would otherwise, as in
 * BBR v1, keep a standing queue of about a BDP (each window-limited at 2 BDP). An epoch
 * through which a queue stood, our own drain phase included, means the flows together
 * send more than the path delivers: ProbeBW then paces at QUEUE_BACKOFF_GAIN and keeps
 * one BDP in flight until an epoch sees the queue empty; after QUEUE_PROBE_RTT_EPOCHS
 * such epochs in a row the base RTT is measured again (a flow that started behind a queue
 * took it for part of the path).
 *
 * ACKs that arrive bunched (a descheduled thread, ACK decimation) cannot inflate the
 * rate: a sample's interval is never shorter than the time its packets took to be sent
 * (delivery_rate.ts). They can make the window too small for the ACK clock, so the
 * window adds the largest excess of ACKed bytes over the modelled rate seen in the last
 * rounds (Linux BBR's extra_acked).
 *
 * @module
 */

import {
  DEFAULT_ACK_EVERY,
  DEFAULT_MAX_ACK_DELAY_MS,
  INITIAL_RTT_MS,
  INITIAL_WINDOW_PACKETS,
  MAX_WINDOW_CHUNKS,
} from "../constants.ts";
import type { RttEstimator } from "../rtt.ts";
import type { CongestionController } from "./controller.ts";
import { DeliveryRateEstimator, type RateSample } from "./delivery_rate.ts";
import { WindowedMaxFilter } from "./windowed_filter.ts";

/** Pacing and window gain of Startup: the smallest that doubles the rate each round. */
export const STARTUP_GAIN = 2 / Math.LN2;
/** Window gain of Startup (and Drain): room for the doubling without a runaway queue. */
export const STARTUP_CWND_GAIN = 2;
/** Pacing gain of Drain: empties Startup's queue in about one round. */
export const DRAIN_GAIN = 1 / STARTUP_GAIN;
/** Window gain of ProbeBW: 2 BDP, room for delayed and bunched ACKs. */
export const CWND_GAIN = 2;
/**
 * Pacing gains of ProbeBW's phases. Four phases, not BBR v1's eight: flows sharing a
 * bottleneck converge to fair shares by each other's probes, so twice as fast.
 */
export const PROBE_BW_GAINS: readonly number[] = [1.25, 0.75, 1, 1];
/** The bottleneck rate is the maximum sample of this many rounds. */
export const BW_WINDOW_ROUNDS = 10;
/** Startup ends when the rate grew less than this factor... */
export const FULL_BW_GROWTH = 1.25;
/** ...in this many rounds in a row (or in one round while a queue stood). */
export const FULL_BW_ROUNDS = 3;
/** In ProbeBW, this much more rate than when the last probe began: Startup again. */
export const PROBE_RESTART_GROWTH = 1.1;
/** A minimum RTT not confirmed for this long (ms) is measured again (ProbeRTT). */
export const MIN_RTT_WINDOW_MS = 10_000;
/**
 * A sample within this factor of the minimum RTT, plus MIN_QUEUE_MS, confirms it: the
 * queue was empty then, and ProbeRTT would learn nothing new.
 */
export const MIN_RTT_CONFIRM_FACTOR = 1.02;
/** ProbeRTT holds the reduced window this long (ms), and at least one round. */
export const PROBE_RTT_MS = 200;
/** ProbeRTT's window, as a fraction of the BDP. */
export const PROBE_RTT_BDP_FRACTION = 0.5;
/**
 * The window never falls below this many packets: twice what the receiver acknowledges
 * at once (DEFAULT_ACK_EVERY), or a small window would wait out its ACK delay each round.
 */
export const MIN_CWND_PACKETS = 2 * DEFAULT_ACK_EVERY;
/** Packets added to the window for the pacer's bursts. */
export const QUANTIZATION_PACKETS = 3;
/** The ACK-aggregation allowance is the maximum of two slots of this many rounds each. */
export const EXTRA_ACKED_ROUNDS = 5;
/** ...and at most this much time (ms) at the modelled rate. */
export const EXTRA_ACKED_MAX_MS = 100;
/**
 * Loss is judged over rounds together until this many packets were delivered or lost:
 * over a small window, random loss alone often exceeds LOSS_TOLERANCE (3 of 20 packets).
 */
export const LOSS_EPOCH_PACKETS = 64;
/** Losses below this many packets in an epoch are never taken for congestion. */
export const MIN_CONGESTION_LOSS_PACKETS = 2;
/** An epoch that lost more than this fraction of its packets is congested. */
export const LOSS_TOLERANCE = 0.15;
/** ...and so is one losing more than this while the queue stood through it. */
export const QUEUE_LOSS_THRESHOLD = 0.02;
/** A queue stood when the lowest RTT sample exceeds the base RTT by this factor... */
export const QUEUE_RTT_FACTOR = 1.25;
/**
 * ...and by at least this much (ms): less is the receiver holding its ACK (up to 2 ms) or
 * a thread's scheduling, not a queue (on loopback the base RTT is a tenth of a ms).
 */
export const MIN_QUEUE_MS = 2 * DEFAULT_MAX_ACK_DELAY_MS;
/** A congested epoch caps what may be in flight at this fraction of what was. */
export const LOSS_BETA = 0.7;
/** Each epoch without congestion raises that cap by this factor... */
export const INFLIGHT_HI_GROWTH = 1.25;
/**
 * ...but a cap set while a queue overflowed (an RTT sample of the epoch, less the ACK
 * delay, exceeded the base RTT by QUEUE_RTT_FACTOR and HOLD_QUEUE_MS) holds this long
 * (ms) first: the flow itself filled that queue, and regrowing at once fills it again.
 */
export const INFLIGHT_HI_HOLD_MS = 500;
/** The queue (ms) beyond QUEUE_RTT_FACTOR × the base RTT that marks an overflow. */
export const HOLD_QUEUE_MS = 1;
/** While a queue stands through whole epochs, ProbeBW paces at this fraction of the rate. */
export const QUEUE_BACKOFF_GAIN = 0.9;
/** ...and after this many such epochs in a row, measures the base RTT again. */
export const QUEUE_PROBE_RTT_EPOCHS = 8;

type Mode = "startup" | "drain" | "probe_bw" | "probe_rtt";

/** Options of {@linkcode Bbr}. */
export interface BbrOptions {
  /** Random numbers in [0, 1) for the ProbeBW phase a flow starts in. Default Math.random. */
  random?: () => number;
}

/** BBR-style controller for packets of up to `packetSize` bytes. */
export class Bbr implements CongestionController {
  readonly name = "bbr";
  readonly #packetSize: number;
  readonly #minCwnd: number;
  readonly #maxCwnd: number;
  readonly #initialCwnd: number;
  readonly #random: () => number;
  readonly #rate = new DeliveryRateEstimator();
  readonly #bw = new WindowedMaxFilter(BW_WINDOW_ROUNDS);
  #mode: Mode = "startup";
  #pacingGain = STARTUP_GAIN;
  #cwndGain = STARTUP_CWND_GAIN;
  #cwnd: number;
  #pacingRate = 0;
  /** An ACK frame is being processed (onAck() came, onAckEnd() not yet). */
  #ackOpen = false;
  #rttSamples = 0;

  // Base RTT.
  #minRtt = Infinity;
  #minRttStamp = 0;
  #probeRttDone = 0;
  #probeRttRoundDone = false;
  #priorCwnd = 0;

  // Rounds: a round ends when a packet sent after it began is acknowledged.
  #round = 0;
  #nextRoundDelivered = 0;
  #roundStart = false;
  #roundMinRtt = Infinity;
  /** Whether a queue stood through the last round (its lowest RTT was high). */
  #queueStood = false;

  // Loss epochs: one round or more (LOSS_EPOCH_PACKETS).
  #epochDeliveredStart = 0;
  #epochLost = 0;
  #epochMinRtt = Infinity;
  /** The epoch's highest RTT sample, less the ACK delay. */
  #epochMaxRtt = 0;
  /** The last cut came from a queue overflowing: the cap holds INFLIGHT_HI_HOLD_MS. */
  #holdCap = false;
  #epochMaxInFlight = 0;
  #lostInAck = false;
  /** When the in-flight cap was last lowered: losses of packets sent before do not count. */
  #lastCutAt = -Infinity;
  /** Cap on bytes in flight after congested epochs (Infinity: none). */
  #inflightHi = Infinity;
  /** A queue stood through the last epoch: pace below the rate, keep one BDP in flight. */
  #queueBackoff = false;
  /** Epochs in a row through which a queue stood. */
  #queueEpochs = 0;

  // Startup's end.
  #fullBw = 0;
  #fullBwRounds = 0;
  #fullBwReached = false;

  // ProbeBW.
  #cycleIndex = 0;
  #cycleStamp = 0;
  /** The modelled rate when the last probe for more began. */
  #probeBaseBw = 0;

  // ACK aggregation.
  readonly #extraAcked = [0, 0];
  #extraAckedSlot = 0;
  #extraAckedSlotRounds = 0;
  #ackEpochStamp = 0;
  #ackEpochAcked = 0;

  /** An RTO declared everything lost: the minimum window until new data is acknowledged. */
  #afterTimeout = false;

  /** @param packetSize size of a full datagram (bytes). */
  constructor(packetSize: number, options: BbrOptions = {}) {
    this.#packetSize = packetSize;
    this.#minCwnd = MIN_CWND_PACKETS * packetSize;
    this.#maxCwnd = MAX_WINDOW_CHUNKS * packetSize;
    this.#initialCwnd = INITIAL_WINDOW_PACKETS * packetSize;
    this.#cwnd = this.#initialCwnd;
    this.#random = options.random ?? Math.random;
  }

  get window(): number {
    if (this.#afterTimeout) return this.#minCwnd;
    return Math.max(this.#minCwnd, Math.min(this.#cwnd, this.#inflightHi));
  }

  get inSlowStart(): boolean {
    return this.#mode === "startup";
  }

  get state(): string {
    return this.#mode;
  }

  /** The modelled bottleneck rate (bytes per ms; 0 before a sample). */
  get bandwidth(): number {
    return this.#bw.value;
  }

  /** The modelled base RTT (ms; Infinity before a sample). */
  get minRtt(): number {
    return this.#minRtt;
  }

  pacingRate(rtt: RttEstimator): number {
    if (this.#pacingRate > 0) return this.#pacingRate;
    const srtt = rtt.hasSample ? Math.max(rtt.smoothed, 0.05) : INITIAL_RTT_MS;
    return STARTUP_GAIN * this.#initialCwnd / srtt;
  }

  onSent(now: number, pn: number, bytes: number, bytesInFlight: number): void {
    this.#rate.onSent(now, pn, bytesInFlight === bytes);
    if (bytesInFlight > this.#epochMaxInFlight) this.#epochMaxInFlight = bytesInFlight;
  }

  onAppLimited(bytesInFlight: number): void {
    this.#rate.onAppLimited(bytesInFlight);
  }

  onAck(now: number, pn: number, bytes: number, sentTime: number): void {
    if (!this.#ackOpen) {
      this.#ackOpen = true;
      this.#rate.beginAck();
    }
    this.#rate.onAck(now, pn, bytes, sentTime);
  }

  onAckEnd(now: number, bytesInFlight: number, rtt: RttEstimator): void {
    const sampled = rtt.samples !== this.#rttSamples;
    this.#rttSamples = rtt.samples;
    if (sampled) {
      if (rtt.latest < this.#roundMinRtt) this.#roundMinRtt = rtt.latest;
      if (rtt.latest < this.#epochMinRtt) this.#epochMinRtt = rtt.latest;
      if (rtt.latestAdjusted > this.#epochMaxRtt) this.#epochMaxRtt = rtt.latestAdjusted;
    }
    this.#roundStart = false;
    let acked = 0;
    if (this.#ackOpen) {
      this.#ackOpen = false;
      this.#afterTimeout = false;
      const rs = this.#rate.sample(Number.isFinite(this.#minRtt) ? this.#minRtt : 0);
      acked = rs.acked;
      if (rs.priorDelivered >= this.#nextRoundDelivered) {
        this.#nextRoundDelivered = this.#rate.delivered;
        this.#round++;
        this.#roundStart = true;
        this.#endRound(now, bytesInFlight);
      }
      if (rs.valid && (!rs.appLimited || rs.rate >= this.#bw.value)) {
        this.#bw.update(rs.rate, this.#round);
      }
      this.#updateAckAggregation(now, acked);
      this.#updateCycle(now, bytesInFlight);
      this.#checkProbeRestart();
      this.#checkFullBw(now, rs);
      this.#checkDrain(now, bytesInFlight);
    }
    this.#updateMinRtt(now, sampled ? rtt.latest : undefined, bytesInFlight);
    this.#lostInAck = false;
    this.#setPacingRate(rtt);
    this.#setCwnd(acked);
  }

  onLost(_now: number, _pn: number, bytes: number, sentTime: number): void {
    this.#lostInAck = true;
    if (sentTime > this.#lastCutAt) this.#epochLost += bytes;
  }

  onSpuriousLoss(_now: number, _pn: number, bytes: number): void {
    this.#epochLost = Math.max(0, this.#epochLost - bytes);
  }

  onTimeout(): void {
    this.#afterTimeout = true;
  }

  /** In-flight bytes for `gain` × BDP (the initial window before the model has samples). */
  #bdp(gain: number): number {
    const bw = this.#bw.value;
    if (bw === 0 || !Number.isFinite(this.#minRtt)) return this.#initialCwnd;
    return gain * bw * this.#minRtt;
  }

  /** Whether an RTT this low still shows a queue (QUEUE_RTT_FACTOR above the base RTT). */
  #standingQueue(lowestRtt: number): boolean {
    const base = this.#minRtt;
    return Number.isFinite(base) && Number.isFinite(lowestRtt) &&
      lowestRtt > Math.max(QUEUE_RTT_FACTOR * base, base + MIN_QUEUE_MS);
  }

  /** Ends a round: did a queue stand through it; and ends the loss epoch once it is long enough. */
  #endRound(now: number, bytesInFlight: number): void {
    this.#queueStood = this.#standingQueue(this.#roundMinRtt);
    this.#roundMinRtt = Infinity;
    const delivered = this.#rate.delivered - this.#epochDeliveredStart;
    const lost = this.#epochLost;
    if (lost + delivered < LOSS_EPOCH_PACKETS * this.#packetSize) return;
    this.#endEpoch(now, lost, delivered);
    this.#epochLost = 0;
    this.#epochDeliveredStart = this.#rate.delivered;
    this.#epochMinRtt = Infinity;
    this.#epochMaxRtt = 0;
    this.#epochMaxInFlight = bytesInFlight;
  }

  /** Judges an epoch: congested (cap what is in flight), or a queue standing (back off). */
  #endEpoch(now: number, lost: number, delivered: number): void {
    const fraction = lost / (lost + delivered);
    const queue = this.#standingQueue(this.#epochMinRtt);
    this.#queueBackoff = queue && this.#mode === "probe_bw";
    this.#queueEpochs = this.#queueBackoff ? this.#queueEpochs + 1 : 0;
    if (this.#queueEpochs >= QUEUE_PROBE_RTT_EPOCHS) {
      this.#minRttStamp = -Infinity; // nobody drains this queue: ProbeRTT
      this.#queueEpochs = 0;
    }
    const congested = lost >= MIN_CONGESTION_LOSS_PACKETS * this.#packetSize &&
      (fraction > LOSS_TOLERANCE || (queue && fraction > QUEUE_LOSS_THRESHOLD));
    if (congested) {
      // Startup overfilled the pipe: keep at least the BDP it measured.
      const floor = this.#fullBwReached ? this.#minCwnd : this.#bdp(1);
      this.#pipeFull(now);
      this.#inflightHi = Math.max(floor, LOSS_BETA * this.#epochMaxInFlight);
      this.#lastCutAt = now;
      this.#holdCap = this.#epochMaxRtt > QUEUE_RTT_FACTOR * this.#minRtt + HOLD_QUEUE_MS;
    } else if (
      Number.isFinite(this.#inflightHi) &&
      (!this.#holdCap || now - this.#lastCutAt >= INFLIGHT_HI_HOLD_MS)
    ) {
      this.#inflightHi *= INFLIGHT_HI_GROWTH;
      if (this.#inflightHi > this.#targetCwnd()) this.#inflightHi = Infinity;
    }
  }

  /** Linux BBR's extra_acked: how far ACKs ran ahead of the modelled rate lately. */
  #updateAckAggregation(now: number, acked: number): void {
    if (acked <= 0) return;
    if (this.#roundStart && ++this.#extraAckedSlotRounds >= EXTRA_ACKED_ROUNDS) {
      this.#extraAckedSlotRounds = 0;
      this.#extraAckedSlot ^= 1;
      this.#extraAcked[this.#extraAckedSlot] = 0;
    }
    let expected = this.#bw.value * (now - this.#ackEpochStamp);
    if (this.#ackEpochAcked <= expected) {
      this.#ackEpochAcked = 0;
      this.#ackEpochStamp = now;
      expected = 0;
    }
    this.#ackEpochAcked += acked;
    const extra = Math.min(this.#ackEpochAcked - expected, this.#cwnd);
    if (extra > this.#extraAcked[this.#extraAckedSlot]) {
      this.#extraAcked[this.#extraAckedSlot] = extra;
    }
  }

  #updateCycle(now: number, bytesInFlight: number): void {
    if (this.#mode !== "probe_bw") return;
    const full = now - this.#cycleStamp > this.#minRtt;
    let next: boolean;
    if (this.#pacingGain > 1) {
      // Probe until the probe's extra data is in flight (or the window stops it), or a
      // loss says there is no more room.
      const goal = Math.min(this.#bdp(this.#pacingGain), this.window - this.#packetSize);
      next = full && (this.#lostInAck || bytesInFlight >= goal);
    } else if (this.#pacingGain < 1) {
      next = full || bytesInFlight <= this.#bdp(1);
    } else {
      next = full;
    }
    if (next) this.#setCycle(now, (this.#cycleIndex + 1) % PROBE_BW_GAINS.length);
  }

  #setCycle(now: number, index: number): void {
    this.#cycleIndex = index;
    this.#cycleStamp = now;
    this.#pacingGain = PROBE_BW_GAINS[index];
    if (this.#pacingGain > 1) this.#probeBaseBw = this.#bw.value;
  }

  /** A probe found much more room than the model had: grow exponentially again. */
  #checkProbeRestart(): void {
    if (this.#mode !== "probe_bw" || !this.#roundStart || this.#probeBaseBw === 0) return;
    if (this.#bw.value < PROBE_RESTART_GROWTH * this.#probeBaseBw) return;
    this.#mode = "startup";
    this.#pacingGain = STARTUP_GAIN;
    this.#cwndGain = STARTUP_CWND_GAIN;
    this.#fullBwReached = false;
    this.#fullBw = this.#bw.value;
    this.#fullBwRounds = 0;
    this.#probeBaseBw = 0;
  }

  #checkFullBw(now: number, rs: RateSample): void {
    if (this.#fullBwReached || !this.#roundStart || rs.appLimited) return;
    const bw = this.#bw.value;
    if (bw >= this.#fullBw * FULL_BW_GROWTH) {
      this.#fullBw = bw;
      this.#fullBwRounds = 0;
      return;
    }
    // The rate stopped growing: the pipe is full after FULL_BW_ROUNDS such rounds, or at
    // once when a queue stood through the round (Startup is only filling it).
    if (++this.#fullBwRounds >= FULL_BW_ROUNDS || this.#queueStood) this.#pipeFull(now);
  }

  /**
   * Startup filled the pipe. Drain takes back what it sent too much, so losses of packets
   * sent until now are not held against the rate (as after a cut).
   */
  #pipeFull(now: number): void {
    if (this.#fullBwReached) return;
    this.#fullBwReached = true;
    this.#lastCutAt = now;
  }

  #checkDrain(now: number, bytesInFlight: number): void {
    if (this.#mode === "startup" && this.#fullBwReached) {
      this.#mode = "drain";
      this.#pacingGain = DRAIN_GAIN;
      this.#cwndGain = STARTUP_CWND_GAIN;
    }
    if (this.#mode === "drain" && bytesInFlight <= this.#bdp(1)) this.#enterProbeBw(now);
  }

  #enterProbeBw(now: number): void {
    this.#mode = "probe_bw";
    this.#cwndGain = CWND_GAIN;
    // Start in any phase but the draining one (flows that start together then probe at
    // different times).
    const phases = PROBE_BW_GAINS.length;
    this.#setCycle(now, (2 + Math.floor(this.#random() * (phases - 1))) % phases);
  }

  #updateMinRtt(now: number, sample: number | undefined, bytesInFlight: number): void {
    const expired = now > this.#minRttStamp + MIN_RTT_WINDOW_MS;
    const confirms = sample !== undefined &&
      sample <= this.#minRtt * MIN_RTT_CONFIRM_FACTOR + MIN_QUEUE_MS;
    if (sample !== undefined && (confirms || expired)) {
      this.#minRtt = expired ? sample : Math.min(this.#minRtt, sample);
      this.#minRttStamp = now;
    }
    if (expired && this.#mode !== "probe_rtt" && Number.isFinite(this.#minRtt)) {
      this.#mode = "probe_rtt";
      this.#pacingGain = 1;
      this.#cwndGain = 1;
      this.#priorCwnd = this.#cwnd;
      this.#probeRttDone = 0;
    }
    if (this.#mode !== "probe_rtt") return;
    if (this.#probeRttDone === 0) {
      if (bytesInFlight <= this.#probeRttCwnd()) {
        this.#probeRttDone = now + PROBE_RTT_MS;
        this.#probeRttRoundDone = false;
        this.#nextRoundDelivered = this.#rate.delivered;
      }
      return;
    }
    if (this.#roundStart) this.#probeRttRoundDone = true;
    if (this.#probeRttRoundDone && now >= this.#probeRttDone) {
      this.#minRttStamp = now;
      this.#cwnd = Math.max(this.#cwnd, this.#priorCwnd);
      if (this.#fullBwReached) {
        this.#enterProbeBw(now);
      } else {
        this.#mode = "startup";
        this.#pacingGain = STARTUP_GAIN;
        this.#cwndGain = STARTUP_CWND_GAIN;
      }
    }
  }

  #probeRttCwnd(): number {
    const bdp = this.#bdp(1) + this.#bw.value * DEFAULT_MAX_ACK_DELAY_MS;
    return Math.max(this.#minCwnd, PROBE_RTT_BDP_FRACTION * bdp);
  }

  #setPacingRate(rtt: RttEstimator): void {
    const bw = this.#bw.value;
    if (bw === 0) {
      const srtt = rtt.hasSample ? Math.max(rtt.smoothed, 0.05) : INITIAL_RTT_MS;
      this.#pacingRate = Math.max(this.#pacingRate, STARTUP_GAIN * this.#initialCwnd / srtt);
      return;
    }
    const backoff = this.#queueBackoff ? QUEUE_BACKOFF_GAIN : 1;
    const rate = this.#pacingGain * backoff * bw;
    // In Startup the rate only grows: one low sample must not slow the doubling.
    if (this.#fullBwReached || rate > this.#pacingRate) this.#pacingRate = rate;
  }

  /**
   * gain × BDP, plus what arrives while the receiver holds its ACK (its maximum ACK delay
   * at the modelled rate: the minimum RTT is measured from ACKs sent at once, and on
   * loopback the delay is many times the RTT), the ACK-aggregation allowance and the
   * pacer's bursts.
   */
  #targetCwnd(): number {
    const gain = this.#queueBackoff ? Math.min(this.#cwndGain, 1) : this.#cwndGain;
    let target = this.#bdp(gain) + this.#bw.value * DEFAULT_MAX_ACK_DELAY_MS +
      QUANTIZATION_PACKETS * this.#packetSize;
    if (this.#fullBwReached) {
      const extra = Math.max(this.#extraAcked[0], this.#extraAcked[1]);
      target += Math.min(extra, this.#bw.value * EXTRA_ACKED_MAX_MS);
    }
    return target;
  }

  #setCwnd(acked: number): void {
    const target = this.#targetCwnd();
    if (this.#fullBwReached) {
      this.#cwnd = Math.min(this.#cwnd + acked, target);
    } else if (this.#cwnd < target || this.#rate.delivered < this.#initialCwnd) {
      this.#cwnd += acked;
    }
    this.#cwnd = Math.min(this.#maxCwnd, Math.max(this.#cwnd, this.#minCwnd));
    if (this.#mode === "probe_rtt") this.#cwnd = Math.min(this.#cwnd, this.#probeRttCwnd());
  }
}

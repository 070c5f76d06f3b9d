/**
 * The sender's loss recovery (RFC 9002 §6, aioquic's recovery.py in shape): which packets
 * are in flight, which were acknowledged or lost, the RTT, and the retransmission, loss
 * and probe timers. It tells the congestion controller about every packet sent,
 * acknowledged or lost, and the sender which chunks to send again.
 *
 * ```ts
 * import type { CongestionController } from "./congestion/controller.ts";
 * import type { TransferStats } from "./_machine.ts";
 * import type { AckFrame } from "./packet.ts";
 * declare const controller: CongestionController, stats: TransferStats, frame: AckFrame;
 * declare const pn: number, chunk: number, datagram: Uint8Array, nextPn: number, now: number;
 * declare const newlyAcked: number[];
 * const lost: number[] = [];
 * const recovery = new LossRecovery(controller, stats, (c) => lost.push(c), 10_000);
 * recovery.onSent(pn, chunk, datagram.length, now);
 * // per ACK frame:
 * recovery.onAckFrame(frame.largestPn, frame.ackDelayUs / 1000, nextPn, now);
 * for (const c of newlyAcked) recovery.onChunkAcked(c, now);
 * recovery.onAckFrameEnd(now, nextPn, newlyAcked.length > 0);
 * ```
 *
 * Packet numbers are never reused (a retransmission is a new packet), so every RTT
 * sample is unambiguous. On a striped transfer (packet pn goes to receiver socket
 * pn mod stripes) loss detection runs per stripe: one socket delivers in order, across
 * sockets datagrams are read back in any order.
 *
 * @module
 */

import {
  MAX_PACKET_THRESHOLD,
  MAX_RTO_MS,
  MAX_WINDOW_CHUNKS,
  PACKET_THRESHOLD,
  PACKET_WINDOW,
  RETRIES_PER_IDLE,
  TIME_THRESHOLD,
  TIMER_GRANULARITY_MS,
} from "./constants.ts";
import type { CongestionController } from "./congestion/controller.ts";
import { minTime, type TransferStats } from "./_machine.ts";
import { RttEstimator } from "./rtt.ts";

const CHUNK_RING = 2 * MAX_WINDOW_CHUNKS;
// States of a sent packet (0: acknowledged, or not a DATA packet).
const IN_FLIGHT = 1;
const LOST_BY_THRESHOLD = 2;
const LOST_BY_TIMEOUT = 3;
/** The retry backoff doubles per expiry up to this factor. */
const MAX_BACKOFF = 64;

/** Sent-packet tracking, loss detection and timers of one sender. */
export class LossRecovery {
  /** The path's RTT. */
  rtt = new RttEstimator();
  /** The congestion controller told about every packet. */
  controller: CongestionController;
  readonly #stats: TransferStats;
  readonly #onLost: (chunk: number) => void;
  readonly #idleTimeoutMs: number;

  // Sent packets, indexed by packet number modulo PACKET_WINDOW.
  readonly #sentTime = new Float64Array(PACKET_WINDOW);
  readonly #sentChunk = new Int32Array(PACKET_WINDOW).fill(-1);
  readonly #sentBytes = new Int32Array(PACKET_WINDOW);
  readonly #state = new Uint8Array(PACKET_WINDOW);
  /** The packet number each chunk was last sent in, indexed modulo CHUNK_RING. */
  readonly #chunkPn = new Float64Array(CHUNK_RING);
  /** 1 for a chunk sent more than once: which of its packets arrived is unknown. */
  readonly #resent = new Uint8Array(CHUNK_RING);
  /** Every packet below it is acknowledged, lost or not a DATA packet. */
  #oldestPn = 0;
  #bytesInFlight = 0;
  #largestEcho = -1;
  /** Per stripe, the largest packet number acknowledged. */
  #largestAcked = new Float64Array([-1]);
  /** Scratch for #detectLosses(): stripes already past their oldest packet in flight. */
  #stripeDone = new Uint8Array(1);
  /** Later packets of the same stripe acknowledged before one is deemed lost. */
  #reorderThreshold = PACKET_THRESHOLD;
  /** Bytes in flight when the current ACK frame arrived. */
  #priorInFlight = 0;

  /** When the retransmission timer fires, if armed. */
  rtoAt: number | undefined;
  /** When the time threshold declares the next packet lost, if one is waiting for it. */
  lossAt: number | undefined;
  /** When the next probe (HELLO retransmission or PING) is due, if armed. */
  probeAt: number | undefined;
  /** Doubles with each expiry of a timer; back to 1 when the peer makes progress. */
  backoff = 1;

  /**
   * @param controller told about every packet sent, acknowledged or lost.
   * @param stats where losses, spurious losses and RTO expirations are counted.
   * @param onLost called with the chunk of each DATA packet declared lost.
   * @param idleTimeoutMs a backed-off wait is at most a tenth of this (RETRIES_PER_IDLE).
   */
  constructor(
    controller: CongestionController,
    stats: TransferStats,
    onLost: (chunk: number) => void,
    idleTimeoutMs: number,
  ) {
    this.controller = controller;
    this.#stats = stats;
    this.#onLost = onLost;
    this.#idleTimeoutMs = idleTimeoutMs;
  }

  /** Bytes sent and neither acknowledged nor declared lost. */
  get bytesInFlight(): number {
    return this.#bytesInFlight;
  }

  /** Number of stripes loss detection runs over (1 without striping). */
  get stripes(): number {
    return this.#largestAcked.length;
  }

  /** How many packets are tracked (the sender keeps this under PACKET_WINDOW). */
  tracked(nextPn: number): number {
    return nextPn - this.#oldestPn;
  }

  /** Sets the number of stripes; only before any DATA packet is sent. */
  setStripes(stripes: number): void {
    this.#largestAcked = new Float64Array(stripes).fill(-1);
    this.#stripeDone = new Uint8Array(stripes);
  }

  /**
   * A new path (the peer's address changed): its RTT and capacity are unknown, so the
   * estimator and the controller start over; packets in flight stay tracked.
   */
  resetPath(controller: CongestionController): void {
    this.rtt = new RttEstimator();
    this.controller = controller;
    this.backoff = 1;
  }

  /**
   * Records packet `pn` sent at `now`; `chunk` is its DATA chunk, or -1 for a packet that
   * does not count as in flight (HELLO, PING).
   */
  onSent(pn: number, chunk: number, bytes: number, now: number): void {
    const slot = pn % PACKET_WINDOW;
    const ring = chunk % CHUNK_RING;
    if (chunk >= 0) {
      const previous = this.#chunkPn[ring];
      const resent = previous < pn && this.#sentChunk[previous % PACKET_WINDOW] === chunk;
      this.#resent[ring] = resent ? 1 : 0;
    }
    this.#sentTime[slot] = now;
    this.#sentChunk[slot] = chunk;
    this.#sentBytes[slot] = bytes;
    this.#state[slot] = chunk >= 0 ? IN_FLIGHT : 0;
    if (chunk >= 0) {
      this.#chunkPn[ring] = pn;
      this.#bytesInFlight += bytes;
      this.controller.onSent(now, pn, bytes, this.#bytesInFlight);
      this.rtoAt ??= now + this.retryInterval();
      this.probeAt = undefined;
    } else {
      this.probeAt = now + this.retryInterval();
      if (this.#oldestPn === pn) this.#oldestPn++;
    }
  }

  /**
   * An ACK frame arrived: takes its RTT sample from the largest packet number it echoes
   * (`ackDelayMs` is how long the peer held it).
   */
  onAckFrame(largestPn: number, ackDelayMs: number, nextPn: number, now: number): void {
    this.#priorInFlight = this.#bytesInFlight;
    if (largestPn > this.#largestEcho && largestPn < nextPn) {
      this.#largestEcho = largestPn;
      this.#onPacketAcked(largestPn);
      if (nextPn - largestPn < PACKET_WINDOW) {
        this.rtt.update(now - this.#sentTime[largestPn % PACKET_WINDOW], ackDelayMs);
      }
    }
  }

  /** The ACK frame newly acknowledged `chunk`. */
  onChunkAcked(chunk: number, now: number): void {
    const pn = this.#chunkPn[chunk % CHUNK_RING];
    const slot = pn % PACKET_WINDOW;
    if (this.#sentChunk[slot] !== chunk) return;
    // The chunk's last packet is taken as the one that arrived (for the window and the
    // controller), but a resent chunk's ACK may be for an earlier packet: taking its last
    // packet number as received would declare every packet sent before it lost.
    if (this.#resent[chunk % CHUNK_RING] === 0) this.#onPacketAcked(pn);
    if (this.#state[slot] === IN_FLIGHT) {
      this.#state[slot] = 0;
      const bytes = this.#sentBytes[slot];
      this.#bytesInFlight -= bytes;
      this.controller.onAck(now, pn, bytes, this.#sentTime[slot], this.#priorInFlight);
    } else if (this.#state[slot] === LOST_BY_THRESHOLD) {
      // Declared lost, not resent yet, now acknowledged: it was reordered, not lost.
      this.#state[slot] = 0;
      this.#stats.spuriousLosses++;
      this.#reorderThreshold = Math.min(MAX_PACKET_THRESHOLD, this.#reorderThreshold * 2);
      this.controller.onSpuriousLoss(now, pn, this.#sentBytes[slot]);
    }
  }

  /**
   * Ends an ACK frame: `progress` tells whether it acknowledged new data. Re-arms the
   * retransmission timer, runs loss detection and tells the controller.
   */
  onAckFrameEnd(now: number, nextPn: number, progress: boolean): void {
    if (progress) {
      this.backoff = 1;
      this.rtoAt = this.#bytesInFlight > 0 ? now + this.rtt.rto() : undefined;
    }
    if (this.#bytesInFlight === 0 && this.probeAt === undefined) {
      this.backoff = 1;
      this.probeAt = now + this.retryInterval();
    }
    this.#detectLosses(now, nextPn);
    this.controller.onAckEnd(now, this.#bytesInFlight, this.rtt);
  }

  #onPacketAcked(pn: number): void {
    const stripe = pn % this.#largestAcked.length;
    if (pn > this.#largestAcked[stripe]) this.#largestAcked[stripe] = pn;
  }

  /**
   * RFC 9002 §6.1: packet- and time-threshold loss detection over the oldest packets,
   * each stripe on its own: a packet is lost once a packet sent #reorderThreshold later on
   * its stripe was acknowledged, or a later one of its stripe was and the time threshold
   * passed. The scan stops once every stripe has reached a packet that is not lost yet.
   */
  #detectLosses(now: number, nextPn: number): void {
    this.lossAt = undefined;
    const delay = Math.max(
      TIME_THRESHOLD * Math.max(this.rtt.smoothed, this.rtt.latest),
      TIMER_GRANULARITY_MS,
    );
    const stripes = this.#largestAcked.length;
    const done = this.#stripeDone;
    done.fill(0);
    let open = stripes;
    let prefix = true; // nothing in flight from #oldestPn up to pn
    for (let pn = this.#oldestPn; pn < nextPn && open > 0; pn++) {
      const slot = pn % PACKET_WINDOW;
      if (this.#state[slot] === IN_FLIGHT) {
        const stripe = pn % stripes;
        if (done[stripe] === 1) {
          prefix = false;
          continue;
        }
        const largest = this.#largestAcked[stripe];
        const sent = this.#sentTime[slot];
        if (
          pn > largest || (pn + this.#reorderThreshold * stripes > largest && sent + delay > now)
        ) {
          // Not lost (yet); nor is any later packet of this stripe.
          if (pn <= largest) this.lossAt = minTime(this.lossAt, sent + delay);
          done[stripe] = 1;
          open--;
          prefix = false;
          continue;
        }
        this.#declareLost(pn, now, LOST_BY_THRESHOLD);
      }
      if (prefix) this.#oldestPn = pn + 1;
    }
  }

  #declareLost(pn: number, now: number, how: number): void {
    const slot = pn % PACKET_WINDOW;
    this.#state[slot] = how;
    const bytes = this.#sentBytes[slot];
    this.#bytesInFlight -= bytes;
    this.#onLost(this.#sentChunk[slot]);
    this.controller.onLost(now, pn, bytes, this.#sentTime[slot]);
    this.#stats.lostPackets++;
  }

  /**
   * Runs the timers due at `now`: the loss timer, and the retransmission timer, which
   * declares everything in flight lost. Returns whether the probe timer is due too (the
   * caller sends a HELLO or a PING and re-arms it by sending).
   */
  onTimeout(now: number, nextPn: number): boolean {
    if (this.lossAt !== undefined && now >= this.lossAt) this.#detectLosses(now, nextPn);
    if (this.rtoAt !== undefined && now >= this.rtoAt) {
      this.rtoAt = undefined;
      this.#stats.rtoExpirations++;
      for (let pn = this.#oldestPn; pn < nextPn; pn++) {
        if (this.#state[pn % PACKET_WINDOW] === IN_FLIGHT) {
          this.#declareLost(pn, now, LOST_BY_TIMEOUT);
        }
      }
      this.#oldestPn = nextPn;
      this.lossAt = undefined;
      this.controller.onTimeout(now);
      this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF);
    }
    if (this.probeAt !== undefined && now >= this.probeAt) {
      this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF);
      this.probeAt = undefined; // re-armed when the HELLO or PING leaves
      return true;
    }
    return false;
  }

  /** Arms the probe timer (waits for DONE, or for the window to open). */
  armProbe(now: number): void {
    this.probeAt = now + this.retryInterval();
  }

  /** Stops every timer (the transfer is over). */
  stopTimers(): void {
    this.probeAt = undefined;
    this.rtoAt = undefined;
    this.lossAt = undefined;
  }

  /** The earliest timer, if any is armed. */
  nextTimeout(): number | undefined {
    return minTime(minTime(this.probeAt, this.rtoAt), this.lossAt);
  }

  /**
   * Wait before a retransmission timeout, a HELLO retransmission or a probe: the backed-off
   * RTO, at most MAX_RTO_MS and a tenth of the idle timeout (RETRIES_PER_IDLE).
   */
  retryInterval(): number {
    return Math.min(
      this.rtt.rto() * this.backoff,
      MAX_RTO_MS,
      this.#idleTimeoutMs / RETRIES_PER_IDLE,
    );
  }
}

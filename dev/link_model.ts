/**
 * One direction of an emulated network path, in whatever time its caller keeps: a
 * bottleneck of a given rate behind a drop-tail queue, a one-way propagation delay, and
 * loss after the bottleneck — random (each packet on its own) and in bursts (a
 * Gilbert-Elliott chain). The transfer simulator runs it in virtual time, the UDP path
 * emulator (path_emulator.ts) in real time, so tests on either see the same link.
 *
 * ```ts
 * import { mulberry32 } from "../shared/random.ts";
 * declare const now: number, datagram: Uint8Array;
 * declare function deliverAt(at: number, datagram: Uint8Array): void;
 * const link = new LinkModel({ mbps: 50, delayMs: 20, queueMs: 50, loss: 0.01 }, mulberry32(1));
 * const at = link.transmit(now, datagram.length); // arrival time, or undefined: dropped
 * if (at !== undefined) deliverAt(at, datagram);
 * ```
 *
 * Lost packets have crossed the bottleneck (they used its capacity), so the best a
 * transfer can do is rate × (1 − loss).
 *
 * @module
 */

/** Burst loss: a two-state Markov chain stepped once per packet (Gilbert-Elliott). */
export interface BurstLoss {
  /** Probability, per packet, of going from the good state to the bad one. */
  enterBad: number;
  /** Probability, per packet, of going back from the bad state to the good one. */
  leaveBad: number;
  /** Loss probability in the bad state. Default 1. */
  lossBad?: number;
  /** Loss probability in the good state. Default 0. */
  lossGood?: number;
}

/** What a link direction does to the packets that cross it. */
export interface LinkOptions {
  /** Bottleneck rate in Mbit/s (10^6 bits per second). Default: no bottleneck. */
  mbps?: number;
  /** One-way propagation delay (ms). Default 0. */
  delayMs?: number;
  /** Drop-tail queue before the bottleneck, in bytes. Default: `queueMs` at the rate. */
  queueBytes?: number;
  /** Drop-tail queue as time at the bottleneck rate (ms). Default 50. */
  queueMs?: number;
  /** Probability a packet is lost, each on its own. Default 0. */
  loss?: number;
  /** Burst loss on top of `loss`. Default none. */
  burst?: BurstLoss;
  /**
   * Bytes each packet takes at the bottleneck beyond the datagram (IP and UDP headers:
   * 28 for IPv4). Default 0: the rate is of datagram bytes.
   */
  overheadBytes?: number;
}

/** Counters of one link direction. */
export interface LinkStats {
  /** Packets offered to the link. */
  packets: number;
  /** Packets (and their bytes) that arrive. */
  delivered: number;
  deliveredBytes: number;
  /** Dropped because the queue was full. */
  queueDrops: number;
  /** Lost at random or in a burst. */
  lost: number;
  /** Most bytes ever waiting in the queue. */
  maxQueueBytes: number;
}

/**
 * Burst loss with mean loss `meanLoss` in bursts of `meanBurst` packets on average (every
 * packet of a burst lost).
 * @throws {RangeError} unless 0 ≤ meanLoss < 1 and meanBurst ≥ 1.
 */
export function burstLoss(meanLoss: number, meanBurst: number): BurstLoss {
  if (!(meanLoss >= 0 && meanLoss < 1) || !(meanBurst >= 1)) {
    throw new RangeError(`Cannot model burst loss: ${meanLoss} in bursts of ${meanBurst}`);
  }
  const leaveBad = 1 / meanBurst;
  return { enterBad: meanLoss * leaveBad / (1 - meanLoss), leaveBad, lossBad: 1 };
}

/** One direction of an emulated path. */
export class LinkModel {
  readonly stats: LinkStats = {
    packets: 0,
    delivered: 0,
    deliveredBytes: 0,
    queueDrops: 0,
    lost: 0,
    maxQueueBytes: 0,
  };
  /** Random loss probability; may be changed while the link runs. */
  loss: number;
  /** Burst loss; may be changed (or removed) while the link runs. */
  burst: BurstLoss | undefined;
  /** Bytes per ms (Infinity without a bottleneck). */
  readonly rate: number;
  readonly delayMs: number;
  readonly queueBytes: number;
  readonly overheadBytes: number;
  readonly #rng: () => number;
  #busyUntil = 0;
  /** The end of the last stall (ms). */
  #stallUntil = 0;
  #bad = false;

  /** @param rng random numbers in [0, 1) (seeded, for repeatable runs). */
  constructor(options: LinkOptions, rng: () => number) {
    this.rate = options.mbps === undefined ? Infinity : options.mbps * 1e6 / 8 / 1000;
    this.delayMs = options.delayMs ?? 0;
    this.queueBytes = options.queueBytes ??
      (Number.isFinite(this.rate) ? (options.queueMs ?? 50) * this.rate : Infinity);
    this.loss = options.loss ?? 0;
    this.burst = options.burst;
    this.overheadBytes = options.overheadBytes ?? 0;
    this.#rng = rng;
  }

  /** Bytes waiting at the bottleneck at `now` (the packet being sent included). */
  backlog(now: number): number {
    if (!Number.isFinite(this.rate)) return 0;
    // Time of a stall ahead holds no bytes: what waits behind it is what was sent.
    const stalled = Math.max(0, Math.min(this.#stallUntil, this.#busyUntil) - now);
    return Math.max(0, this.#busyUntil - now - stalled) * this.rate;
  }

  /** Queueing delay a packet entering at `now` would see (ms). */
  queueDelay(now: number): number {
    return Math.max(0, this.#busyUntil - now);
  }

  /**
   * The bottleneck pauses for `ms` (after what it has queued already): what arrives
   * meanwhile queues behind the pause and is dropped once the queue is full, as when a
   * receiving thread is descheduled and its socket buffer fills.
   */
  stall(now: number, ms: number): void {
    this.#busyUntil = Math.max(this.#busyUntil, now) + ms;
    this.#stallUntil = Math.max(this.#stallUntil, now) + ms;
  }

  /**
   * A datagram of `bytes` enters the link at `now`: returns when it arrives at the far
   * end, or undefined when the queue is full or it is lost. Arrival times never go
   * backwards (one link delivers in order).
   */
  transmit(now: number, bytes: number): number | undefined {
    this.stats.packets++;
    const size = bytes + this.overheadBytes;
    let departure = now;
    if (Number.isFinite(this.rate)) {
      const backlog = this.backlog(now);
      if (backlog + size > this.queueBytes) {
        this.stats.queueDrops++;
        return undefined;
      }
      if (backlog + size > this.stats.maxQueueBytes) this.stats.maxQueueBytes = backlog + size;
      departure = Math.max(now, this.#busyUntil) + size / this.rate;
      this.#busyUntil = departure;
    }
    if (this.#lost()) {
      this.stats.lost++;
      return undefined;
    }
    this.stats.delivered++;
    this.stats.deliveredBytes += bytes;
    return departure + this.delayMs;
  }

  #lost(): boolean {
    const random = this.loss > 0 && this.#rng() < this.loss;
    const b = this.burst;
    if (b === undefined) return random;
    this.#bad = this.#bad ? this.#rng() >= b.leaveBad : this.#rng() < b.enterBad;
    const p = this.#bad ? (b.lossBad ?? 1) : (b.lossGood ?? 0);
    return (p > 0 && this.#rng() < p) || random;
  }
}

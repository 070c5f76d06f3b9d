/**
 * A UDP path emulator for tests and benchmarks, loopback only: the client sends to
 * `emulator.port`, the emulator forwards to `target` from a second socket and carries the
 * answers back. Each direction can cross an emulated link (link_model.ts: a bottleneck of
 * a given rate behind a drop-tail queue, a one-way delay, random and burst loss), so a
 * real transfer over real sockets meets the path the simulator models in virtual time;
 * and it can drop, duplicate and reorder (swap adjacent datagrams) on its own, with a
 * seeded PRNG. Bounded: the link's queue, and at most one held datagram per direction,
 * flushed within 5 ms. Datagrams are received into recycled buffers and forwarded without
 * a copy: an emulator that falls behind overflows its socket, dropping more than asked.
 *
 * ```ts
 * declare const port: number; // where the datagrams should go
 * const emulator = await PathEmulator.open({
 *   target: { hostname: "127.0.0.1", port },
 *   link: { mbps: 20, delayMs: 15, queueMs: 50, loss: 0.01 }, // each direction
 * });
 * // send to 127.0.0.1:emulator.port instead of port
 * await emulator.close();
 * ```
 *
 * Timers fire about a millisecond late, so datagrams leave in bunches of that much
 * sending time; the queue and the rate are kept exactly.
 *
 * @module
 */

import { mulberry32 } from "../shared/random.ts";
import { LinkModel, type LinkOptions } from "./link_model.ts";

/** Options of {@linkcode PathEmulator.open}. */
export interface PathEmulatorOptions {
  /** Where datagrams from the client go; must be a 127.x address. */
  target: { hostname: string; port: number };
  /** The link each direction crosses (both alike unless `reverseLink` is given). */
  link?: LinkOptions;
  /** The link from the target back to the client. Default: `link`. */
  reverseLink?: LinkOptions;
  /** Probability a datagram is dropped before the link. Default 0. */
  loss?: number;
  /** Probability a datagram is sent twice. Default 0. */
  duplicate?: number;
  /** Probability a datagram is held back behind the next one. Default 0. */
  reorder?: number;
  /** PRNG seed. Default 1. */
  seed?: number;
  /** Scripted drops: true drops the datagram (`toTarget`: from the client). */
  drop?: (datagram: Uint8Array, toTarget: boolean) => boolean;
}

/** Counters per emulator. */
export interface PathEmulatorStats {
  forwarded: number;
  /** Dropped by `loss` or `drop` (the links count their own drops). */
  dropped: number;
  duplicated: number;
  reordered: number;
}

const HOLD_MS = 5;
const BUFFER_SIZE = 65536;

interface Lane {
  out: Deno.DatagramConn;
  held: Uint8Array | undefined;
  heldTimer: ReturnType<typeof setTimeout> | undefined;
  /** The emulated link, if any, and what crosses it: FIFO by arrival time. */
  link: LinkModel | undefined;
  inFlight: Array<{ at: number; data: Uint8Array }>;
  inFlightHead: number;
  linkTimer: ReturnType<typeof setTimeout> | undefined;
}

/** A two-socket path emulator on 127.0.0.1. */
export class PathEmulator {
  /** Port the client sends to. */
  readonly port: number;
  readonly stats: PathEmulatorStats = {
    forwarded: 0,
    dropped: 0,
    duplicated: 0,
    reordered: 0,
  };
  readonly #front: Deno.DatagramConn;
  readonly #back: Deno.DatagramConn;
  readonly #target: Deno.NetAddr;
  readonly #rng: () => number;
  readonly #loss: number;
  readonly #duplicate: number;
  readonly #reorder: number;
  readonly #drop: ((datagram: Uint8Array, toTarget: boolean) => boolean) | undefined;
  #client: Deno.NetAddr | undefined;
  #closed = false;
  readonly #loops: Promise<void>[];
  readonly #pending = new Set<Promise<unknown>>();
  /** Receive buffers not in use (one comes back when the last send of its datagram ends). */
  readonly #free: Uint8Array[] = [];
  readonly #toTarget: Lane;
  readonly #toClient: Lane;

  private constructor(options: PathEmulatorOptions) {
    if (!options.target.hostname.startsWith("127.")) {
      throw new TypeError(
        `Cannot emulate a path: target "${options.target.hostname}" is not loopback`,
      );
    }
    this.#front = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    this.#back = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    this.port = (this.#front.addr as Deno.NetAddr).port;
    this.#target = { transport: "udp", ...options.target };
    this.#rng = mulberry32(options.seed ?? 1);
    this.#loss = options.loss ?? 0;
    this.#duplicate = options.duplicate ?? 0;
    this.#reorder = options.reorder ?? 0;
    this.#drop = options.drop;
    const lane = (out: Deno.DatagramConn, link: LinkOptions | undefined): Lane => ({
      out,
      held: undefined,
      heldTimer: undefined,
      link: link === undefined ? undefined : new LinkModel(link, this.#rng),
      inFlight: [],
      inFlightHead: 0,
      linkTimer: undefined,
    });
    this.#toTarget = lane(this.#back, options.link);
    this.#toClient = lane(this.#front, options.reverseLink ?? options.link);
    this.#loops = [this.#run(this.#front, true), this.#run(this.#back, false)];
  }

  /** Opens the emulator. */
  static open(options: PathEmulatorOptions): Promise<PathEmulator> {
    return Promise.resolve(new PathEmulator(options));
  }

  /** The emulated link from the client to the target, if any (its counters, its loss). */
  get link(): LinkModel | undefined {
    return this.#toTarget.link;
  }

  /** The emulated link from the target back to the client, if any. */
  get reverseLink(): LinkModel | undefined {
    return this.#toClient.link;
  }

  async #run(socket: Deno.DatagramConn, fromClient: boolean): Promise<void> {
    while (!this.#closed) {
      const buffer = this.#free.pop() ?? new Uint8Array(BUFFER_SIZE);
      let data: Uint8Array;
      let from: Deno.NetAddr;
      try {
        const [d, a] = await socket.receive(buffer);
        data = d;
        from = a as Deno.NetAddr;
      } catch {
        return;
      }
      if (fromClient) {
        this.#client ??= from;
        this.#forward(this.#toTarget, this.#target, data);
      } else if (this.#client !== undefined) {
        this.#forward(this.#toClient, this.#client, data);
      } else {
        this.#recycle(data);
      }
    }
  }

  /** Takes `data` (a view of a receive buffer) and, when done with it, recycles its buffer. */
  #forward(lane: Lane, to: Deno.NetAddr, data: Uint8Array): void {
    if (
      (this.#drop?.(data, lane === this.#toTarget) ?? false) || this.#rng() < this.#loss
    ) {
      this.stats.dropped++;
      this.#recycle(data);
      return;
    }
    if (lane.held === undefined && this.#rng() < this.#reorder) {
      this.stats.reordered++;
      lane.held = data;
      lane.heldTimer = setTimeout(() => this.#release(lane, to), HOLD_MS);
      return;
    }
    if (this.#rng() < this.#duplicate) {
      this.stats.duplicated++;
      this.#cross(lane, to, data.slice()); // its own buffer: each send recycles what it sent
    }
    this.#cross(lane, to, data);
    this.#release(lane, to);
  }

  /** Sends `data` across the lane's link (at the time it arrives), or at once without one. */
  #cross(lane: Lane, to: Deno.NetAddr, data: Uint8Array): void {
    if (lane.link === undefined) return this.#send(lane, to, data);
    const at = lane.link.transmit(performance.now(), data.length);
    if (at === undefined) return this.#recycle(data);
    lane.inFlight.push({ at, data });
    if (lane.linkTimer === undefined) this.#arm(lane, to);
  }

  /** Delivers what has arrived, then waits for the next arrival. */
  #arm(lane: Lane, to: Deno.NetAddr): void {
    const now = performance.now();
    while (lane.inFlightHead < lane.inFlight.length) {
      const next = lane.inFlight[lane.inFlightHead];
      if (next.at > now) {
        lane.linkTimer = setTimeout(() => this.#arm(lane, to), next.at - now);
        return;
      }
      lane.inFlightHead++;
      this.#send(lane, to, next.data);
    }
    lane.inFlight = [];
    lane.inFlightHead = 0;
    lane.linkTimer = undefined;
  }

  #recycle(data: Uint8Array): void {
    if (data.buffer.byteLength === BUFFER_SIZE) {
      this.#free.push(new Uint8Array(data.buffer as ArrayBuffer));
    }
  }

  #release(lane: Lane, to: Deno.NetAddr): void {
    if (lane.held === undefined) return;
    clearTimeout(lane.heldTimer);
    const held = lane.held;
    lane.held = undefined;
    lane.heldTimer = undefined;
    this.#cross(lane, to, held);
  }

  #send(lane: Lane, to: Deno.NetAddr, data: Uint8Array): void {
    if (this.#closed) return;
    this.stats.forwarded++;
    const p = lane.out.send(data, to).catch(() => 0);
    this.#pending.add(p);
    p.finally(() => {
      this.#pending.delete(p);
      this.#recycle(data);
    });
  }

  /** Closes both sockets and waits for the loops and sends to end (in-flight datagrams are lost). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const lane of [this.#toTarget, this.#toClient]) {
      clearTimeout(lane.heldTimer);
      clearTimeout(lane.linkTimer);
    }
    await Promise.allSettled([...this.#pending]);
    this.#front.close();
    this.#back.close();
    await Promise.all(this.#loops);
  }
}

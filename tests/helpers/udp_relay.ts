/**
 * A lossy UDP relay for tests and benchmarks, loopback only: the client sends to
 * `relay.port`, the relay forwards to `target` from a second socket and relays answers
 * back. Each direction drops, duplicates and reorders (swaps adjacent datagrams) with a
 * seeded PRNG. Bounded: at most one held datagram per direction, flushed within 5 ms.
 * Datagrams are received into recycled buffers and forwarded without a copy: a fresh
 * 64 KiB array per datagram costs the relay more than the forwarding, and a relay that
 * falls behind overflows its socket, dropping more than it was asked to.
 *
 * ```ts
 * declare const port: number; // where the datagrams should go
 * const relay = await UdpRelay.open({ target: { hostname: "127.0.0.1", port }, loss: 0.05 });
 * // send to 127.0.0.1:relay.port instead of port
 * await relay.close();
 * ```
 *
 * @module
 */

import { mulberry32 } from "./random.ts";

/** Options of {@linkcode UdpRelay.open}. */
export interface UdpRelayOptions {
  /** Where datagrams from the client go; must be a 127.x address. */
  target: { hostname: string; port: number };
  /** Probability a datagram is dropped. Default 0. */
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

/** Counters per relay. */
export interface UdpRelayStats {
  forwarded: number;
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
}

/** A two-socket impairing relay on 127.0.0.1. */
export class UdpRelay {
  /** Port the client sends to. */
  readonly port: number;
  readonly stats: UdpRelayStats = { forwarded: 0, dropped: 0, duplicated: 0, reordered: 0 };
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

  private constructor(options: UdpRelayOptions) {
    if (!options.target.hostname.startsWith("127.")) {
      throw new TypeError(`Cannot relay: target "${options.target.hostname}" is not loopback`);
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
    this.#toTarget = { out: this.#back, held: undefined, heldTimer: undefined };
    this.#toClient = { out: this.#front, held: undefined, heldTimer: undefined };
    this.#loops = [this.#run(this.#front, true), this.#run(this.#back, false)];
  }

  /** Opens the relay. */
  static open(options: UdpRelayOptions): Promise<UdpRelay> {
    return Promise.resolve(new UdpRelay(options));
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
      this.#send(lane, to, data.slice()); // its own buffer: each send recycles what it sent
    }
    this.#send(lane, to, data);
    this.#release(lane, to);
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
    this.#send(lane, to, held);
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

  /** Closes both sockets and waits for the loops and sends to end. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const lane of [this.#toTarget, this.#toClient]) clearTimeout(lane.heldTimer);
    await Promise.allSettled([...this.#pending]);
    this.#front.close();
    this.#back.close();
    await Promise.all(this.#loops);
  }
}

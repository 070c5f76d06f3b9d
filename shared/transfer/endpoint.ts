/**
 * The sans-IO transfer endpoint: routes datagrams to transfers by transfer id, checks
 * where they come from, and says where each outgoing datagram goes. It never touches a
 * socket or a clock: the driver (client/transfer_driver.ts) hands it datagrams with their
 * source address and the time, and asks what to send, where, and when to wake up — as
 * quinn's `Endpoint` does for QUIC connections.
 *
 * ```ts
 * const endpoint = new Endpoint();
 * const link = endpoint.addSender(new TransferSender(options, now), { hostname, port });
 * // on every datagram:
 * const touched = endpoint.handleDatagram(bytes, from, now); // the link to run, if any
 * // after feeding the machine file data:
 * for (let t; (t = link.pollTransmit(now, buffer));) socket.send(t.bytes, t.to);
 * // sleep until endpoint.pollTimeout(), then link.handleTimeout(now) for every link due
 * ```
 *
 * Rules: datagrams too short or not of this protocol, for unknown transfer ids, or not
 * from the transfer's peer are dropped and counted in `stats`; the machines drop and
 * count the unauthentic, malformed and replayed ones.
 *
 * @module
 */

import { type Address, normalizeHost } from "../address.ts";
import { peekTransferId } from "./packet.ts";
import { Path } from "./path.ts";
import type { TransferReceiver } from "./receiver.ts";
import { TransferSender } from "./sender.ts";

/** A datagram to send and where to. */
export interface Transmit {
  bytes: Uint8Array;
  to: Address;
}

/** Counters of an endpoint; transfers keep their own in their machines' `stats`. */
export interface EndpointStats {
  datagramsReceived: number;
  /** Too short, or not of this protocol. */
  droppedMalformed: number;
  /** Well-formed but for a transfer this endpoint does not know. */
  droppedUnknownTransfer: number;
  /** For a known transfer, but not from its peer's address. */
  droppedWrongAddress: number;
}

/** Either state machine. */
export type TransferMachineOf = TransferSender | TransferReceiver;

/** One transfer as the endpoint sees it: its machine and the path to its peer. */
export class Link {
  readonly id: string;
  readonly machine: TransferMachineOf;
  /** The only host datagrams are accepted from (normalised). */
  readonly #peerHost: string;
  #path: Path | undefined;
  /** Sender: the path's address and the peer's extra ports (striping), once known. */
  #stripes: Address[] = [];

  constructor(machine: TransferMachineOf, peerHost: string, path: Path | undefined) {
    this.id = machine.id;
    this.machine = machine;
    this.#peerHost = normalizeHost(peerHost);
    this.#path = path;
  }

  /** The path in use; for a receiver, undefined until the sender's first authentic datagram. */
  get path(): Path | undefined {
    return this.#path;
  }

  /** How many of the peer's sockets the datagrams are spread over (1 without striping). */
  get stripes(): number {
    return Math.max(1, this.#stripes.length);
  }

  /**
   * A datagram for this transfer arrived from `from`. Returns false, touching nothing,
   * when it does not come from the peer.
   */
  accepts(from: Address): boolean {
    if (normalizeHost(from.hostname) !== this.#peerHost) return false;
    return this.#path === undefined || this.#path.address.port === from.port;
  }

  /** Feeds a datagram from the peer to the machine; learns the peer's port from the first. */
  receive(bytes: Uint8Array, from: Address, now: number): void {
    const authentic = this.machine.handleDatagram(bytes, now);
    if (!authentic) return;
    this.#path ??= new Path(from);
    this.#path.heard(now);
  }

  /** The machine's next deadline. */
  pollTimeout(): number | undefined {
    return this.machine.pollTimeout();
  }

  /** Runs the machine's timers if they are due. */
  handleTimeout(now: number): void {
    const deadline = this.machine.pollTimeout();
    if (deadline !== undefined && deadline <= now) this.machine.handleTimeout(now);
  }

  /**
   * The next datagram to send and where to, or undefined when nothing is due (or the
   * peer's address is not known yet). `out`, when given, is where it may be built (see
   * the machines' `pollTransmit`).
   */
  pollTransmit(now: number, out?: Uint8Array): Transmit | undefined {
    const path = this.#path;
    if (path === undefined) return undefined;
    const m = this.machine;
    if (this.#stripes.length === 0 && m instanceof TransferSender && m.extraPorts.length > 0) {
      this.#stripes = [path.address, ...m.extraPorts.map((port) => ({ ...path.address, port }))];
    }
    const bytes = m.pollTransmit(now, out);
    if (bytes === undefined) return undefined;
    // Striping: the sender says which of the peer's sockets each datagram takes.
    const to = this.#stripes.length > 0
      ? this.#stripes[(m as TransferSender).stripe]
      : path.address;
    return { bytes, to };
  }
}

/** Any number of transfers, demultiplexed by transfer id. */
export class Endpoint {
  readonly stats: EndpointStats = {
    datagramsReceived: 0,
    droppedMalformed: 0,
    droppedUnknownTransfer: 0,
    droppedWrongAddress: 0,
  };
  readonly #links = new Map<string, Link>();

  /** Number of transfers known. */
  get size(): number {
    return this.#links.size;
  }

  /** The transfers known, in the order they were added. */
  links(): IterableIterator<Link> {
    return this.#links.values();
  }

  get(id: string): Link | undefined {
    return this.#links.get(id);
  }

  /**
   * A sending transfer to the receiver at `to`; datagrams for it are accepted only from
   * exactly that address.
   * @throws {TypeError} when the id is in use.
   */
  addSender(machine: TransferSender, to: Address): Link {
    return this.#add(new Link(machine, to.hostname, new Path(to)));
  }

  /**
   * A receiving transfer whose sender is at `peerHost`; its port is learnt from the first
   * authentic datagram, and from then on only that host and port is accepted.
   * @throws {TypeError} when the id is in use.
   */
  addReceiver(machine: TransferReceiver, peerHost: string): Link {
    return this.#add(new Link(machine, peerHost, undefined));
  }

  /** Forgets a transfer. */
  remove(id: string): void {
    this.#links.delete(id);
  }

  /**
   * A datagram arrived from `from`. Returns the transfer it was fed to (its driver should
   * run it), or undefined when it was dropped and counted.
   */
  handleDatagram(bytes: Uint8Array, from: Address, now: number): Link | undefined {
    this.stats.datagramsReceived++;
    const id = peekTransferId(bytes);
    if (id === undefined) {
      this.stats.droppedMalformed++;
      return undefined;
    }
    const link = this.#links.get(id);
    if (link === undefined) {
      this.stats.droppedUnknownTransfer++;
      return undefined;
    }
    if (!link.accepts(from)) {
      this.stats.droppedWrongAddress++;
      return undefined;
    }
    link.receive(bytes, from, now);
    return link;
  }

  /** The earliest deadline of any transfer. */
  pollTimeout(): number | undefined {
    let next: number | undefined;
    for (const link of this.#links.values()) {
      const d = link.pollTimeout();
      if (d !== undefined && (next === undefined || d < next)) next = d;
    }
    return next;
  }

  #add(link: Link): Link {
    if (this.#links.has(link.id)) {
      throw new TypeError(`Cannot start transfer: id "${link.id}" is already in use`);
    }
    this.#links.set(link.id, link);
    return link;
  }
}

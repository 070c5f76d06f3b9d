/**
 * The sans-IO transfer endpoint: routes datagrams to transfers by transfer id, finds a
 * path to each peer through NATs, and says where each outgoing datagram goes. It never
 * touches a socket or a clock: the driver (client/transfer_driver.ts) hands it datagrams
 * with their source address and the time, and asks what to send, where, and when to wake
 * up — as quinn's `Endpoint` does for QUIC connections.
 *
 * ```ts
 * import type { Address } from "../address.ts";
 * import { type SenderOptions, TransferSender } from "./sender.ts";
 *
 * declare const options: SenderOptions, secret: string, now: number;
 * declare const peer: Address, server: Address, hostCandidate: Address;
 * declare const socket: { send(bytes: Uint8Array, to: Address): void };
 * declare const datagram: Uint8Array, from: Address, buffer: Uint8Array;
 * const endpoint = new Endpoint();
 * const link = endpoint.addSender(new TransferSender(options, now), {
 *   secret, candidates: [peer], server, hostCandidates: [hostCandidate], now,
 * });
 * const touched = endpoint.handleDatagram(datagram, from, now); // the link to run, if any
 * for (let t; (t = (touched ?? link).pollTransmit(now, buffer));) socket.send(t.bytes, t.to);
 * // sleep until endpoint.pollTimeout(), then link.handleTimeout(now) for every link
 * ```
 *
 * Per transfer (a {@link Link}):
 * - **Binding**: with a server UDP address, BIND_REQUESTs announce the host candidates
 *   and learn the server-reflexive address and the peer's candidates; refreshed every
 *   {@link BIND_REFRESH_MS} so the NAT keeps the mapping the relay uses.
 * - **Probing**: PROBEs go to every candidate at once, in rounds, and to the relay; a
 *   PROBE from an address not yet known adds it (peer-reflexive). A path is *heard* once an
 *   authentic packet came from it, *confirmed* once a PROBE sent on it was answered.
 * - **Key exchange**: every PROBE and PROBE_ACK carries this side's X25519 public key; the
 *   machine's secret is derived from both, salted with the server's transfer secret, so
 *   the relay (which knows that secret) cannot read or forge the transfer's datagrams.
 * - **Path choice**: the sender uses the first confirmed direct path; if none is confirmed
 *   {@link DIRECT_WAIT_MS} after the start and the relay path is, the relay; and moves to a
 *   direct path as soon as one is confirmed (probing goes on while relayed); back to the
 *   relay when the direct path goes silent for {@link PATH_SILENCE_MS}. The receiver
 *   answers on the path the sender's last datagram came in on.
 * - **Address check**: transfer datagrams are accepted only from a heard path; control
 *   packets from anywhere, but only when their tag verifies.
 *
 * @module
 */

import { type Address, addressKey, isLoopback, normalizeAddress } from "../address.ts";
import {
  ControlCodec,
  type ControlPacket,
  ControlType,
  isControlPacket,
  KeyExchange,
  MAX_CANDIDATES,
  peekControlId,
  type ProbeFrame,
  type RelayNotice,
  RelayRefusal,
  type Role,
} from "./control.ts";
import { CancelCode, peekTransferId, toHex } from "./packet.ts";
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
  /** A transfer datagram from an address its peer was not heard on. */
  droppedWrongAddress: number;
  /** A control packet whose tag did not verify, or that made no sense. */
  droppedUnauthentic: number;
}

/** Either state machine. */
export type TransferMachineOf = TransferSender | TransferReceiver;

/** The sender waits this long for a direct path before it takes the relay (ms). */
export const DIRECT_WAIT_MS = 2000;
/** Probe intervals of a path, one per round; the last repeats while it is unconfirmed (ms). */
export const PROBE_SCHEDULE_MS = [0, 100, 100, 200, 200, 400, 500, 1000];
/** BIND_REQUEST retransmission until the server answered with the peer's candidates (ms). */
export const BIND_RETRY_MS = 200;
/** Binding refresh once it is complete: well inside conntrack's 30 s for idle UDP (ms). */
export const BIND_REFRESH_MS = 10_000;
/** Paths (candidates) one transfer probes, at most. */
export const MAX_PATHS = 16;
/**
 * A path that answered nothing to this many probes in a row is probed no more (about two
 * minutes of the schedule's 1 s steps): a relayed transfer keeps looking for a direct path
 * that long, and an address learnt from one probe cannot be sent probes for ever.
 */
export const MAX_UNANSWERED_PROBES = 120;
/** Probe txids remembered to refuse a replayed PROBE (which would be answered to its source). */
const SEEN_PROBES = 256;
/**
 * The sender leaves a direct path for the relay when it heard nothing on it for this long
 * (ms): the machine hears ACKs while data flows and answers to PINGs at least every second
 * otherwise, so three seconds of silence is a path that died (a NAT mapping dropped, a
 * network change), not a slow peer.
 */
export const PATH_SILENCE_MS = 3000;
/** Without a path, a transfer fails after this long by default (ms). */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** How a transfer is to reach its peer. */
export interface LinkOptions {
  /** The server's transfer secret (32 bytes, hex or base64). */
  secret: Uint8Array | string;
  /** Peer addresses known up front (the receiver's announced address, for a sender). */
  candidates?: Address[];
  /** The server's UDP port, where bindings and the relay are; none: direct only. */
  server?: Address;
  /** This side's own addresses with its socket's port, announced to the peer. */
  hostCandidates?: Address[];
  /** The time the transfer starts (ms). */
  now: number;
  /** Give up when no path answered for this long (ms). Default 10 000. */
  connectTimeoutMs?: number;
  /**
   * Only through the server's relay: no direct path is probed or answered, and no host
   * candidate is announced (the peer learns no address of ours but the relay's). For
   * benchmarks and tests of the relay. Default false.
   */
  relayOnly?: boolean;
}

/** A path as the link tracks it: the path and its probing state. */
interface Probing {
  path: Path;
  /** Probes sent on it. */
  sent: number;
  /** Probes sent since the peer was last heard on it. */
  unanswered: number;
  /** When the next probe is due; Infinity when it needs none. */
  nextAt: number;
  /** Whether a PROBE sent on it was answered (both directions work). */
  confirmed: boolean;
}

/** One transfer as the endpoint sees it: its machine, its paths, its key exchange. */
export class Link {
  readonly id: string;
  readonly role: Role;
  readonly machine: TransferMachineOf;
  readonly #codec: ControlCodec;
  readonly #secret: Uint8Array | string;
  readonly #kx = new KeyExchange();
  #peerKey: Uint8Array | undefined;
  readonly #paths = new Map<string, Probing>();
  /** Probes in flight: txid (hex) → the path it went out on. */
  readonly #txids = new Map<string, Probing>();
  /** Txids of the peer's probes answered lately (a replay is not answered again). */
  readonly #seenProbes = new Set<string>();
  readonly #control: Transmit[] = [];
  #active: Probing | undefined;
  #pathChanges = 0;
  readonly #startedAt: number;
  readonly #giveUpAt: number;
  /** Sender: the active path's address and the peer's extra ports (striping), once known. */
  #stripes: Address[] = [];
  #stripesFor: Probing | undefined;

  // Binding with the server's UDP port.
  readonly #server: Address | undefined;
  readonly #hostCandidates: Address[];
  #bindSeq = 0;
  #nextBindAt = Infinity;
  #peerCandidatesKnown = false;
  #relay: Probing | undefined;
  #relayNotice: RelayNotice | undefined;
  /** Where the server's binding answers came from. */
  #relayAddress: string | undefined;
  readonly #relayOnly: boolean;

  constructor(machine: TransferMachineOf, role: Role, options: LinkOptions) {
    this.id = machine.id;
    this.role = role;
    this.machine = machine;
    this.#secret = options.secret;
    this.#codec = new ControlCodec(machine.id, options.secret);
    this.#startedAt = options.now;
    this.#giveUpAt = options.now + (options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
    this.#server = options.server && normalizeAddress(options.server);
    this.#relayOnly = options.relayOnly ?? false;
    this.#hostCandidates = this.#relayOnly
      ? []
      : (options.hostCandidates ?? []).slice(0, MAX_CANDIDATES);
    if (this.#server !== undefined) this.#nextBindAt = options.now;
    for (const c of options.candidates ?? []) this.#addPath(c, "direct", options.now);
  }

  /** The path transfer datagrams take now; undefined until one was found. */
  get path(): Path | undefined {
    return this.#active?.path;
  }

  /** How many times the active path changed after the first was chosen. */
  get pathChanges(): number {
    return this.#pathChanges;
  }

  /** Whether the key exchange completed (the machine runs from then on). */
  get keyed(): boolean {
    return this.#peerKey !== undefined;
  }

  /** The relay's last word on why it dropped this transfer's datagrams, if it said any. */
  get relayNotice(): RelayNotice | undefined {
    return this.#relayNotice;
  }

  /** How many of the peer's sockets the datagrams are spread over (1 without striping). */
  get stripes(): number {
    return Math.max(1, this.#stripes.length);
  }

  /** A transfer datagram arrived from `from`; false (and nothing done) when its path was not heard. */
  receiveTransfer(bytes: Uint8Array, from: Address, now: number): boolean {
    const p = this.#paths.get(addressKey(from));
    if (p === undefined || !p.path.heard || !this.keyed) return false;
    const authentic = this.machine.handleDatagram(bytes, now);
    if (authentic) {
      p.path.hear(now);
      // The receiver answers where the sender's datagrams come from.
      if (this.role === "receiver" && this.#active !== p) this.#setActive(p);
    }
    return true;
  }

  /** A control packet arrived from `from`; false when it is not authentic. */
  receiveControl(bytes: Uint8Array, from: Address, now: number): boolean {
    const packet = this.#codec.open(bytes);
    if (packet === undefined) return false;
    return this.#onControl(packet, normalizeAddress(from), now);
  }

  /** The earliest time handleTimeout() has work. */
  pollTimeout(): number | undefined {
    const m = this.machine;
    if (m.isClosed) return undefined;
    if (this.#control.length > 0) return this.#startedAt; // due now
    let t = this.#nextBindAt;
    for (const p of this.#paths.values()) if (p.nextAt < t) t = p.nextAt;
    if (this.role === "sender" && this.#active === undefined && this.#relay?.confirmed) {
      t = Math.min(t, this.#startedAt + DIRECT_WAIT_MS);
    }
    if (this.#mayFallBack()) t = Math.min(t, this.#active!.path.lastHeard + PATH_SILENCE_MS);
    // Until a path is found, the machine's only deadlines are the give-up and a cancel's linger.
    const machineAt = this.#running() || m.state === "closing" ? m.pollTimeout() : this.#giveUpAt;
    return Math.min(t, machineAt ?? Infinity);
  }

  /** Runs what is due: bindings, probes, the path choice, the machine's timers. */
  handleTimeout(now: number): void {
    const m = this.machine;
    if (m.isClosed) return;
    if (now >= this.#nextBindAt) this.#bind(now);
    for (const p of this.#paths.values()) if (now >= p.nextAt) this.#probe(p, now);
    this.#choosePath(now);
    if (this.#mayFallBack() && now - this.#active!.path.lastHeard >= PATH_SILENCE_MS) {
      this.#fallBack(now);
    }
    if (!this.#running()) {
      if (now >= this.#giveUpAt && m.state !== "closing") {
        const seconds = ((this.#giveUpAt - this.#startedAt) / 1000).toFixed(1);
        const why = this.#relayNotice === undefined ? "" : `; ${describeNotice(this.#relayNotice)}`;
        m.abort(
          CancelCode.Timeout,
          `Cannot complete transfer: no path to the peer answered for ${seconds} s${why}`,
          "no path",
          now,
        );
      }
      // No path: the CANCEL of a transfer that gave up or was cancelled cannot go anywhere.
      if (m.state === "closing") { while (m.pollTransmit(now) !== undefined); }
    }
    const deadline = m.pollTimeout();
    if (deadline !== undefined && deadline <= now && (this.#running() || m.state === "closing")) {
      m.handleTimeout(now);
    }
  }

  /**
   * The next datagram to send and where to, or undefined when nothing is due. Control
   * packets go first; transfer datagrams only once a path was chosen and the keys agreed.
   * `out`, when given, is where a transfer datagram may be built (see the machines'
   * `pollTransmit`).
   */
  pollTransmit(now: number, out?: Uint8Array): Transmit | undefined {
    const control = this.#control.shift();
    if (control !== undefined) return control;
    if (!this.#running()) return undefined;
    const active = this.#active!;
    const m = this.machine;
    const bytes = m.pollTransmit(now, out);
    if (bytes === undefined) return undefined;
    return { bytes, to: this.#stripeAddress(active) };
  }

  /** Where the sender's current datagram goes: its stripe on a direct loopback path. */
  #stripeAddress(active: Probing): Address {
    const m = this.machine;
    if (!(m instanceof TransferSender) || m.extraPorts.length === 0) return active.path.address;
    if (active.path.kind !== "direct" || !isLoopback(active.path.address.hostname)) {
      return active.path.address;
    }
    if (this.#stripesFor !== active) {
      const a = active.path.address;
      this.#stripes = [a, ...m.extraPorts.map((port) => ({ ...a, port }))];
      this.#stripesFor = active;
    }
    return this.#stripes[m.stripe];
  }

  /** Whether `address` is the server's UDP port (as configured, or as it answered). */
  #isServer(address: Address): boolean {
    const key = addressKey(address);
    return (this.#server !== undefined && key === addressKey(this.#server)) ||
      key === this.#relayAddress;
  }

  #running(): boolean {
    return this.keyed && this.#active !== undefined;
  }

  #onControl(packet: ControlPacket, from: Address, now: number): boolean {
    switch (packet.type) {
      case ControlType.Probe:
      case ControlType.ProbeAck: {
        if (packet.body.role === this.role) return false; // our own, reflected
        if (!this.#learnKey(packet.body, now)) return false;
        const relayed = this.#isServer(from);
        if (this.#relayOnly && !relayed) return true; // authentic, but not a path we take
        const p = this.#paths.get(addressKey(from)) ??
          this.#addPath(from, relayed ? "relay" : "direct", now);
        if (p === undefined) return false;
        p.path.hear(now);
        p.unanswered = 0;
        if (packet.type === ControlType.Probe) {
          const txid = toHex(packet.body.txid);
          if (this.#seenProbes.has(txid)) return true; // a replay, or a duplicate
          this.#seenProbes.add(txid);
          if (this.#seenProbes.size > SEEN_PROBES) {
            this.#seenProbes.delete(this.#seenProbes.values().next().value!);
          }
          this.#control.push({
            bytes: this.#codec.seal({
              type: ControlType.ProbeAck,
              body: { role: this.role, txid: packet.body.txid, publicKey: this.#kx.publicKey },
            }),
            to: p.path.address,
          });
        } else {
          const txid = toHex(packet.body.txid);
          const probed = this.#txids.get(txid);
          if (probed !== p) return true; // an old probe's, or from another address
          this.#txids.delete(txid);
          p.confirmed = true;
          p.nextAt = Infinity;
        }
        this.#choosePath(now);
        return true;
      }
      case ControlType.BindResponse: {
        if (this.#server === undefined || packet.body.seq !== this.#bindSeq) return false;
        if (packet.body.relay && this.#relay === undefined) {
          this.#relay = this.#addPath(from, "relay", now);
        }
        this.#relayAddress = addressKey(from);
        for (const c of packet.body.peer) this.#addPath(c, "direct", now);
        if (packet.body.peer.length > 0) this.#peerCandidatesKnown = true;
        this.#nextBindAt = now + (this.#peerCandidatesKnown ? BIND_REFRESH_MS : BIND_RETRY_MS);
        return true;
      }
      case ControlType.RelayNotice:
        if (!this.#isServer(from)) return false;
        this.#relayNotice = packet.body;
        return true;
      case ControlType.BindRequest:
        return false;
    }
  }

  /**
   * Takes the peer's public key from its first probe; refuses a different one later, and
   * any once the transfer ended before it found a path (its machine then takes no key).
   */
  #learnKey(frame: ProbeFrame, now: number): boolean {
    if (this.#peerKey !== undefined) {
      return this.#peerKey.every((b, i) => b === frame.publicKey[i]);
    }
    if (this.machine.state !== "handshake") return false;
    let secret: Uint8Array;
    try {
      secret = this.#kx.deriveSecret(frame.publicKey, this.#secret, this.id);
    } catch {
      return false;
    }
    this.#peerKey = frame.publicKey.slice();
    this.machine.rekey(secret, now);
    return true;
  }

  #addPath(address: Address, kind: Path["kind"], now: number): Probing | undefined {
    const path = new Path(address, kind);
    const known = this.#paths.get(path.key);
    if (known !== undefined) return known;
    if (this.#paths.size >= MAX_PATHS) return undefined;
    if (kind === "direct" && (this.#relayOnly || this.#isServer(address))) return undefined;
    const p: Probing = { path, sent: 0, unanswered: 0, nextAt: now, confirmed: false };
    this.#paths.set(path.key, p);
    return p;
  }

  #probe(p: Probing, now: number): void {
    if (p.confirmed || p.unanswered >= MAX_UNANSWERED_PROBES) {
      p.nextAt = Infinity;
      return;
    }
    const txid = crypto.getRandomValues(new Uint8Array(8));
    this.#txids.set(toHex(txid), p);
    if (this.#txids.size > 4 * MAX_PATHS) {
      this.#txids.delete(this.#txids.keys().next().value!);
    }
    this.#control.push({
      bytes: this.#codec.seal({
        type: ControlType.Probe,
        body: { role: this.role, txid, publicKey: this.#kx.publicKey },
      }),
      to: p.path.address,
    });
    p.sent++;
    p.unanswered++;
    const step = PROBE_SCHEDULE_MS[Math.min(p.sent, PROBE_SCHEDULE_MS.length - 1)];
    p.nextAt = now + step;
  }

  #bind(now: number): void {
    this.#bindSeq++;
    this.#control.push({
      bytes: this.#codec.seal({
        type: ControlType.BindRequest,
        body: { role: this.role, seq: this.#bindSeq, candidates: this.#hostCandidates },
      }),
      to: this.#server!,
    });
    this.#nextBindAt = now + (this.#peerCandidatesKnown ? BIND_REFRESH_MS : BIND_RETRY_MS);
  }

  /** The sender's rule: a confirmed direct path first; the relay after DIRECT_WAIT_MS. */
  #choosePath(now: number): void {
    if (this.role !== "sender" || !this.keyed) return;
    if (this.#active?.path.kind === "direct") return;
    for (const p of this.#paths.values()) {
      if (p.confirmed && p.path.kind === "direct") {
        this.#setActive(p);
        return;
      }
    }
    if (this.#active === undefined && this.#relay?.confirmed) {
      const noOtherWay = [...this.#paths.values()].every((p) => p === this.#relay);
      if (noOtherWay || now >= this.#startedAt + DIRECT_WAIT_MS) this.#setActive(this.#relay);
    }
  }

  /** Whether the sender is on a direct path and could fall back to a confirmed relay. */
  #mayFallBack(): boolean {
    return this.role === "sender" && this.#active?.path.kind === "direct" &&
      this.#relay?.confirmed === true && !this.machine.isClosed;
  }

  /** The direct path went silent: to the relay, and probe every direct path again. */
  #fallBack(now: number): void {
    this.#active!.confirmed = false;
    for (const p of this.#paths.values()) {
      if (p.confirmed) continue;
      p.nextAt = now;
      p.unanswered = 0;
    }
    this.#setActive(this.#relay!);
  }

  #setActive(p: Probing): void {
    if (this.#active !== undefined) {
      this.#pathChanges++;
      if (this.machine instanceof TransferSender) this.machine.onPathChange();
    }
    this.#active = p;
    // Probing goes on while relayed (a direct path may open); a direct one needs no more.
    if (p.path.kind === "direct") {
      for (const other of this.#paths.values()) if (!other.confirmed) other.nextAt = Infinity;
    }
  }
}

/** Any number of transfers, demultiplexed by transfer id. */
export class Endpoint {
  readonly stats: EndpointStats = {
    datagramsReceived: 0,
    droppedMalformed: 0,
    droppedUnknownTransfer: 0,
    droppedWrongAddress: 0,
    droppedUnauthentic: 0,
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
   * A sending transfer. @throws {TypeError} when the id is in use.
   */
  addSender(machine: TransferSender, options: LinkOptions): Link {
    return this.#add(new Link(machine, "sender", options));
  }

  /**
   * A receiving transfer. @throws {TypeError} when the id is in use.
   */
  addReceiver(machine: TransferReceiver, options: LinkOptions): Link {
    return this.#add(new Link(machine, "receiver", options));
  }

  /** Forgets a transfer. */
  remove(id: string): void {
    this.#links.delete(id);
  }

  /**
   * A datagram arrived from `from`. Returns the transfer it was for (its driver should
   * run it), or undefined when it was dropped and counted.
   */
  handleDatagram(bytes: Uint8Array, from: Address, now: number): Link | undefined {
    this.stats.datagramsReceived++;
    const control = isControlPacket(bytes);
    const id = control ? peekControlId(bytes) : peekTransferId(bytes);
    if (id === undefined) {
      this.stats.droppedMalformed++;
      return undefined;
    }
    const link = this.#links.get(id);
    if (link === undefined) {
      this.stats.droppedUnknownTransfer++;
      return undefined;
    }
    if (control) {
      if (!link.receiveControl(bytes, from, now)) {
        this.stats.droppedUnauthentic++;
        return undefined;
      }
    } else if (!link.receiveTransfer(bytes, from, now)) {
      this.stats.droppedWrongAddress++;
      return undefined;
    }
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

/** What a RELAY_NOTICE means, for the user. */
export function describeNotice(notice: RelayNotice): string {
  const mibps = (notice.limit / (1024 * 1024)).toFixed(1);
  switch (notice.code) {
    case RelayRefusal.Disabled:
      return "the server's relay is off";
    case RelayRefusal.TooManyTransfers:
      return `the server's relay is full (${notice.limit} transfers)`;
    case RelayRefusal.TransferRate:
      return `the server's relay limits a transfer to ${mibps} MiB/s`;
    case RelayRefusal.TotalRate:
      return `the server's relay is at its limit of ${mibps} MiB/s`;
  }
}

/**
 * A simulated internet for the transfer endpoint, in virtual time: hosts on LANs behind
 * NATs whose mapping and filtering behave as RFC 4787 names them (pion's vnet and
 * Tailscale's natlab are the models), public hosts, and the server's sans-IO rendezvous
 * (binding + relay) on a public address. Two peers run the real Endpoint, Link and
 * sender/receiver machines over it and move a file held in memory.
 *
 * @module
 */

import { type Address, addressKey } from "../../../shared/address.ts";
import { Endpoint, type Link } from "../../../shared/transfer/endpoint.ts";
import { TransferReceiver, TransferSender } from "../../../shared/transfer/mod.ts";
import { type RelaySettings, Rendezvous } from "../../../server/udp/rendezvous.ts";
import { mulberry32 } from "../../helpers/random.ts";
import { fileBytes, sha256Hex } from "./_sim.ts";

/** How a NAT maps an inside address and port to an outside port (RFC 4787 §4.1). */
export type Mapping = "endpoint-independent" | "address-and-port-dependent";
/** Which outside sources a mapping lets in (RFC 4787 §5). */
export type Filtering = "endpoint-independent" | "address-and-port-dependent";

/** A NAT's behaviour. */
export interface NatType {
  name: string;
  mapping: Mapping;
  filtering: Filtering;
}

/** The four combinations, by their old names. */
export const NAT_TYPES: NatType[] = [
  { name: "full cone", mapping: "endpoint-independent", filtering: "endpoint-independent" },
  {
    name: "port-restricted cone",
    mapping: "endpoint-independent",
    filtering: "address-and-port-dependent",
  },
  {
    name: "symmetric",
    mapping: "address-and-port-dependent",
    filtering: "address-and-port-dependent",
  },
  {
    name: "symmetric, open filter",
    mapping: "address-and-port-dependent",
    filtering: "endpoint-independent",
  },
];

interface NatMapping {
  inside: Address;
  port: number;
  /** Outside addresses (host:port) this mapping sent to: what APDF lets back in. */
  sentTo: Set<string>;
}

/** A NAT: one public address, a table of mappings. */
class Nat {
  readonly #byKey = new Map<string, NatMapping>();
  readonly #byPort = new Map<number, NatMapping>();
  readonly #random: () => number;

  constructor(readonly publicIp: string, readonly type: NatType, seed: number) {
    this.#random = mulberry32(seed);
  }

  /** The outside source of a datagram from `inside` to `to`. */
  outbound(inside: Address, to: Address): Address {
    const key = this.type.mapping === "endpoint-independent"
      ? addressKey(inside)
      : `${addressKey(inside)}>${addressKey(to)}`;
    let m = this.#byKey.get(key);
    if (m === undefined) {
      // Endpoint-independent mapping keeps the port where it can, as Linux does.
      let port = this.type.mapping === "endpoint-independent" ? inside.port : 0;
      while (port === 0 || this.#byPort.has(port)) port = 1024 + Math.floor(this.#random() * 60000);
      m = { inside, port, sentTo: new Set() };
      this.#byKey.set(key, m);
      this.#byPort.set(port, m);
    }
    m.sentTo.add(addressKey(to));
    return { hostname: this.publicIp, port: m.port };
  }

  /** The inside address a datagram from `from` to the public `port` goes to, if let in. */
  inbound(port: number, from: Address): Address | undefined {
    const m = this.#byPort.get(port);
    if (m === undefined) return undefined;
    if (this.type.filtering === "address-and-port-dependent" && !m.sentTo.has(addressKey(from))) {
      return undefined;
    }
    return m.inside;
  }
}

interface Host {
  ip: string;
  /** LAN id: hosts on one LAN reach each other directly. */
  lan: string;
  nat: Nat | undefined;
}

interface Delivery {
  at: number;
  seq: number;
  to: Address;
  from: Address;
  bytes: Uint8Array;
}

/** One-way delay between LANs across the internet (ms). */
const WAN_DELAY_MS = 15;
/** One-way delay on a LAN (ms). */
const LAN_DELAY_MS = 1;

/** Hosts, NATs and datagrams in flight, under a virtual clock. */
export class SimNet {
  now = 0;
  readonly #hosts = new Map<string, Host>();
  readonly #nats = new Map<string, Nat>();
  readonly #sockets = new Map<string, (bytes: Uint8Array, from: Address) => void>();
  #queue: Delivery[] = [];
  #seq = 0;
  /** Drops what it returns true for, by outside addresses (a firewall the test scripts). */
  block: (from: Address, to: Address, now: number) => boolean = () => false;
  dropped = 0;

  /** A NAT with public address `publicIp`, for hosts on LAN `lan`. */
  addNat(lan: string, publicIp: string, type: NatType, seed = 1): void {
    this.#nats.set(publicIp, new Nat(publicIp, type, seed));
    this.#hosts.set(`nat:${lan}`, { ip: publicIp, lan, nat: this.#nats.get(publicIp) });
  }

  /** A host at `ip`, on `lan` (behind its NAT, if it has one) or public. */
  addHost(ip: string, lan?: string): void {
    const nat = lan === undefined ? undefined : this.#hosts.get(`nat:${lan}`)?.nat;
    this.#hosts.set(ip, { ip, lan: lan ?? `public:${ip}`, nat });
  }

  /** Where datagrams to `address` are handed. */
  listen(address: Address, onDatagram: (bytes: Uint8Array, from: Address) => void): void {
    this.#sockets.set(addressKey(address), onDatagram);
  }

  /** Sends a datagram from the socket at `from` (an inside address) to `to`. */
  send(from: Address, to: Address, bytes: Uint8Array): void {
    const src = this.#hosts.get(from.hostname);
    if (src === undefined) throw new Error(`no host ${from.hostname}`);
    const dst = this.#hosts.get(to.hostname);
    if (
      dst !== undefined && dst.lan === src.lan && dst.nat === src.nat &&
      !this.#nats.has(to.hostname)
    ) {
      this.#schedule(LAN_DELAY_MS, to, from, bytes);
      return;
    }
    const outside = src.nat === undefined ? from : src.nat.outbound(from, to);
    if (this.block(outside, to, this.now)) {
      this.dropped++;
      return;
    }
    const nat = this.#nats.get(to.hostname);
    if (nat !== undefined) {
      const inside = nat.inbound(to.port, outside);
      if (inside === undefined) {
        this.dropped++;
        return;
      }
      this.#schedule(WAN_DELAY_MS, inside, outside, bytes);
      return;
    }
    if (dst === undefined || dst.nat !== undefined) {
      this.dropped++; // a private address of another LAN: no route
      return;
    }
    this.#schedule(WAN_DELAY_MS, to, outside, bytes);
  }

  /** When the next datagram arrives, or Infinity. */
  nextArrival(): number {
    return this.#queue.length > 0 ? this.#queue[0].at : Infinity;
  }

  /** Delivers every datagram due by `now`. */
  deliver(): void {
    while (this.#queue.length > 0 && this.#queue[0].at <= this.now) {
      const d = this.#queue.shift()!;
      this.#sockets.get(addressKey(d.to))?.(d.bytes, d.from);
    }
  }

  #schedule(delay: number, to: Address, from: Address, bytes: Uint8Array): void {
    const d = { at: this.now + delay, seq: this.#seq++, to, from, bytes: bytes.slice() };
    let i = this.#queue.length;
    while (i > 0 && this.#queue[i - 1].at > d.at) i--;
    this.#queue.splice(i, 0, d);
  }
}

/** Where the simulated server's UDP port is. */
export const SERVER: Address = { hostname: "203.0.113.1", port: 5000 };
const ID = "0123456789abcdef";
const SECRET = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/** A peer: its socket's inside address and, for the sender's announced candidate, its public IP. */
export interface SimPeerSpec {
  socket: Address;
  /** The IP the chat server saw the peer's TCP connection come from. */
  publicIp: string;
}

/** What a simulated transfer ended with. */
export interface SimOutcome {
  ok: boolean;
  reason?: string;
  /** The sender's path at the end. */
  path: "direct" | "relay" | undefined;
  /** Where the sender's path went at the end. */
  pathAddress: Address | undefined;
  pathChanges: number;
  elapsedMs: number;
  relayedBytes: number;
  relayNotice: string | undefined;
}

/** Options of {@link simulateTransfer}. */
export interface SimOptions {
  size?: number;
  relay?: Partial<RelaySettings>;
  /** Give up after this much virtual time (ms). */
  limitMs?: number;
}

/** Moves a file from `sender` to `receiver` over `net`, with the server at SERVER. */
export function simulateTransfer(
  net: SimNet,
  sender: SimPeerSpec,
  receiver: SimPeerSpec,
  options: SimOptions = {},
): SimOutcome {
  const size = options.size ?? 64 * 1024;
  const file = fileBytes(size, 7);
  const sha256 = sha256Hex(file);
  const server = new Rendezvous(options.relay, 0);
  server.register(ID, SECRET, 0);
  net.addHost(SERVER.hostname);
  net.listen(SERVER, (bytes, from) => {
    server.handleDatagram(bytes, from, net.now);
    for (let t = server.pollTransmit(); t !== undefined; t = server.pollTransmit()) {
      net.send(SERVER, t.to, t.bytes);
    }
  });

  const sendMachine = new TransferSender(
    { transferId: ID, secret: SECRET, fileName: "f.bin", size, sha256 },
    0,
  );
  const recvMachine = new TransferReceiver({
    transferId: ID,
    secret: SECRET,
    expected: { fileName: "f.bin", size, sha256 },
  }, 0);
  const a = new Endpoint();
  const b = new Endpoint();
  const out = a.addSender(sendMachine, {
    secret: SECRET,
    // What the chat server announces: the receiver's TCP-observed IP, its local UDP port.
    candidates: [{ hostname: receiver.publicIp, port: receiver.socket.port }],
    server: SERVER,
    hostCandidates: [sender.socket],
    now: 0,
  });
  const inn = b.addReceiver(recvMachine, {
    secret: SECRET,
    server: SERVER,
    hostCandidates: [receiver.socket],
    now: 0,
  });
  const received = new Uint8Array(size);
  let outcome: { ok: boolean; reason?: string } | undefined;
  let receiverDone = false;
  const peers: Array<{ endpoint: Endpoint; link: Link; socket: Address }> = [
    { endpoint: a, link: out, socket: sender.socket },
    { endpoint: b, link: inn, socket: receiver.socket },
  ];
  for (const p of peers) {
    net.listen(p.socket, (bytes, from) => p.endpoint.handleDatagram(bytes, from, net.now));
  }

  const pump = () => {
    const now = net.now;
    for (const p of peers) {
      p.link.handleTimeout(now);
      const m = p.link.machine;
      if (m instanceof TransferSender) {
        const want = m.wantData();
        if (want !== undefined) {
          m.pushData(want.offset, file.slice(want.offset, want.offset + want.length));
        }
      } else {
        for (let d = m.pollData(); d !== undefined; d = m.pollData()) {
          received.set(d.bytes, d.offset);
        }
      }
      for (let e = m.pollEvent(); e !== undefined; e = m.pollEvent()) {
        if (e.type === "verified" && m instanceof TransferReceiver) m.commit(now);
        if (m instanceof TransferSender && (e.type === "done" || e.type === "failed")) {
          outcome ??= e.type === "done" ? { ok: true } : { ok: false, reason: e.reason };
        }
        if (m instanceof TransferReceiver && e.type === "done") receiverDone = true;
        if (m instanceof TransferReceiver && e.type === "failed") {
          outcome ??= { ok: false, reason: e.reason };
        }
      }
      for (let t = p.link.pollTransmit(now); t !== undefined; t = p.link.pollTransmit(now)) {
        net.send(p.socket, t.to, t.bytes);
      }
    }
    server.handleTimeout(now);
  };

  const limit = options.limitMs ?? 60_000;
  pump();
  while (net.now < limit && (outcome === undefined || (outcome.ok && !receiverDone))) {
    let next = Math.min(net.nextArrival(), server.pollTimeout());
    for (const p of peers) next = Math.min(next, p.link.pollTimeout() ?? Infinity);
    net.now = Math.max(net.now, next);
    net.deliver();
    pump();
  }
  const ok = outcome?.ok === true && receiverDone && sha256Hex(received) === sha256;
  return {
    ok,
    reason: outcome?.reason ?? (outcome === undefined ? "did not finish" : undefined),
    path: out.path?.kind,
    pathAddress: out.path?.address,
    pathChanges: out.pathChanges,
    elapsedMs: net.now,
    relayedBytes: server.stats.relayedBytes,
    relayNotice: out.relayNotice === undefined ? undefined : String(out.relayNotice.code),
  };
}

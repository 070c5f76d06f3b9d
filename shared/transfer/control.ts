/**
 * Control packets of the P2P transfer: the binding exchange with the server's UDP port
 * (server-reflexive addresses, the peer's candidates), the probes between peers (hole
 * punching, path validation, the key exchange) and the relay's notices. They share the
 * transfer datagrams' transfer-id field, so the server's relay and the client's endpoint
 * route them alike, and carry an HMAC-SHA256 tag (16 bytes) under a key derived from the
 * transfer secret the server handed out.
 *
 * ```
 * 0      1      2             10                      n-16      n
 * +------+------+-------------+-----------------------+---------+
 * | 0xA2 | type | transfer id | body (clear)          | tag(16) |
 * +------+------+-------------+-----------------------+---------+
 * ```
 *
 * A BIND_REQUEST is padded to {@link BIND_REQUEST_SIZE} and a BIND_RESPONSE is never
 * larger, so the server cannot be made to send more than it received (no amplification).
 * docs/transfer.md § NAT traversal describes each packet.
 *
 * @module
 */

import {
  createHmac,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
} from "node:crypto";
import { createPublicKey, timingSafeEqual } from "node:crypto";
import { type Address, normalizeHost } from "../address.ts";
import { TRANSFER_ID_SIZE } from "./constants.ts";
import { parseSecret, parseTransferId } from "./keys.ts";
import { toHex } from "./packet.ts";

/** First byte of every control packet (the transfer datagrams start with 0xA1). */
export const CONTROL_VERSION = 0xa2;
/** Bytes of the control header: version, type, transfer id. */
export const CONTROL_HEADER_SIZE = 2 + TRANSFER_ID_SIZE;
/** Bytes of a control packet's tag (HMAC-SHA256, truncated). */
export const CONTROL_TAG_SIZE = 16;
/** Every BIND_REQUEST is this long (padded), and no BIND_RESPONSE is longer. */
export const BIND_REQUEST_SIZE = 240;
/** Most candidates a peer announces, and the server passes on. */
export const MAX_CANDIDATES = 8;
/** Bytes of an X25519 public key. */
export const PUBLIC_KEY_SIZE = 32;

/** Control packet types. */
export const ControlType = {
  /** client → server: who I am (role), my host candidates; asks for my reflexive address. */
  BindRequest: 1,
  /** server → client: your reflexive address, whether the relay is on, the peer's candidates. */
  BindResponse: 2,
  /** peer → peer (direct or relayed): a path check carrying the sender's public key. */
  Probe: 3,
  /** peer → peer: answers a probe on the path it came in on. */
  ProbeAck: 4,
  /** server → client: the relay dropped this transfer's datagrams, and why. */
  RelayNotice: 5,
} as const;
/** One of {@linkcode ControlType}. */
export type ControlType = typeof ControlType[keyof typeof ControlType];

/** Which peer of a transfer. */
export type Role = "sender" | "receiver";

/** Why the relay refused datagrams (RELAY_NOTICE). */
export const RelayRefusal = {
  /** The relay is turned off on this server. */
  Disabled: 1,
  /** As many transfers as the server allows are relayed already. */
  TooManyTransfers: 2,
  /** This transfer is over its relayed rate (`limit` bytes/s). */
  TransferRate: 3,
  /** All relayed transfers together are over the server's rate (`limit` bytes/s). */
  TotalRate: 4,
} as const;
/** One of {@linkcode RelayRefusal}. */
export type RelayRefusal = typeof RelayRefusal[keyof typeof RelayRefusal];

/** BIND_REQUEST body. */
export interface BindRequest {
  role: Role;
  /** Increases with every request of this peer, so replays are refused. */
  seq: number;
  /** The peer's own (host) addresses with its transfer socket's port. */
  candidates: Address[];
}

/** BIND_RESPONSE body. */
export interface BindResponse {
  /** The request's seq. */
  seq: number;
  /** Whether the server relays this transfer's datagrams. */
  relay: boolean;
  /** The requester's address as the server saw it (server-reflexive). */
  reflexive: Address;
  /** The other peer's candidates (reflexive first), empty until it has bound. */
  peer: Address[];
}

/** PROBE and PROBE_ACK body. */
export interface ProbeFrame {
  role: Role;
  /** Random; a PROBE_ACK echoes its PROBE's. */
  txid: Uint8Array;
  /** The sender's X25519 public key for this transfer. */
  publicKey: Uint8Array;
}

/** RELAY_NOTICE body. */
export interface RelayNotice {
  code: RelayRefusal;
  /** The cap in question: transfers, or bytes per second. */
  limit: number;
}

/** A decoded, authenticated control packet. */
export type ControlPacket =
  | { type: typeof ControlType.BindRequest; body: BindRequest }
  | { type: typeof ControlType.BindResponse; body: BindResponse }
  | { type: typeof ControlType.Probe; body: ProbeFrame }
  | { type: typeof ControlType.ProbeAck; body: ProbeFrame }
  | { type: typeof ControlType.RelayNotice; body: RelayNotice };

/** Whether a datagram is a control packet (not yet authenticated). */
export function isControlPacket(bytes: Uint8Array): boolean {
  return bytes.length >= CONTROL_HEADER_SIZE + CONTROL_TAG_SIZE && bytes[0] === CONTROL_VERSION;
}

/** The control packet's type byte, unauthenticated (the relay forwards probes unopened). */
export function peekControlType(bytes: Uint8Array): number {
  return bytes[1];
}

const KEY_INFO = new TextEncoder().encode("tessenger control v1");
const SESSION_INFO = new TextEncoder().encode("tessenger transfer v1");

/** The key control packets of a transfer are tagged with, from its secret. */
export function controlKey(secret: Uint8Array | string): Uint8Array {
  return new Uint8Array(hkdfSync("sha256", parseSecret(secret), new Uint8Array(), KEY_INFO, 32));
}

/** Seals and opens the control packets of one transfer. */
export class ControlCodec {
  readonly #id: Uint8Array;
  readonly #key: Uint8Array;

  constructor(transferId: Uint8Array | string, secret: Uint8Array | string) {
    this.#id = parseTransferId(transferId);
    this.#key = controlKey(secret);
  }

  /** Transfer id as 16 hex digits. */
  get id(): string {
    return toHex(this.#id);
  }

  seal(packet: ControlPacket): Uint8Array {
    const body = encodeBody(packet);
    const padded = packet.type === ControlType.BindRequest
      ? BIND_REQUEST_SIZE - CONTROL_HEADER_SIZE - CONTROL_TAG_SIZE
      : body.length;
    const out = new Uint8Array(CONTROL_HEADER_SIZE + padded + CONTROL_TAG_SIZE);
    out[0] = CONTROL_VERSION;
    out[1] = packet.type;
    out.set(this.#id, 2);
    out.set(body, CONTROL_HEADER_SIZE);
    out.set(
      this.#tag(out.subarray(0, out.length - CONTROL_TAG_SIZE)),
      out.length - CONTROL_TAG_SIZE,
    );
    return out;
  }

  /** Authenticates and decodes; undefined when the packet is not authentic or malformed. */
  open(bytes: Uint8Array): ControlPacket | undefined {
    if (!isControlPacket(bytes)) return undefined;
    for (let i = 0; i < TRANSFER_ID_SIZE; i++) if (bytes[2 + i] !== this.#id[i]) return undefined;
    const end = bytes.length - CONTROL_TAG_SIZE;
    const tag = this.#tag(bytes.subarray(0, end));
    if (!timingSafeEqual(tag, bytes.subarray(end))) return undefined;
    try {
      return decodeBody(bytes[1], bytes.subarray(CONTROL_HEADER_SIZE, end));
    } catch {
      return undefined;
    }
  }

  #tag(bytes: Uint8Array): Uint8Array {
    return new Uint8Array(
      createHmac("sha256", this.#key).update(bytes).digest().subarray(0, CONTROL_TAG_SIZE),
    );
  }
}

/** The transfer id of a control packet as 16 hex digits, unauthenticated. */
export function peekControlId(bytes: Uint8Array): string | undefined {
  return isControlPacket(bytes) ? toHex(bytes.subarray(2, 2 + TRANSFER_ID_SIZE)) : undefined;
}

// --- key exchange ---------------------------------------------------------------------

/** An X25519 key pair of one side of one transfer. */
export class KeyExchange {
  readonly publicKey: Uint8Array;
  readonly #private: KeyObject;

  constructor() {
    const { publicKey, privateKey } = generateKeyPairSync("x25519");
    this.#private = privateKey;
    const der = publicKey.export({ format: "der", type: "spki" });
    this.publicKey = new Uint8Array(der.subarray(der.length - PUBLIC_KEY_SIZE));
  }

  /**
   * The secret both peers' machines use: HKDF-SHA256 over the X25519 shared secret, salted
   * with the server's transfer secret and bound to the transfer id. Someone who knows the
   * transfer secret but saw only the public keys (the relay) cannot compute it.
   * @throws {TypeError} on a malformed public key.
   */
  deriveSecret(
    peerPublicKey: Uint8Array,
    transferSecret: Uint8Array | string,
    id: string,
  ): Uint8Array {
    if (peerPublicKey.length !== PUBLIC_KEY_SIZE) {
      throw new TypeError("Cannot derive key: bad public key");
    }
    const spki = new Uint8Array([...X25519_SPKI_PREFIX, ...peerPublicKey]);
    const peer = createPublicKey({ key: spki, format: "der", type: "spki" } as never);
    const shared = diffieHellman({ privateKey: this.#private, publicKey: peer });
    const info = new Uint8Array([...SESSION_INFO, ...parseTransferId(id)]);
    return new Uint8Array(hkdfSync("sha256", shared, parseSecret(transferSecret), info, 32));
  }
}

/** DER prefix of an X25519 SubjectPublicKeyInfo (RFC 8410); the 32 key bytes follow. */
const X25519_SPKI_PREFIX = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00];

// --- bodies ----------------------------------------------------------------------------

class Out {
  readonly bytes: number[] = [];
  u8(v: number): this {
    this.bytes.push(v & 0xff);
    return this;
  }
  u16(v: number): this {
    return this.u8(v >>> 8).u8(v);
  }
  u32(v: number): this {
    return this.u16(v >>> 16).u16(v & 0xffff);
  }
  raw(v: Uint8Array): this {
    for (const b of v) this.bytes.push(b);
    return this;
  }
  address(a: Address): this {
    const ip = parseIp(a.hostname);
    return this.u8(ip.length === 4 ? 4 : 6).raw(ip).u16(a.port);
  }
  addresses(list: Address[]): this {
    const usable = list.filter((a) => parseIpOrUndefined(a.hostname) !== undefined);
    this.u8(Math.min(usable.length, MAX_CANDIDATES + 1));
    for (const a of usable.slice(0, MAX_CANDIDATES + 1)) this.address(a);
    return this;
  }
}

class In {
  #at = 0;
  constructor(readonly bytes: Uint8Array) {}
  #need(n: number): void {
    if (this.#at + n > this.bytes.length) throw new RangeError("truncated");
  }
  u8(): number {
    this.#need(1);
    return this.bytes[this.#at++];
  }
  u16(): number {
    return (this.u8() << 8) | this.u8();
  }
  u32(): number {
    return this.u16() * 65536 + this.u16();
  }
  raw(n: number): Uint8Array {
    this.#need(n);
    const v = this.bytes.slice(this.#at, this.#at + n);
    this.#at += n;
    return v;
  }
  address(): Address {
    const family = this.u8();
    if (family !== 4 && family !== 6) throw new RangeError("bad family");
    const hostname = formatIp(this.raw(family === 4 ? 4 : 16));
    const port = this.u16();
    if (port === 0) throw new RangeError("port 0");
    return { hostname, port };
  }
  addresses(): Address[] {
    const count = this.u8();
    if (count > MAX_CANDIDATES + 1) throw new RangeError("too many candidates");
    return Array.from({ length: count }, () => this.address());
  }
  end(padded = false): void {
    if (padded) {
      for (; this.#at < this.bytes.length; this.#at++) {
        if (this.bytes[this.#at] !== 0) throw new RangeError("bad padding");
      }
    }
    if (this.#at !== this.bytes.length) throw new RangeError("trailing bytes");
  }
}

function roleByte(role: Role): number {
  return role === "sender" ? 0 : 1;
}

function readRole(r: In): Role {
  const b = r.u8();
  if (b > 1) throw new RangeError("bad role");
  return b === 0 ? "sender" : "receiver";
}

function encodeBody(p: ControlPacket): Uint8Array {
  const w = new Out();
  switch (p.type) {
    case ControlType.BindRequest:
      w.u8(roleByte(p.body.role)).u32(p.body.seq).addresses(
        p.body.candidates.slice(0, MAX_CANDIDATES),
      );
      break;
    case ControlType.BindResponse:
      w.u32(p.body.seq).u8(p.body.relay ? 1 : 0).address(p.body.reflexive).addresses(p.body.peer);
      break;
    case ControlType.Probe:
    case ControlType.ProbeAck:
      if (p.body.txid.length !== 8 || p.body.publicKey.length !== PUBLIC_KEY_SIZE) {
        throw new RangeError("Cannot encode probe: txid must be 8 bytes, the key 32");
      }
      w.u8(roleByte(p.body.role)).raw(p.body.txid).raw(p.body.publicKey);
      break;
    case ControlType.RelayNotice:
      w.u8(p.body.code).u32(p.body.limit);
      break;
  }
  return new Uint8Array(w.bytes);
}

function decodeBody(type: number, body: Uint8Array): ControlPacket {
  const r = new In(body);
  switch (type) {
    case ControlType.BindRequest: {
      const packet: ControlPacket = {
        type,
        body: { role: readRole(r), seq: r.u32(), candidates: r.addresses() },
      };
      if (packet.body.candidates.length > MAX_CANDIDATES) throw new RangeError("too many");
      r.end(true);
      return packet;
    }
    case ControlType.BindResponse: {
      const seq = r.u32();
      const relay = r.u8() === 1;
      const packet: ControlPacket = {
        type,
        body: { seq, relay, reflexive: r.address(), peer: r.addresses() },
      };
      r.end();
      return packet;
    }
    case ControlType.Probe:
    case ControlType.ProbeAck: {
      const packet: ControlPacket = {
        type,
        body: { role: readRole(r), txid: r.raw(8), publicKey: r.raw(PUBLIC_KEY_SIZE) },
      };
      r.end();
      return packet;
    }
    case ControlType.RelayNotice: {
      const code = r.u8();
      if (code < 1 || code > 4) throw new RangeError("bad code");
      const packet: ControlPacket = { type, body: { code: code as RelayRefusal, limit: r.u32() } };
      r.end();
      return packet;
    }
  }
  throw new RangeError("unknown type");
}

// --- IP literals -----------------------------------------------------------------------

/** Bytes of an IPv4 or IPv6 literal. @throws {RangeError} on anything else. */
export function parseIp(host: string): Uint8Array {
  const ip = parseIpOrUndefined(host);
  if (ip === undefined) throw new RangeError(`Cannot encode address: ${host} is not an IP literal`);
  return ip;
}

function parseIpOrUndefined(host: string): Uint8Array | undefined {
  const h = normalizeHost(host);
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h);
  if (v4) {
    const bytes = v4.slice(1).map(Number);
    return bytes.every((b) => b <= 255) ? new Uint8Array(bytes) : undefined;
  }
  if (!/^[0-9a-f:]+$/.test(h) || h.split("::").length > 2) return undefined;
  const [head, tail] = h.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  const fill = tail === undefined ? 0 : 8 - left.length - right.length;
  if (fill < 0 || (tail === undefined && left.length !== 8)) return undefined;
  const groups = [...left, ...Array(fill).fill("0"), ...right];
  if (groups.length !== 8 || groups.some((g) => g.length === 0 || g.length > 4)) return undefined;
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[2 * i] = v >>> 8;
    out[2 * i + 1] = v & 0xff;
  });
  return out;
}

/**
 * The text form of 4 or 16 address bytes, as sockets report addresses: IPv6 in RFC 5952
 * form (the longest run of zero groups as `::`), an IPv4-mapped one as the IPv4 address.
 */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join(".");
  if (bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
    return bytes.subarray(12).join(".");
  }
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i] << 8) | bytes[i + 1]);
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [best, bestLength] = [i, j - i];
    i = j > i ? j : i + 1;
  }
  const hex = (list: number[]) => list.map((g) => g.toString(16)).join(":");
  if (best < 0) return hex(groups);
  return `${hex(groups.slice(0, best))}::${hex(groups.slice(best + bestLength))}`;
}

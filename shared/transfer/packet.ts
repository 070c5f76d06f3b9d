/**
 * Datagram codec of the P2P transfer protocol.
 *
 * ```text
 * 0      1      2             10            18                      n-16      n
 * +------+------+-------------+-------------+-----------------------+---------+
 * | 0xA1 | type | transfer id | packet num. | body (protected)      | tag(16) |
 * +------+------+-------------+-------------+-----------------------+---------+
 * ```
 * The 18-byte header is authenticated; the body is encrypted (AEAD suites) and
 * authenticated. Bodies per type are described on each `encode*` function and in
 * docs/transfer.md. Every decoding failure is a {@linkcode PacketError}.
 *
 * @module
 */

import {
  HEADER_SIZE,
  MAX_EXTRA_PORTS,
  MAX_FILE_NAME_BYTES,
  MAX_REASON_BYTES,
  TAG_SIZE,
  TRANSFER_ID_SIZE,
  WIRE_VERSION,
} from "./constants.ts";
import { PacketError } from "./packet_error.ts";
import type { Direction, PacketProtection } from "./packet_protection.ts";

export { PacketError };

/** Packet types. */
export const PacketType = {
  /** sender → receiver: file name, size, SHA-256, chunk size. */
  Hello: 1,
  /** receiver → sender: handshake accepted, initial window, extra receive ports. */
  Accept: 2,
  /** sender → receiver: one chunk of the file. */
  Data: 3,
  /** receiver → sender: cumulative ack, SACK ranges, window. */
  Ack: 4,
  /** sender → receiver: elicits an ACK (probe, keepalive). */
  Ping: 5,
  /** receiver → sender: file verified and saved. */
  Done: 6,
  /** either way: the transfer is abandoned, with a reason. */
  Cancel: 7,
  /** sender → receiver: DONE arrived; the receiver may stop lingering. */
  DoneAck: 8,
} as const;
/** One of {@linkcode PacketType}. */
export type PacketType = typeof PacketType[keyof typeof PacketType];

/** Why a transfer was cancelled; carried in CANCEL. */
export const CancelCode = {
  /** A user (or the program) cancelled. */
  Cancelled: 1,
  /** The file exceeds the receiver's size limit. */
  TooLarge: 2,
  /** HELLO does not match what the server announced. */
  OfferMismatch: 3,
  /** The received data does not hash to the announced SHA-256. */
  HashMismatch: 4,
  /** Reading or writing the file failed. */
  IoError: 5,
  /** The peer broke the protocol. */
  Protocol: 6,
  /** The peer stopped answering. */
  Timeout: 7,
  /** The receiving user refused the file (or its policy did). */
  Declined: 8,
} as const;
/** One of {@linkcode CancelCode}. */
export type CancelCode = typeof CancelCode[keyof typeof CancelCode];

/** HELLO body. */
export interface HelloFrame {
  size: number;
  chunkSize: number;
  sha256: Uint8Array;
  fileName: string;
}

/** ACCEPT body. */
export interface AcceptFrame {
  largestPn: number;
  ackDelayUs: number;
  limit: number;
  /**
   * More UDP ports of the receiver, on the host the sender already sends to, that take
   * this transfer's datagrams too (each adds a socket receive buffer); may be empty.
   */
  ports: number[];
}

/** ACK body. `ranges` are [start, end) chunk ranges above `cumAck`, highest first. */
export interface AckFrame {
  largestPn: number;
  ackDelayUs: number;
  cumAck: number;
  limit: number;
  ranges: number[];
}

/** CANCEL body. */
export interface CancelFrame {
  code: CancelCode;
  reason: string;
}

/** A datagram whose header was decoded and whose body was authenticated. */
export interface OpenedPacket {
  type: PacketType;
  pn: number;
  body: Uint8Array;
}

const TWO_32 = 2 ** 32;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Big-endian writer over a fixed-size array. */
class Writer {
  readonly bytes: Uint8Array;
  readonly #view: DataView;
  #at = 0;
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.#view = new DataView(this.bytes.buffer);
  }
  u8(v: number): this {
    this.#view.setUint8(this.#at, v);
    this.#at += 1;
    return this;
  }
  u16(v: number): this {
    this.#view.setUint16(this.#at, v);
    this.#at += 2;
    return this;
  }
  u32(v: number): this {
    this.#view.setUint32(this.#at, v);
    this.#at += 4;
    return this;
  }
  u64(v: number): this {
    this.#view.setUint32(this.#at, Math.floor(v / TWO_32));
    this.#view.setUint32(this.#at + 4, v >>> 0);
    this.#at += 8;
    return this;
  }
  raw(v: Uint8Array): this {
    this.bytes.set(v, this.#at);
    this.#at += v.length;
    return this;
  }
}

/** Big-endian reader that throws PacketError when the bytes run out. */
class Reader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  #at = 0;
  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  #need(n: number): void {
    if (this.#at + n > this.#bytes.length) throw new PacketError("Cannot decode packet: truncated");
  }
  u8(): number {
    this.#need(1);
    return this.#view.getUint8(this.#at++);
  }
  u16(): number {
    this.#need(2);
    const v = this.#view.getUint16(this.#at);
    this.#at += 2;
    return v;
  }
  u32(): number {
    this.#need(4);
    const v = this.#view.getUint32(this.#at);
    this.#at += 4;
    return v;
  }
  u64(): number {
    this.#need(8);
    const hi = this.#view.getUint32(this.#at);
    if (hi >= 2 ** 21) throw new PacketError("Cannot decode packet: integer out of range");
    const v = hi * TWO_32 + this.#view.getUint32(this.#at + 4);
    this.#at += 8;
    return v;
  }
  raw(n: number): Uint8Array {
    this.#need(n);
    const v = this.#bytes.subarray(this.#at, this.#at + n);
    this.#at += n;
    return v;
  }
  utf8(n: number): string {
    try {
      return decoder.decode(this.raw(n));
    } catch (e) {
      if (e instanceof PacketError) throw e;
      throw new PacketError("Cannot decode packet: text is not UTF-8");
    }
  }
  end(): void {
    if (this.#at !== this.#bytes.length) {
      throw new PacketError("Cannot decode packet: trailing bytes");
    }
  }
}

/**
 * Returns the transfer id of a datagram as 16 hex digits, without authenticating it,
 * or `undefined` when the bytes are too short or not of this protocol. Used by the
 * driver to route datagrams to the right transfer.
 */
export function peekTransferId(datagram: Uint8Array): string | undefined {
  if (datagram.length < HEADER_SIZE + TAG_SIZE || datagram[0] !== WIRE_VERSION) return undefined;
  return toHex(datagram.subarray(2, 2 + TRANSFER_ID_SIZE));
}

/** Hex encoding of bytes, lower case. */
export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

/**
 * Parses hex into bytes.
 * @throws {TypeError} when the text is not even-length hex.
 */
export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new TypeError(`Cannot parse hex: "${hex.slice(0, 20)}" is not hex`);
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** HELLO body: size u64, chunkSize u32, sha256 (32), nameLength u16, name (UTF-8). */
export function encodeHello(f: HelloFrame): Uint8Array {
  const name = encoder.encode(f.fileName);
  if (name.length > MAX_FILE_NAME_BYTES) {
    throw new RangeError(`Cannot encode HELLO: file name is ${name.length} bytes`);
  }
  return new Writer(8 + 4 + 32 + 2 + name.length).u64(f.size).u32(f.chunkSize).raw(f.sha256)
    .u16(name.length).raw(name).bytes;
}

/** Parses a HELLO body. @throws {PacketError} */
export function decodeHello(body: Uint8Array): HelloFrame {
  const r = new Reader(body);
  const size = r.u64();
  const chunkSize = r.u32();
  const sha256 = r.raw(32).slice();
  const nameLength = r.u16();
  if (nameLength > MAX_FILE_NAME_BYTES) throw new PacketError("Cannot decode HELLO: name too long");
  const fileName = r.utf8(nameLength);
  r.end();
  if (chunkSize === 0) throw new PacketError("Cannot decode HELLO: chunk size is 0");
  return { size, chunkSize, sha256, fileName };
}

/**
 * ACCEPT body: largestPn u64, ackDelayUs u32, limit u32, then, when the receiver offers
 * more ports, count u8 and `count` × port u16 (at most MAX_EXTRA_PORTS, none of them 0).
 */
export function encodeAccept(f: AcceptFrame): Uint8Array {
  if (f.ports.length > MAX_EXTRA_PORTS || f.ports.some((p) => !(p >= 1 && p <= 0xffff))) {
    throw new RangeError(`Cannot encode ACCEPT: bad port list ${f.ports.join(",")}`);
  }
  const extra = f.ports.length > 0 ? 1 + 2 * f.ports.length : 0;
  const w = new Writer(16 + extra).u64(f.largestPn).u32(f.ackDelayUs).u32(f.limit);
  if (extra > 0) w.u8(f.ports.length);
  for (const port of f.ports) w.u16(port);
  return w.bytes;
}

/** Parses an ACCEPT body. @throws {PacketError} */
export function decodeAccept(body: Uint8Array): AcceptFrame {
  const r = new Reader(body);
  const f: AcceptFrame = { largestPn: r.u64(), ackDelayUs: r.u32(), limit: r.u32(), ports: [] };
  if (body.length > 16) {
    const count = r.u8();
    if (count === 0 || count > MAX_EXTRA_PORTS) {
      throw new PacketError("Cannot decode ACCEPT: bad port count");
    }
    for (let i = 0; i < count; i++) {
      const port = r.u16();
      if (port === 0) throw new PacketError("Cannot decode ACCEPT: port 0");
      f.ports.push(port);
    }
  }
  r.end();
  return f;
}

/**
 * ACK body: largestPn u64, ackDelayUs u32, cumAck u32, limit u32, count u16,
 * then `count` × (start u32, end u32).
 */
export function encodeAck(f: AckFrame): Uint8Array {
  const count = f.ranges.length / 2;
  const w = new Writer(22 + 8 * count).u64(f.largestPn).u32(f.ackDelayUs).u32(f.cumAck)
    .u32(f.limit).u16(count);
  for (const v of f.ranges) w.u32(v);
  return w.bytes;
}

/** Parses an ACK body; ranges must be non-empty and above cumAck. @throws {PacketError} */
export function decodeAck(body: Uint8Array): AckFrame {
  const r = new Reader(body);
  const largestPn = r.u64();
  const ackDelayUs = r.u32();
  const cumAck = r.u32();
  const limit = r.u32();
  const count = r.u16();
  const ranges = new Array<number>(count * 2);
  for (let i = 0; i < count; i++) {
    const start = r.u32();
    const end = r.u32();
    if (start >= end || start <= cumAck) throw new PacketError("Cannot decode ACK: bad range");
    ranges[2 * i] = start;
    ranges[2 * i + 1] = end;
  }
  r.end();
  return { largestPn, ackDelayUs, cumAck, limit, ranges };
}

/** DATA frame header: chunk index u32 (the chunk bytes follow). */
export function encodeDataHeader(chunk: number): Uint8Array {
  return new Writer(4).u32(chunk).bytes;
}

/** Splits a DATA body into chunk index and bytes. @throws {PacketError} */
export function decodeData(body: Uint8Array): { chunk: number; data: Uint8Array } {
  const r = new Reader(body);
  const chunk = r.u32();
  return { chunk, data: body.subarray(4) };
}

/** CANCEL body: code u8, reasonLength u16, reason (UTF-8, truncated to 200 bytes). */
export function encodeCancel(f: CancelFrame): Uint8Array {
  let reason = encoder.encode(f.reason);
  if (reason.length > MAX_REASON_BYTES) {
    reason = encoder.encode(truncateUtf8(f.reason, MAX_REASON_BYTES));
  }
  return new Writer(3 + reason.length).u8(f.code).u16(reason.length).raw(reason).bytes;
}

/** Parses a CANCEL body; unknown codes read as Protocol. @throws {PacketError} */
export function decodeCancel(body: Uint8Array): CancelFrame {
  const r = new Reader(body);
  const raw = r.u8();
  const length = r.u16();
  if (length > MAX_REASON_BYTES) throw new PacketError("Cannot decode CANCEL: reason too long");
  const reason = r.utf8(length);
  r.end();
  const code = raw >= 1 && raw <= 8 ? raw as CancelCode : CancelCode.Protocol;
  return { code, reason };
}

function truncateUtf8(text: string, maxBytes: number): string {
  let out = "";
  let bytes = 0;
  for (const ch of text) {
    const n = encoder.encode(ch).length;
    if (bytes + n > maxBytes) break;
    out += ch;
    bytes += n;
  }
  return out;
}

/**
 * Seals and opens whole datagrams for one transfer and one local role: it writes the
 * header, numbers nothing itself (the caller passes the packet number) and checks the
 * version, length, transfer id and tag of what it opens.
 */
export class PacketCodec {
  readonly #id: Uint8Array;
  readonly #protection: PacketProtection;
  readonly #local: Direction;
  readonly #remote: Direction;

  /**
   * @param transferId 8-byte transfer id.
   * @param protection sealing for this transfer's secret.
   * @param local direction of the packets this side sends.
   */
  constructor(transferId: Uint8Array, protection: PacketProtection, local: Direction) {
    if (transferId.length !== TRANSFER_ID_SIZE) {
      throw new RangeError(`Cannot create codec: transfer id is ${transferId.length} bytes`);
    }
    this.#id = transferId.slice();
    this.#protection = protection;
    this.#local = local;
    this.#remote = local === 0 ? 1 : 0;
  }

  /**
   * Builds a datagram of `type` with packet number `pn` and body `body ‖ extra`, in
   * `out` when given and large enough.
   */
  seal(
    type: PacketType,
    pn: number,
    body: Uint8Array,
    extra?: Uint8Array,
    out?: Uint8Array,
  ): Uint8Array {
    const header = new Uint8Array(HEADER_SIZE);
    header[0] = WIRE_VERSION;
    header[1] = type;
    header.set(this.#id, 2);
    const view = new DataView(header.buffer);
    view.setUint32(10, Math.floor(pn / TWO_32));
    view.setUint32(14, pn >>> 0);
    return this.#protection.seal(this.#local, pn, header, body, extra, out);
  }

  /**
   * Reads the packet number of a datagram from the peer without authenticating it,
   * so the caller can check its replay window first.
   * @throws {PacketError} when truncated, of another version or another transfer.
   */
  peekPacketNumber(datagram: Uint8Array): number {
    if (datagram.length < HEADER_SIZE + TAG_SIZE) {
      throw new PacketError("Cannot decode packet: truncated");
    }
    if (datagram[0] !== WIRE_VERSION) {
      throw new PacketError("Cannot decode packet: unknown version");
    }
    for (let i = 0; i < TRANSFER_ID_SIZE; i++) {
      if (datagram[2 + i] !== this.#id[i]) {
        throw new PacketError("Cannot decode packet: wrong transfer id");
      }
    }
    return new Reader(datagram.subarray(10, 18)).u64();
  }

  /** Authenticates a datagram from the peer. @throws {PacketError} */
  open(datagram: Uint8Array): OpenedPacket {
    const pn = this.peekPacketNumber(datagram);
    const type = datagram[1];
    if (type < PacketType.Hello || type > PacketType.DoneAck) {
      throw new PacketError("Cannot decode packet: unknown type");
    }
    const body = this.#protection.open(this.#remote, pn, datagram);
    return { type: type as PacketType, pn, body };
  }
}

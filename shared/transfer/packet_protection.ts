/**
 * Packet protection: authenticates (and for the AEAD suites encrypts) the body of a
 * datagram with the per-transfer secret. The cleartext header is always authenticated.
 *
 * Suites (all produce a 16-byte tag):
 * - `chacha20-poly1305` (default): AEAD, nonce = direction ‖ 0 0 0 ‖ packet number.
 * - `aes-256-gcm`: the same construction with AES-GCM; about 4× slower in Deno's
 *   node:crypto on this hardware, kept for interoperability and comparison.
 * - `poly1305`: integrity only (body in clear): the AEAD above with an empty plaintext and
 *   header ‖ body as associated data; about 3× cheaper than encrypting here, because
 *   node:crypto allocates a fresh output buffer for every encryption.
 *
 * A nonce is never reused: each direction numbers its packets from 0 upwards and the
 * direction is part of the nonce.
 *
 * Two implementations of ChaCha20-Poly1305 (RFC 8439) do the work, with the same output
 * bit for bit: node:crypto, and libsodium compiled to WebAssembly once
 * {@link loadFastAead} has loaded it. node:crypto's cost is mostly per call (a cipher
 * object and fresh output buffers: ≈ 15 µs to seal 1200 bytes here), libsodium's mostly
 * per byte (≈ 4 µs for the same), so datagrams of up to {@link FAST_AEAD_MAX_BYTES} go to
 * libsodium and larger ones (60 000-byte loopback datagrams, where node:crypto is faster)
 * to node:crypto. AES-GCM is node:crypto's alone.
 *
 * @module
 */

import { createCipheriv, createDecipheriv } from "node:crypto";
import { HEADER_SIZE, SECRET_SIZE, TAG_SIZE } from "./constants.ts";
import { PacketError } from "./packet_error.ts";

/** Name of a packet protection suite. */
export type CipherSuite = "chacha20-poly1305" | "aes-256-gcm" | "poly1305";

/** The suite used when none is configured: encrypts. */
export const DEFAULT_CIPHER_SUITE: CipherSuite = "chacha20-poly1305";
/**
 * The suite used by default between two loopback addresses: nobody else can observe that
 * path, so only integrity is needed, and skipping the encryption saves ≈ 15 % of the CPU
 * of a loopback transfer (docs/transfer.md § Protection suites).
 */
export const LOOPBACK_CIPHER_SUITE: CipherSuite = "poly1305";

/** node:crypto's types know only the GCM form of the AEAD interface; ChaCha20 has the same. */
const CHACHA = "chacha20-poly1305" as "aes-256-gcm";

/** Which side sent a packet: it is bound into the nonce so the two sides never collide. */
export type Direction = 0 | 1;
/** Packets from the sender of the file to its receiver. */
export const FROM_SENDER: Direction = 0;
/** Packets from the receiver of the file to its sender. */
export const FROM_RECEIVER: Direction = 1;

const TWO_32 = 2 ** 32;

/**
 * Datagrams of at most this many bytes are protected by libsodium once it is loaded
 * (docs/transfer.md § Protection suites: below this size it costs a quarter to a half
 * of node:crypto's time; at 16 KiB and above node:crypto is as fast or faster).
 */
export const FAST_AEAD_MAX_BYTES = 8192;

/** What this module uses of libsodium's raw WebAssembly interface. */
interface Sodium {
  HEAPU8: Uint8Array;
  _malloc(size: number): number;
  /** (c, mac, maclen_p, m, mlen_lo, mlen_hi, ad, adlen_lo, adlen_hi, nsec, npub, k) → 0 */
  _crypto_aead_chacha20poly1305_ietf_encrypt_detached(
    ...args: number[]
  ): number;
  /** (m, nsec, c, clen_lo, clen_hi, mac, ad, adlen_lo, adlen_hi, npub, k) → 0, or -1 on a bad tag */
  _crypto_aead_chacha20poly1305_ietf_decrypt_detached(
    ...args: number[]
  ): number;
}

/**
 * ChaCha20-Poly1305 on libsodium's memory: one allocation, made at load, holds the key,
 * the nonce, the tag, the associated data and the message (encrypted in place), so a
 * call allocates nothing but what it returns.
 */
class FastAead {
  readonly #sodium: Sodium;
  readonly #key: number;
  readonly #nonce: number;
  readonly #tag: number;
  readonly #ad: number;
  readonly #data: number;

  constructor(sodium: Sodium) {
    const base = sodium._malloc(64 + 2 * FAST_AEAD_MAX_BYTES);
    if (base === 0) throw new Error("Cannot load libsodium: out of memory");
    this.#sodium = sodium;
    this.#key = base;
    this.#nonce = base + 32;
    this.#tag = base + 48;
    this.#ad = base + 64;
    this.#data = this.#ad + FAST_AEAD_MAX_BYTES;
  }

  /** Puts the key, the nonce and the associated data in place; returns the memory. */
  #load(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array): Uint8Array {
    const heap = this.#sodium.HEAPU8;
    heap.set(key, this.#key);
    heap.set(nonce, this.#nonce);
    heap.set(ad, this.#ad);
    return heap;
  }

  /**
   * Encrypts `body ‖ extra` (authenticating `ad`) into `out` from `at`, the tag right
   * after it. With an empty body this is the MAC of `ad`.
   */
  seal(
    key: Uint8Array,
    nonce: Uint8Array,
    ad: Uint8Array,
    body: Uint8Array,
    extra: Uint8Array | undefined,
    out: Uint8Array,
    at: number,
  ): void {
    const heap = this.#load(key, nonce, ad);
    const data = this.#data;
    heap.set(body, data);
    let length = body.length;
    if (extra !== undefined) {
      heap.set(extra, data + length);
      length += extra.length;
    }
    this.#sodium._crypto_aead_chacha20poly1305_ietf_encrypt_detached(
      data,
      this.#tag,
      0,
      data,
      length,
      0,
      this.#ad,
      ad.length,
      0,
      0,
      this.#nonce,
      this.#key,
    );
    if (length > 0) out.set(heap.subarray(data, data + length), at);
    out.set(heap.subarray(this.#tag, this.#tag + TAG_SIZE), at + length);
  }

  /**
   * Verifies `tag` over `ad` and `text`; when it verifies, decrypts `text` in place and
   * returns true (nothing is written when it does not).
   */
  open(
    key: Uint8Array,
    nonce: Uint8Array,
    ad: Uint8Array,
    text: Uint8Array,
    tag: Uint8Array,
  ): boolean {
    const heap = this.#load(key, nonce, ad);
    const data = this.#data;
    heap.set(text, data);
    heap.set(tag, this.#tag);
    const failed = this.#sodium._crypto_aead_chacha20poly1305_ietf_decrypt_detached(
      data,
      0,
      data,
      text.length,
      0,
      this.#tag,
      this.#ad,
      ad.length,
      0,
      this.#nonce,
      this.#key,
    );
    if (failed !== 0) return false;
    if (text.length > 0) text.set(heap.subarray(data, data + text.length));
    return true;
  }
}

let fastAead: FastAead | undefined;
let loadingFastAead: Promise<boolean> | undefined;

/**
 * Loads libsodium (≈ 50 ms, once per thread); from then on small datagrams are protected
 * by it. Resolves false when it cannot be loaded: node:crypto then does all the work, with
 * the same result on the wire.
 */
export function loadFastAead(): Promise<boolean> {
  return loadingFastAead ??= import("libsodium").then(async (mod) => {
    fastAead = new FastAead(await (mod.default as () => Promise<Sodium>)());
    return true;
  }).catch(() => false);
}

/** libsodium when it is allowed and loaded, and `size` (a whole datagram) is small enough. */
function fastFor(allowed: boolean, size: number): FastAead | undefined {
  return allowed && size <= FAST_AEAD_MAX_BYTES ? fastAead : undefined;
}

/** Seals and opens packet bodies for one transfer. */
export interface PacketProtection {
  /**
   * Returns header ‖ protect(body ‖ extra) ‖ tag as one array: a view of `out` when it is
   * given and large enough, else a new array.
   * `header` must be HEADER_SIZE bytes; it is authenticated, not encrypted.
   */
  seal(
    direction: Direction,
    pn: number,
    header: Uint8Array,
    body: Uint8Array,
    extra?: Uint8Array,
    out?: Uint8Array,
  ): Uint8Array;
  /**
   * Verifies and unprotects a whole datagram; returns the body: a view of `datagram`
   * (poly1305, and libsodium's ChaCha20, which decrypts in place once the tag verifies)
   * or a new array (node:crypto's AEADs), so copy what must outlive `datagram`, and do
   * not expect its body unchanged.
   * @throws {PacketError} when the tag does not verify; `datagram` is then untouched.
   */
  open(direction: Direction, pn: number, datagram: Uint8Array): Uint8Array;
}

/** Options of {@link createPacketProtection}. */
export interface ProtectionOptions {
  /**
   * Whether small datagrams may go to libsodium once {@link loadFastAead} has loaded it.
   * Default true; false keeps every datagram on node:crypto (the tests and the bench
   * compare the two).
   */
  libsodium?: boolean;
}

/**
 * Creates the protection for one transfer.
 * @throws {RangeError} when the secret is not 32 bytes.
 */
export function createPacketProtection(
  secret: Uint8Array,
  suite: CipherSuite,
  options: ProtectionOptions = {},
): PacketProtection {
  if (secret.length !== SECRET_SIZE) {
    throw new RangeError(
      `Cannot protect packets: secret is ${secret.length} bytes, not ${SECRET_SIZE}`,
    );
  }
  const libsodium = options.libsodium ?? true;
  return suite === "poly1305"
    ? new MacProtection(secret, libsodium)
    : new AeadProtection(secret, suite, libsodium);
}

/** A view of `into` of `size` bytes when it is large enough, else a new array. */
function output(size: number, into: Uint8Array | undefined): Uint8Array {
  return into !== undefined && into.length >= size ? into.subarray(0, size) : new Uint8Array(size);
}

const EMPTY = new Uint8Array(0);

function unauthentic(): PacketError {
  return new PacketError("Cannot open packet: authentication failed", "unauthentic");
}

function writeNonce(nonce: Uint8Array, direction: Direction, pn: number): void {
  nonce[0] = direction;
  const view = new DataView(nonce.buffer, nonce.byteOffset, nonce.byteLength);
  view.setUint32(4, Math.floor(pn / TWO_32));
  view.setUint32(8, pn >>> 0);
}

class AeadProtection implements PacketProtection {
  readonly #key: Uint8Array;
  readonly #algorithm: "chacha20-poly1305" | "aes-256-gcm";
  readonly #nonce = new Uint8Array(12);
  /** Whether libsodium may do the work: ChaCha20 only, and when allowed. */
  readonly #libsodium: boolean;

  constructor(
    key: Uint8Array,
    algorithm: "chacha20-poly1305" | "aes-256-gcm",
    libsodium: boolean,
  ) {
    this.#key = key.slice();
    this.#algorithm = algorithm;
    this.#libsodium = libsodium && algorithm === "chacha20-poly1305";
  }

  seal(
    direction: Direction,
    pn: number,
    header: Uint8Array,
    body: Uint8Array,
    extra?: Uint8Array,
    into?: Uint8Array,
  ): Uint8Array {
    const length = body.length + (extra?.length ?? 0);
    const out = output(HEADER_SIZE + length + TAG_SIZE, into);
    out.set(header, 0);
    writeNonce(this.#nonce, direction, pn);
    const fast = fastFor(this.#libsodium, out.length);
    if (fast !== undefined) {
      fast.seal(this.#key, this.#nonce, header, body, extra, out, HEADER_SIZE);
      return out;
    }
    // Typed as GCM: chacha20-poly1305 has the same AEAD interface.
    const cipher = createCipheriv(this.#algorithm as "aes-256-gcm", this.#key, this.#nonce, {
      authTagLength: TAG_SIZE,
    });
    cipher.setAAD(header);
    let at = HEADER_SIZE;
    const first = cipher.update(body);
    out.set(first, at);
    at += first.length;
    if (extra !== undefined && extra.length > 0) {
      const second = cipher.update(extra);
      out.set(second, at);
      at += second.length;
    }
    const last = cipher.final();
    out.set(last, at);
    out.set(cipher.getAuthTag(), HEADER_SIZE + length);
    return out;
  }

  open(direction: Direction, pn: number, datagram: Uint8Array): Uint8Array {
    const end = datagram.length - TAG_SIZE;
    writeNonce(this.#nonce, direction, pn);
    const fast = fastFor(this.#libsodium, datagram.length);
    if (fast !== undefined) {
      const body = datagram.subarray(HEADER_SIZE, end);
      const header = datagram.subarray(0, HEADER_SIZE);
      if (!fast.open(this.#key, this.#nonce, header, body, datagram.subarray(end))) {
        throw unauthentic();
      }
      return body;
    }
    try {
      const decipher = createDecipheriv(this.#algorithm as "aes-256-gcm", this.#key, this.#nonce, {
        authTagLength: TAG_SIZE,
      });
      decipher.setAAD(datagram.subarray(0, HEADER_SIZE));
      decipher.setAuthTag(datagram.subarray(end));
      const plain = decipher.update(datagram.subarray(HEADER_SIZE, end));
      const last = decipher.final();
      if (last.length === 0) return new Uint8Array(plain.buffer, plain.byteOffset, plain.length);
      const joined = new Uint8Array(plain.length + last.length);
      joined.set(plain, 0);
      joined.set(last, plain.length);
      return joined;
    } catch {
      throw unauthentic();
    }
  }
}

/**
 * Integrity only: ChaCha20-Poly1305 with an empty plaintext and the whole datagram
 * (header ‖ body) as associated data, i.e. a one-time Poly1305 key per packet from
 * ChaCha20(key, nonce). Same key, nonce and tag as the AEAD suite; the body stays in clear
 * and no cipher output is allocated.
 */
class MacProtection implements PacketProtection {
  readonly #key: Uint8Array;
  readonly #nonce = new Uint8Array(12);
  /** Whether libsodium may do the work. */
  readonly #libsodium: boolean;

  constructor(key: Uint8Array, libsodium: boolean) {
    this.#key = key.slice();
    this.#libsodium = libsodium;
  }

  seal(
    direction: Direction,
    pn: number,
    header: Uint8Array,
    body: Uint8Array,
    extra?: Uint8Array,
    into?: Uint8Array,
  ): Uint8Array {
    const length = body.length + (extra?.length ?? 0);
    const out = output(HEADER_SIZE + length + TAG_SIZE, into);
    out.set(header, 0);
    out.set(body, HEADER_SIZE);
    if (extra !== undefined) out.set(extra, HEADER_SIZE + body.length);
    writeNonce(this.#nonce, direction, pn);
    const fast = fastFor(this.#libsodium, out.length);
    if (fast !== undefined) {
      fast.seal(
        this.#key,
        this.#nonce,
        out.subarray(0, HEADER_SIZE + length),
        EMPTY,
        undefined,
        out,
        HEADER_SIZE + length,
      );
      return out;
    }
    const cipher = createCipheriv(CHACHA, this.#key, this.#nonce, { authTagLength: TAG_SIZE });
    cipher.setAAD(out.subarray(0, HEADER_SIZE + length));
    cipher.final();
    out.set(cipher.getAuthTag(), HEADER_SIZE + length);
    return out;
  }

  open(direction: Direction, pn: number, datagram: Uint8Array): Uint8Array {
    const end = datagram.length - TAG_SIZE;
    writeNonce(this.#nonce, direction, pn);
    const fast = fastFor(this.#libsodium, datagram.length);
    if (fast !== undefined) {
      if (
        !fast.open(this.#key, this.#nonce, datagram.subarray(0, end), EMPTY, datagram.subarray(end))
      ) {
        throw unauthentic();
      }
      return datagram.subarray(HEADER_SIZE, end);
    }
    try {
      const decipher = createDecipheriv(CHACHA, this.#key, this.#nonce, {
        authTagLength: TAG_SIZE,
      });
      decipher.setAAD(datagram.subarray(0, end));
      decipher.setAuthTag(datagram.subarray(end));
      decipher.final();
    } catch {
      throw unauthentic();
    }
    return datagram.subarray(HEADER_SIZE, end);
  }
}

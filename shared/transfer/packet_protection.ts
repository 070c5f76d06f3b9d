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
   * Verifies and unprotects a whole datagram; returns the body: a new array (encrypting
   * suites) or a view of `datagram` (poly1305), so copy what must outlive `datagram`.
   * @throws {PacketError} when the tag does not verify.
   */
  open(direction: Direction, pn: number, datagram: Uint8Array): Uint8Array;
}

/**
 * Creates the protection for one transfer.
 * @throws {RangeError} when the secret is not 32 bytes.
 */
export function createPacketProtection(secret: Uint8Array, suite: CipherSuite): PacketProtection {
  if (secret.length !== SECRET_SIZE) {
    throw new RangeError(
      `Cannot protect packets: secret is ${secret.length} bytes, not ${SECRET_SIZE}`,
    );
  }
  return suite === "poly1305" ? new MacProtection(secret) : new AeadProtection(secret, suite);
}

/** A view of `into` of `size` bytes when it is large enough, else a new array. */
function output(size: number, into: Uint8Array | undefined): Uint8Array {
  return into !== undefined && into.length >= size ? into.subarray(0, size) : new Uint8Array(size);
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

  constructor(key: Uint8Array, algorithm: "chacha20-poly1305" | "aes-256-gcm") {
    this.#key = key.slice();
    this.#algorithm = algorithm;
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
      throw new PacketError("Cannot open packet: authentication failed", "unauthentic");
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

  constructor(key: Uint8Array) {
    this.#key = key.slice();
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
    const cipher = createCipheriv(CHACHA, this.#key, this.#nonce, { authTagLength: TAG_SIZE });
    cipher.setAAD(out.subarray(0, HEADER_SIZE + length));
    cipher.final();
    out.set(cipher.getAuthTag(), HEADER_SIZE + length);
    return out;
  }

  open(direction: Direction, pn: number, datagram: Uint8Array): Uint8Array {
    const end = datagram.length - TAG_SIZE;
    writeNonce(this.#nonce, direction, pn);
    try {
      const decipher = createDecipheriv(CHACHA, this.#key, this.#nonce, {
        authTagLength: TAG_SIZE,
      });
      decipher.setAAD(datagram.subarray(0, end));
      decipher.setAuthTag(datagram.subarray(end));
      decipher.final();
    } catch {
      throw new PacketError("Cannot open packet: authentication failed", "unauthentic");
    }
    return datagram.subarray(HEADER_SIZE, end);
  }
}

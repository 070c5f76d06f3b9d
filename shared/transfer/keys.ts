/**
 * Parsing of the transfer id and per-transfer secret the server hands to both peers.
 *
 * @module
 */

import { SECRET_SIZE, TRANSFER_ID_SIZE } from "./constants.ts";
import { fromHex } from "./packet.ts";

/**
 * Accepts an 8-byte transfer id as bytes or 16 hex digits.
 * @throws {TypeError} when it is neither.
 */
export function parseTransferId(id: Uint8Array | string): Uint8Array {
  const bytes = typeof id === "string" ? fromHex(id) : id.slice();
  if (bytes.length !== TRANSFER_ID_SIZE) {
    throw new TypeError(
      `Cannot use transfer id: it has ${bytes.length} bytes, not ${TRANSFER_ID_SIZE}`,
    );
  }
  return bytes;
}

/**
 * Accepts a 32-byte secret as bytes, 64 hex digits or base64 (standard or URL-safe).
 * @throws {TypeError} when it is none of these.
 */
export function parseSecret(secret: Uint8Array | string): Uint8Array {
  let bytes: Uint8Array;
  if (typeof secret !== "string") {
    bytes = secret.slice();
  } else if (/^[0-9a-fA-F]{64}$/.test(secret)) {
    bytes = fromHex(secret);
  } else {
    try {
      const binary = atob(secret.replaceAll("-", "+").replaceAll("_", "/"));
      bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    } catch {
      throw new TypeError("Cannot use secret: it is neither hex nor base64");
    }
  }
  if (bytes.length !== SECRET_SIZE) {
    throw new TypeError(`Cannot use secret: it has ${bytes.length} bytes, not ${SECRET_SIZE}`);
  }
  return bytes;
}

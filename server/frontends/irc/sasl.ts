/**
 * SASL PLAIN over `AUTHENTICATE` (IRCv3 sasl-3.1): the payload arrives as
 * base64 in chunks of {@link SASL_CHUNK_BYTES}; a shorter chunk, or `+` after
 * a full one, ends it. Pure code.
 *
 * @module
 */

import { MAX_PASSWORD_CHARS } from "../../../shared/limits.ts";

/** The size of every `AUTHENTICATE` chunk but the last. */
export const SASL_CHUNK_BYTES = 400;

/**
 * The most base64 one login may send: a PLAIN payload of two 32-character
 * names and a password of {@link MAX_PASSWORD_CHARS} characters, 4 UTF-8
 * bytes each at worst, with room to spare.
 */
export const SASL_MAX_ENCODED_BYTES = 4 * Math.ceil((2 * 32 * 4 + 2 + MAX_PASSWORD_CHARS * 4) / 3) +
  SASL_CHUNK_BYTES;

/** What one `AUTHENTICATE` chunk did to the payload being assembled. */
export type SaslChunkResult =
  | { kind: "more" }
  | { kind: "done"; payload: Uint8Array }
  | { kind: "too_long" }
  | { kind: "bad_base64" };

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Assembles one SASL payload from its `AUTHENTICATE` chunks. */
export class SaslPayload {
  #encoded = "";

  /**
   * Takes the parameter of one `AUTHENTICATE` line.
   *
   * @example
   * ```ts
   * new SaslPayload().push("AGJvYgBzZWNyZXQ="); // { kind: "done", payload: ... }
   * ```
   */
  push(chunk: string): SaslChunkResult {
    if (chunk.length > SASL_CHUNK_BYTES) return { kind: "too_long" };
    if (chunk !== "+") this.#encoded += chunk;
    if (this.#encoded.length > SASL_MAX_ENCODED_BYTES) return { kind: "too_long" };
    if (chunk.length === SASL_CHUNK_BYTES) return { kind: "more" };
    const encoded = this.#encoded;
    this.#encoded = "";
    if (!BASE64.test(encoded)) return { kind: "bad_base64" };
    const binary = atob(encoded);
    const payload = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) payload[i] = binary.charCodeAt(i);
    return { kind: "done", payload };
  }
}

/** The three fields of a PLAIN payload. */
export interface PlainCredentials {
  /** Who to act as; empty means the same as {@link authcid}. */
  authzid: string;
  /** Whose password it is: the username. */
  authcid: string;
  password: string;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Reads a PLAIN payload, `authzid NUL authcid NUL password` (RFC 4616).
 *
 * @returns undefined when it is not one (wrong field count, invalid UTF-8,
 *   no username).
 */
export function parsePlain(payload: Uint8Array): PlainCredentials | undefined {
  let text: string;
  try {
    text = utf8.decode(payload);
  } catch {
    return undefined;
  }
  const parts = text.split("\0");
  if (parts.length !== 3 || parts[1] === "") return undefined;
  const [authzid, authcid, password] = parts;
  return { authzid, authcid, password };
}

/**
 * The base64 `AUTHENTICATE` parameters a client sends for a payload: chunks
 * of {@link SASL_CHUNK_BYTES}, and `+` when the last one was full or the
 * payload is empty. For tests and test clients.
 */
export function saslChunks(payload: Uint8Array): string[] {
  let binary = "";
  for (const b of payload) binary += String.fromCharCode(b);
  const encoded = btoa(binary);
  const chunks: string[] = [];
  for (let i = 0; i < encoded.length; i += SASL_CHUNK_BYTES) {
    chunks.push(encoded.slice(i, i + SASL_CHUNK_BYTES));
  }
  if (encoded.length % SASL_CHUNK_BYTES === 0) chunks.push("+");
  return chunks;
}

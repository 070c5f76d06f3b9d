/**
 * Password hashing with scrypt. The stored form is self-describing, so its cost
 * can be raised later without breaking old hashes:
 * `scrypt$N$r$p$SALT$HASH` (salt and hash in base64).
 *
 * @module
 */

import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import {
  MAX_CONCURRENT_PASSWORD_HASHES,
  MAX_PASSWORD_QUEUE_WAIT_MS,
  MAX_QUEUED_PASSWORD_CHECKS,
  type QueueBounds,
  Semaphore,
} from "./limits.ts";

/** scrypt cost used for new hashes: N = 2^14, r = 8, p = 1 (about 16 MiB, ~50–90 ms). */
export const SCRYPT_COST = { N: 16384, r: 8, p: 1 } as const;

const KEY_BYTES = 32;
const SALT_BYTES = 16;
const PREFIX = "scrypt$";

/** True when a credentials password field is a stored hash rather than plaintext. */
export function isPasswordHash(field: string): boolean {
  return field.startsWith(PREFIX) && parseHash(field) !== undefined;
}

/** Caps the memory and CPU that concurrent logins can take (see limits.ts). */
const hashSlots = new Semaphore(MAX_CONCURRENT_PASSWORD_HASHES);

function derive(
  password: string,
  salt: Uint8Array,
  cost: { N: number; r: number; p: number },
  bounds?: QueueBounds,
): Promise<Uint8Array> {
  return hashSlots.run(() => deriveNow(password, salt, cost), bounds);
}

/** Queue bounds of a login's password check (see `limits.ts`). */
const LOGIN_BOUNDS: QueueBounds = {
  maxQueue: MAX_QUEUED_PASSWORD_CHECKS,
  maxWaitMs: MAX_PASSWORD_QUEUE_WAIT_MS,
};

function deriveNow(
  password: string,
  salt: Uint8Array,
  cost: { N: number; r: number; p: number },
): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    scrypt(
      password,
      salt,
      KEY_BYTES,
      { ...cost, maxmem: 256 * cost.N * cost.r + 1024 * 1024 },
      (err, key) => (err ? reject(err) : resolve(new Uint8Array(key))),
    );
  });
}

const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const unb64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

/**
 * Hashes a password with a fresh salt.
 *
 * @example
 * ```ts
 * console.log(await hashPassword("hunter2")); // "scrypt$16384$8$1$...$..."
 * ```
 */
export async function hashPassword(
  password: string,
  cost: { N: number; r: number; p: number } = SCRYPT_COST,
): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, cost);
  return `${PREFIX}${cost.N}$${cost.r}$${cost.p}$${b64(salt)}$${b64(key)}`;
}

interface ParsedHash {
  cost: { N: number; r: number; p: number };
  salt: Uint8Array;
  key: Uint8Array;
}

function parseHash(stored: string): ParsedHash | undefined {
  const parts = stored.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return undefined;
  const [N, r, p] = parts.slice(1, 4).map(Number);
  const valid = Number.isInteger(N) && N >= 2 && (N & (N - 1)) === 0 && N <= 2 ** 20 &&
    Number.isInteger(r) && r >= 1 && r <= 32 && Number.isInteger(p) && p >= 1 && p <= 16;
  if (!valid) return undefined;
  try {
    const salt = unb64(parts[4]);
    const key = unb64(parts[5]);
    if (salt.length < 8 || key.length < 16) return undefined;
    return { cost: { N, r, p }, salt, key };
  } catch {
    return undefined;
  }
}

/**
 * Checks a password against a stored hash in constant time. False for a
 * malformed hash. With `forLogin`, the check waits in a bounded queue.
 *
 * @throws {BusyError} (`forLogin` only) when too many logins are waiting.
 */
export async function verifyPassword(
  password: string,
  stored: string,
  options: { forLogin?: boolean } = {},
): Promise<boolean> {
  const parsed = parseHash(stored);
  if (!parsed) return false;
  const key = await derive(
    password,
    parsed.salt,
    parsed.cost,
    options.forLogin ? LOGIN_BOUNDS : undefined,
  );
  return key.length === parsed.key.length && timingSafeEqual(key, parsed.key);
}

/**
 * Reads `credentials.txt` (SPEC §2) and brings the store's accounts in line with it.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import type { Clock } from "../shared/time.ts";
import { USERNAME_PATTERN } from "../shared/limits.ts";
import { hashPassword, isPasswordHash, verifyPassword } from "./passwords.ts";
import type { ChatStore } from "./ports.ts";

/** One account line of the file. */
export interface CredentialEntry {
  line: number;
  user: string;
  /** Plaintext, or a stored hash when {@link isPasswordHash} says so. */
  password: string;
}

/** What {@link parseCredentials} found. */
export interface ParsedCredentials {
  entries: CredentialEntry[];
  /** One line per skipped line: `credentials.txt:7: ...`. */
  problems: string[];
}

/**
 * Parses the text of a credentials file: `username password` per line, one
 * space. Blank lines and `#` comments are ignored; a malformed line is reported
 * with its number and skipped; a repeated username keeps its first line.
 */
export function parseCredentials(text: string, fileName = "credentials.txt"): ParsedCredentials {
  const entries: CredentialEntry[] = [];
  const problems: string[] = [];
  const seen = new Set<string>();
  const lines = text.split("\n");
  lines.forEach((raw, i) => {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    const n = i + 1;
    if (line.trim() === "" || line.trimStart().startsWith("#")) return;
    const parts = line.split(" ");
    if (parts.length !== 2 || parts[0] === "" || parts[1] === "") {
      problems.push(`${fileName}:${n}: expected "username password" separated by one space`);
    } else if (!USERNAME_PATTERN.test(parts[0])) {
      problems.push(
        `${fileName}:${n}: invalid username ${JSON.stringify(parts[0])} ` +
          "(letters, digits, _ . - only, at most 32)",
      );
    } else if (seen.has(parts[0])) {
      problems.push(`${fileName}:${n}: duplicate username ${JSON.stringify(parts[0])} ignored`);
    } else {
      seen.add(parts[0]);
      entries.push({ line: n, user: parts[0], password: parts[1] });
    }
  });
  return { entries, problems };
}

/**
 * Brings the store in line with the file: every listed user exists with the
 * listed password. Plaintext passwords are hashed; an unchanged plaintext
 * password keeps its stored hash. Users that are only in the store (added with
 * `tessenger user add`) are kept.
 *
 * @returns how many accounts were added or changed, and a line for each
 * account that could not be (its name is taken by a group, case aside).
 */
export async function importCredentials(
  store: ChatStore,
  entries: CredentialEntry[],
  now: number,
): Promise<{ changed: number; refused: string[] }> {
  let changed = 0;
  const refused: string[] = [];
  const work = entries.map(async ({ line, user, password }) => {
    const current = await store.getPasswordHash(user);
    const hash = isPasswordHash(password)
      ? password
      : current !== undefined && await verifyPassword(password, current)
      ? current
      : await hashPassword(password);
    if (hash === current) return;
    try {
      await store.setPasswordHash(user, hash, now);
      changed++;
    } catch (e) {
      refused.push(`line ${line}: ${e instanceof Error ? e.message : String(e)}`);
    }
  });
  await Promise.all(work);
  return { changed, refused };
}

/**
 * Reads the credentials file at `path` and imports it into the store, logging
 * each skipped line. A missing file is not an error: the accounts already in
 * the database stay in use.
 */
export async function loadCredentials(
  store: ChatStore,
  path: string,
  clock: Clock,
  log: Logger,
): Promise<void> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    log.warn("No credentials file at {path}; using the accounts in the database", { path });
    return;
  }
  const { entries, problems } = parseCredentials(text, path);
  for (const p of problems) log.warn("Skipped {problem}", { problem: p });
  const { changed, refused } = await importCredentials(store, entries, clock());
  for (const r of refused) log.warn("Skipped {path} {problem}", { path, problem: r });
  log.info("Loaded {n} accounts from {path} ({changed} new or changed)", {
    n: entries.length,
    path,
    changed,
  });
}

/**
 * File-system side of P2P transfers: hashing a file before it is offered, and saving a
 * received file without ever writing outside the downloads directory or replacing an
 * existing file.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { basename, join } from "node:path";
import { alternativeName, sanitizeBaseName } from "../shared/transfer/mod.ts";

/** Buffer size for streaming a file through SHA-256. */
const HASH_BLOCK = 1024 * 1024;
/** A received file gets at most this many numbered alternatives before saving fails. */
const MAX_ALTERNATIVES = 1000;

/** What the sender announces about a file. */
export interface FileDescription {
  size: number;
  /** SHA-256 as 64 hex digits. */
  sha256: string;
  /** Base name of the path, sanitized as the receiver will sanitize it. */
  baseName: string;
}

/**
 * Streams a file through SHA-256 (never holding it whole) and returns its size, hash and
 * base name.
 * @throws {Deno.errors.NotFound} / {Deno.errors.PermissionDenied} when it cannot be read;
 * {TypeError} when it is not a regular file.
 * @example const { size, sha256 } = await describeFile("clip.mp4");
 */
export async function describeFile(path: string): Promise<FileDescription> {
  using file = await Deno.open(path, { read: true });
  const info = await file.stat();
  if (!info.isFile) throw new TypeError(`Cannot describe file: "${path}" is not a regular file`);
  const hash = createHash("sha256");
  const buffer = new Uint8Array(HASH_BLOCK);
  let size = 0;
  for (;;) {
    const n = await file.read(buffer);
    if (n === null) break;
    hash.update(buffer.subarray(0, n));
    size += n;
  }
  return { size, sha256: hash.digest("hex"), baseName: sanitizeBaseName(basename(path)) };
}

/**
 * Moves a verified `.part` file to `dir/NAME`, or `dir/NAME (1).ext`, `NAME (2).ext`, …
 * when taken: an existing file is never replaced. Uses a hard link (atomic, fails if the
 * name exists) and falls back to reserving the name with an exclusive create.
 * @returns the path the file was saved under.
 * @throws {Error} when 1000 names are taken or the file system refuses.
 */
export async function commitPartFile(partPath: string, dir: string, name: string): Promise<string> {
  const safe = sanitizeBaseName(name);
  for (let i = 0; i < MAX_ALTERNATIVES; i++) {
    const target = join(dir, alternativeName(safe, i));
    try {
      await Deno.link(partPath, target);
      await Deno.remove(partPath);
      return target;
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists) continue;
      // No hard links here: reserve the name exclusively, then move over our placeholder.
      try {
        const placeholder = await Deno.open(target, { write: true, createNew: true });
        placeholder.close();
      } catch (e2) {
        if (e2 instanceof Deno.errors.AlreadyExists) continue;
        throw e2;
      }
      await Deno.rename(partPath, target);
      return target;
    }
  }
  throw new Error(`Cannot save file: "${safe}" and ${MAX_ALTERNATIVES - 1} alternatives exist`);
}

/** Removes a file, ignoring a missing one. */
export async function removeQuietly(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch {
    // Already gone, or not ours to worry about.
  }
}

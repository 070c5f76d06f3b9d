/**
 * Resumable `.part` files: what a receiver keeps of an interrupted transfer so that
 * sending the same file again moves only what is missing.
 *
 * A transfer writes its file in order into `SENDER_FILE.KEY.part`, where KEY is derived
 * from the sender, the file's size and its SHA-256 (so the same file from the same sender
 * finds the same part, whatever the transfer id). Beside it, `SENDER_FILE.KEY.part.state`
 * records checkpoints: prefixes of the file known written, each with the SHA-256 of the
 * bytes [0, length), bound to the sender, size and SHA-256 of the whole file. A new
 * transfer of that file reads the part back, keeps the longest prefix whose checkpoint
 * still matches (a torn or lost write at the end drops only what follows the last good
 * checkpoint), and resumes from there; the receiver still checks the SHA-256 of the
 * whole file before it saves it.
 *
 * ```ts
 * import { createHash } from "node:crypto";
 * declare const dir: string, chunkSize: number;
 * const identity = { from: "Yoda", fileName: "clip.mp4", size: 1e9, sha256: "ab".repeat(32) };
 * const part = await openPart(dir, "Yoda_clip.mp4", identity, chunkSize);
 * // part.resumeBytes are there already (part.hash has been fed them); write the rest
 * // at part.file's position, recording checkpoints of what is written:
 * const checkpoints = new Checkpoints(part.checkpoints);
 * checkpoints.record(part.resumeBytes, createHash("sha256").digest("hex"));
 * await savePartState(part.statePath, identity, checkpoints.list);
 * part.file.close();
 * ```
 *
 * @module
 */

import { createHash, type Hash } from "node:crypto";
import { join } from "node:path";
import { sanitizeBaseName } from "../shared/transfer/mod.ts";

/** Parts and their state files older than this are removed when a client starts (ms). */
export const PART_MAX_AGE_MS = 7 * 24 * 3600 * 1000;
/** A checkpoint is recorded at most every this many bytes written. */
export const CHECKPOINT_EVERY_BYTES = 1024 * 1024;
/** Checkpoints kept in a state file (the oldest are dropped). */
const MAX_CHECKPOINTS = 16;
/** What the part is read back in, to verify it. */
const READ_BLOCK = 1024 * 1024;
const STATE_VERSION = 1;
/** `NAME.KEY.part` and `NAME.KEY.part.state`: KEY is 16 hex digits. */
const PART_PATTERN = /\.[0-9a-f]{16}(?:-[0-9a-f]{16})?\.part(?:\.state)?$/;

/** What a part belongs to: the same file from the same sender. */
export interface PartIdentity {
  from: string;
  fileName: string;
  size: number;
  /** SHA-256 of the whole file, 64 hex digits. */
  sha256: string;
}

/** A prefix of the file known written: its length and the SHA-256 of it, hex. */
export type Checkpoint = [length: number, sha256: string];

/** A part opened for a transfer. */
export interface OpenedPart {
  path: string;
  statePath: string;
  /** Open for writing, positioned at resumeBytes (the part is cut there). */
  file: Deno.FsFile;
  /** Bytes kept from an earlier attempt: whole chunks, or the whole file. */
  resumeBytes: number;
  /** SHA-256 fed exactly those bytes (for the receiver to go on with). */
  hash: Hash;
  /** The checkpoints that still hold, up to resumeBytes. */
  checkpoints: Checkpoint[];
}

/** The part's key: 16 hex digits of SHA-256 over the sender, size and file hash. */
export function partKey(identity: PartIdentity): string {
  return createHash("sha256")
    .update(`${identity.from}\n${identity.size}\n${identity.sha256.toLowerCase()}`)
    .digest("hex")
    .slice(0, 16);
}

/**
 * Opens the part for `identity` in `dir` (`name` is the saved file's name, SENDER_FILE):
 * resumes what an earlier attempt left when its state checks out, else starts a new one.
 * With `unique`, a part of its own (another transfer of the same file is running): it
 * is not resumed and not left for resuming.
 */
export async function openPart(
  dir: string,
  name: string,
  identity: PartIdentity,
  chunkSize: number,
  unique?: string,
): Promise<OpenedPart> {
  const key = partKey(identity) + (unique === undefined ? "" : `-${unique}`);
  const path = join(dir, `${sanitizeBaseName(name)}.${key}.part`);
  const statePath = `${path}.state`;
  const checkpoints = unique === undefined ? await readState(statePath, identity) : [];
  let file: Deno.FsFile;
  if (checkpoints.length > 0) {
    try {
      file = await Deno.open(path, { read: true, write: true });
    } catch {
      file = await Deno.open(path, { write: true, create: true, truncate: true });
      return { path, statePath, file, resumeBytes: 0, hash: createHash("sha256"), checkpoints: [] };
    }
    try {
      const kept = await verify(file, checkpoints, identity.size, chunkSize);
      await file.truncate(kept.resumeBytes);
      await file.seek(kept.resumeBytes, Deno.SeekMode.Start);
      return { path, statePath, file, ...kept };
    } catch (e) {
      file.close();
      throw e;
    }
  }
  file = await Deno.open(path, { write: true, create: true, truncate: true });
  return { path, statePath, file, resumeBytes: 0, hash: createHash("sha256"), checkpoints: [] };
}

/** The checkpoints of a state file that belongs to `identity`, or none. */
async function readState(statePath: string, identity: PartIdentity): Promise<Checkpoint[]> {
  let state: unknown;
  try {
    state = JSON.parse(await Deno.readTextFile(statePath));
  } catch {
    return [];
  }
  if (typeof state !== "object" || state === null) return [];
  const s = state as Record<string, unknown>;
  if (
    s.version !== STATE_VERSION || s.from !== identity.from || s.size !== identity.size ||
    s.sha256 !== identity.sha256.toLowerCase() || !Array.isArray(s.checkpoints)
  ) {
    return [];
  }
  const out: Checkpoint[] = [];
  for (const c of s.checkpoints) {
    if (
      Array.isArray(c) && Number.isSafeInteger(c[0]) && c[0] > 0 && c[0] <= identity.size &&
      typeof c[1] === "string" && /^[0-9a-f]{64}$/.test(c[1])
    ) {
      out.push([c[0], c[1]]);
    }
  }
  return out.sort((a, b) => a[0] - b[0]);
}

/**
 * Reads the part from the start through SHA-256 and keeps the longest prefix whose
 * checkpoint matches, cut down to whole chunks.
 */
async function verify(
  file: Deno.FsFile,
  checkpoints: Checkpoint[],
  size: number,
  chunkSize: number,
): Promise<Omit<OpenedPart, "path" | "statePath" | "file">> {
  const hash = createHash("sha256");
  const verified: Array<{ at: Checkpoint; hash: Hash }> = [];
  const buffer = new Uint8Array(READ_BLOCK);
  let position = 0;
  for (const checkpoint of checkpoints) {
    const [length, digest] = checkpoint;
    let short = false;
    while (position < length) {
      const n = await file.read(buffer.subarray(0, Math.min(READ_BLOCK, length - position)));
      if (n === null) {
        short = true;
        break;
      }
      hash.update(buffer.subarray(0, n));
      position += n;
    }
    if (short || hash.copy().digest("hex") !== digest) break;
    verified.push({ at: checkpoint, hash: hash.copy() });
  }
  const good = verified.at(-1);
  if (good === undefined) return { resumeBytes: 0, hash: createHash("sha256"), checkpoints: [] };
  const length = good.at[0];
  const resumeBytes = length >= size ? size : length - (length % chunkSize);
  // The hash at resumeBytes: from the last checkpoint at or below it, reading the rest.
  let from = verified.length - 1;
  while (from >= 0 && verified[from].at[0] > resumeBytes) from--;
  const base = from >= 0 ? verified[from] : undefined;
  const out = base === undefined ? createHash("sha256") : base.hash.copy();
  let at = base === undefined ? 0 : base.at[0];
  await file.seek(at, Deno.SeekMode.Start);
  while (at < resumeBytes) {
    const n = await file.read(buffer.subarray(0, Math.min(READ_BLOCK, resumeBytes - at)));
    if (n === null) throw new Error("Cannot resume file: the part shrank while it was read");
    out.update(buffer.subarray(0, n));
    at += n;
  }
  return { resumeBytes, hash: out, checkpoints: verified.slice(0, from + 1).map((v) => v.at) };
}

/** The checkpoints of a part being written: recorded at most every CHECKPOINT_EVERY_BYTES. */
export class Checkpoints {
  #list: Checkpoint[];

  constructor(initial: Checkpoint[] = []) {
    this.#list = [...initial];
  }

  /** The checkpoints, oldest first. */
  get list(): readonly Checkpoint[] {
    return this.#list;
  }

  /** Whether one at `length` is due (the last is CHECKPOINT_EVERY_BYTES behind, or none). */
  due(length: number): boolean {
    const last = this.#list.at(-1)?.[0] ?? 0;
    return length > last && (length - last >= CHECKPOINT_EVERY_BYTES || last === 0);
  }

  /** Records that bytes [0, length) hash to `sha256`. */
  record(length: number, sha256: string): void {
    this.#list.push([length, sha256]);
    if (this.#list.length > MAX_CHECKPOINTS) this.#list.splice(1, 1); // keep the first
  }
}

/**
 * Writes the state file (to a temporary name, then renamed over it: a crash leaves the
 * old state or the new, never half of one).
 */
export async function savePartState(
  statePath: string,
  identity: PartIdentity,
  checkpoints: readonly Checkpoint[],
): Promise<void> {
  const state = {
    version: STATE_VERSION,
    from: identity.from,
    fileName: identity.fileName,
    size: identity.size,
    sha256: identity.sha256.toLowerCase(),
    checkpoints,
  };
  const temporary = `${statePath}.tmp`;
  await Deno.writeTextFile(temporary, JSON.stringify(state) + "\n");
  await Deno.rename(temporary, statePath);
}

/** Removes a part and its state, ignoring what is already gone. */
export async function removePart(path: string, statePath: string): Promise<void> {
  for (const p of [path, statePath, `${statePath}.tmp`]) {
    try {
      await Deno.remove(p);
    } catch {
      // Already gone.
    }
  }
}

/**
 * Removes the parts (and state files) in `dir` not touched for `maxAgeMs`: transfers
 * interrupted long ago that nobody sent again. Returns how many files were removed;
 * never throws (a downloads dir that cannot be read has nothing to clean).
 */
export async function removeStaleParts(
  dir: string,
  maxAgeMs = PART_MAX_AGE_MS,
  now = Date.now(),
): Promise<number> {
  let removed = 0;
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.isFile || !PART_PATTERN.test(entry.name)) continue;
      const path = join(dir, entry.name);
      try {
        const info = await Deno.stat(path);
        const touched = info.mtime?.getTime() ?? now;
        if (now - touched < maxAgeMs) continue;
        await Deno.remove(path);
        removed++;
      } catch {
        // Gone meanwhile, or not ours to remove.
      }
    }
  } catch {
    // No such dir, or not readable.
  }
  return removed;
}

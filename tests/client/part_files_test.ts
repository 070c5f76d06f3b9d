/**
 * Resumable .part files: what a new attempt keeps of what an earlier one wrote, checked
 * against the checkpoints of its state file.
 */

import { assert } from "../helpers/assert.ts";
import { createHash } from "node:crypto";
import { join } from "node:path";
import {
  Checkpoints,
  openPart,
  partKey,
  removeStaleParts,
  savePartState,
} from "../../client/part_files.ts";

const MIB = 1024 * 1024;
const CHUNK = 1162;

function bytes(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed;
  for (let i = 0; i < size; i++) out[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  return out;
}

const digest = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** A part of `written` bytes of `data` with checkpoints every MiB, as a transfer leaves it. */
async function leavePart(dir: string, data: Uint8Array, written: number, from = "Yoda") {
  const identity = { from, fileName: "clip.mp4", size: data.length, sha256: digest(data) };
  const part = await openPart(dir, "Yoda_clip.mp4", identity, CHUNK);
  assert.equal(part.resumeBytes, 0);
  await part.file.write(data.subarray(0, written));
  part.file.close();
  const checkpoints = new Checkpoints();
  for (let at = MIB; at <= written; at += MIB) {
    checkpoints.record(at, digest(data.subarray(0, at)));
  }
  await savePartState(part.statePath, identity, checkpoints.list);
  return { identity, path: part.path };
}

Deno.test("a part whose checkpoints match is resumed from the last one, in whole chunks", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const data = bytes(5 * MIB, 1);
    const { identity, path } = await leavePart(dir, data, 3 * MIB + 500);
    const part = await openPart(dir, "Yoda_clip.mp4", identity, CHUNK);
    const expected = 3 * MIB - ((3 * MIB) % CHUNK);
    assert.equal(part.path, path);
    assert.equal(part.resumeBytes, expected);
    assert.equal(part.hash.digest("hex"), digest(data.subarray(0, expected)));
    assert.equal((await part.file.stat()).size, expected, "the part is cut at the resume point");
    part.file.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a part damaged after a checkpoint is resumed from the checkpoint before the damage", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const data = bytes(4 * MIB, 2);
    const { identity, path } = await leavePart(dir, data, 4 * MIB);
    const file = await Deno.open(path, { write: true });
    await file.seek(2 * MIB + 10, Deno.SeekMode.Start);
    await file.write(new Uint8Array([data[2 * MIB + 10] ^ 0xff]));
    file.close();
    const part = await openPart(dir, "Yoda_clip.mp4", identity, CHUNK);
    assert.equal(part.resumeBytes, 2 * MIB - ((2 * MIB) % CHUNK));
    assert.equal(part.checkpoints.length, 1, "the 2 MiB checkpoint is above the resume point");
    part.file.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a part of the same file from another sender, or of another file, is not resumed", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const data = bytes(2 * MIB, 3);
    const { identity } = await leavePart(dir, data, 2 * MIB);
    assert.notEqual(partKey(identity), partKey({ ...identity, from: "Hans" }));
    // The state names another sender: a fresh part (under the other key), nothing kept.
    const other = await openPart(dir, "Yoda_clip.mp4", { ...identity, from: "Hans" }, CHUNK);
    assert.equal(other.resumeBytes, 0);
    other.file.close();
    // Ours, whole: resumed to the end.
    const whole = await openPart(dir, "Yoda_clip.mp4", identity, CHUNK);
    assert.equal(whole.resumeBytes, 2 * MIB);
    whole.file.close();
    // A second transfer of the same file at once gets a part of its own.
    const unique = await openPart(dir, "Yoda_clip.mp4", identity, CHUNK, "00112233aabbccdd");
    assert.equal(unique.resumeBytes, 0);
    assert.notEqual(unique.path, whole.path);
    unique.file.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("stale parts and state files are removed at start; recent ones and other files stay", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const old = join(dir, "Yoda_a.mp4.0123456789abcdef.part");
    const oldState = `${old}.state`;
    const fresh = join(dir, "Yoda_b.mp4.fedcba9876543210.part");
    const mine = join(dir, "notes.part"); // not of our naming
    for (const p of [old, oldState, fresh, mine]) await Deno.writeTextFile(p, "x");
    const weekAgo = new Date(Date.now() - 8 * 24 * 3600 * 1000);
    await Deno.utime(old, weekAgo, weekAgo);
    await Deno.utime(oldState, weekAgo, weekAgo);
    assert.equal(await removeStaleParts(dir), 2);
    const left = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(left, ["Yoda_b.mp4.fedcba9876543210.part", "notes.part"]);
    assert.equal(await removeStaleParts(join(dir, "missing")), 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

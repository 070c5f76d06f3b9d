/**
 * Fuzzes the wire codec (FrameDecoder + parseClientFrame) with a fixed seed: random
 * and mutated lines in random chunkings. Nothing may throw except FrameError,
 * the buffer stays bounded, and the decoder always resynchronises at a newline.
 */

import { assert, assertEquals } from "../helpers/assert.ts";
import { MAX_FRAME_BYTES } from "../../shared/limits.ts";
import { FrameDecoder, FrameError, parseClientFrame } from "../../shared/protocol.ts";
import { Random } from "../helpers/random.ts";
import { randomLine } from "./_fuzz_inputs.ts";

const SEED = 20261125;
const STREAMS = 200;
const LINES_PER_STREAM = 20;

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Decodes a stream fed in the given chunk sizes; returns a comparable summary. */
function decode(stream: Uint8Array, chunk: (left: number) => number, small: boolean): string[] {
  const decoder = new FrameDecoder(small ? 256 : MAX_FRAME_BYTES);
  const out: string[] = [];
  for (let at = 0; at < stream.length;) {
    const n = Math.max(1, Math.min(stream.length - at, chunk(stream.length - at)));
    for (const item of decoder.push(stream.subarray(at, at + n))) {
      if (item instanceof FrameError) {
        out.push(`error:${item.code}`);
        continue;
      }
      try {
        const frame = parseClientFrame(item);
        out.push(
          frame.t === "req"
            ? `req:${frame.id}:${frame.cmd}:${frame.args.length}`
            : `ack:${frame.inbox}:${Object.keys(frame.groups ?? {}).length}`,
        );
      } catch (e) {
        if (!(e instanceof FrameError)) throw e;
        out.push(`bad:${e.code}`);
      }
    }
    assert(
      decoder.bufferedBytes <= (small ? 256 : MAX_FRAME_BYTES),
      "decoder buffer over the limit",
    );
    at += n;
  }
  return out;
}

Deno.test("FrameDecoder and parseClientFrame survive fuzzed streams (fixed seed)", () => {
  const r = new Random(SEED);
  const newline = new Uint8Array([0x0a]);
  for (let s = 0; s < STREAMS; s++) {
    const parts: Uint8Array[] = [];
    for (let i = 0; i < LINES_PER_STREAM; i++) {
      parts.push(randomLine(r, i));
      if (r.next() < 0.95) parts.push(newline);
    }
    // A well-formed request at the end must always come through.
    const sentinel = new TextEncoder().encode('\n{"t":"req","id":424242,"cmd":"ping","args":[]}\n');
    const stream = concat([...parts, sentinel]);
    const small = s % 5 === 0;
    const whole = decode(stream, (left) => left, small);
    // Byte by byte for short streams; small random chunks for long ones.
    const bytewise = decode(stream, () => (stream.length < 8192 ? 1 : 1 + r.int(64)), small);
    const random = decode(stream, () => 1 + r.int(4096), small);
    assertEquals(bytewise, whole, `seed ${SEED}, stream ${s}: byte-by-byte differs`);
    assertEquals(random, whole, `seed ${SEED}, stream ${s}: random chunks differ`);
    assertEquals(whole.at(-1), "req:424242:ping:0", `seed ${SEED}, stream ${s}: lost sync`);
  }
});

Deno.test("parseClientFrame() only ever throws FrameError on fuzzed JSON values", () => {
  const r = new Random(SEED + 1);
  const decoder = new FrameDecoder();
  let accepted = 0;
  for (let i = 0; i < 5000; i++) {
    for (const item of decoder.push(randomLine(r, i))) void item;
    for (const item of decoder.push(new Uint8Array([0x0a]))) {
      if (item instanceof FrameError) continue;
      try {
        const frame = parseClientFrame(item);
        if (frame.t === "ack") {
          assert(Object.values(frame.groups ?? {}).every((s) => Number.isSafeInteger(s) && s >= 0));
        } else {
          assert(Number.isInteger(frame.id) && typeof frame.cmd === "string");
          assert(frame.args.every((a) => typeof a === "string"));
        }
        accepted++;
      } catch (e) {
        assert(e instanceof FrameError, `unexpected ${e}`);
      }
    }
  }
  assert(accepted > 0, "the generator never produced a valid request");
});

/**
 * Resume and hold at the machines: a receiver that kept part of the file from an earlier
 * attempt acknowledges it before any data moves, so the sender sends only the rest; a
 * held receiver (its user deciding) keeps the sender waiting, alive, with no window.
 */

import { assert } from "../../helpers/assert.ts";
import { PacketType } from "../../../shared/transfer/mod.ts";
import { CHUNK_SIZE_1200, equalBytes, lastEvent, PROFILES, simulate } from "./_sim.ts";

const LOSSY = PROFILES.find((p) => p.name === "1% loss")!;

for (const profile of [PROFILES[0], LOSSY]) {
  Deno.test(`a receiver that has half the file gets only the other half under ${profile.name}`, () => {
    const size = 4_000_000;
    let lowest = Infinity; // the lowest chunk any DATA packet carried
    const r = simulate({
      profile,
      size,
      seed: 61,
      resumeBytes: size / 2,
      suite: "poly1305", // DATA bodies in clear: the chunk number is readable
      script: (sim) => {
        sim.toReceiver.dropIf ??= (d) => {
          if (d[1] === PacketType.Data) {
            lowest = Math.min(lowest, new DataView(d.buffer, d.byteOffset).getUint32(18));
          }
          return false;
        };
      },
    });
    assert.ok(lastEvent(r.receiverEvents, "done"), "receiver not done");
    assert.ok(lastEvent(r.senderEvents, "done"), "sender not done");
    assert.ok(equalBytes(r.output, r.input), "output differs from input");
    const resumedChunks = Math.floor(size / 2 / CHUNK_SIZE_1200);
    assert.equal(r.sender.bytesResumed, resumedChunks * CHUNK_SIZE_1200);
    assert.equal(lowest, resumedChunks, "a chunk the receiver had was sent");
    const sent = r.sender.stats.dataPacketsSent - r.sender.stats.retransmissions;
    assert.equal(sent, Math.ceil(size / CHUNK_SIZE_1200) - resumedChunks);
  });
}

Deno.test("a receiver that has the whole file verifies it and the sender sends no data", () => {
  const r = simulate({ profile: PROFILES[0], size: 1_000_000, seed: 62, resumeBytes: 1_000_000 });
  assert.ok(lastEvent(r.receiverEvents, "done"));
  assert.ok(lastEvent(r.senderEvents, "done"));
  assert.equal(r.sender.stats.dataPacketsSent, 0);
});

Deno.test("a resumed prefix that is not the file's fails the SHA-256 check", () => {
  // The receiver kept bytes that differ from what the sender sends now.
  const other = new Uint8Array(2_000_000).fill(7);
  const r = simulate({
    profile: PROFILES[0],
    size: 2_000_000,
    seed: 63,
    resumeBytes: 1_000_000,
    actualData: other,
  });
  assert.equal(lastEvent(r.receiverEvents, "failed")?.code, 4);
});

Deno.test("a held transfer keeps the sender waiting, alive, until it is released a minute later", () => {
  const r = simulate({
    profile: LOSSY,
    size: 500_000,
    seed: 64,
    idleTimeoutMs: 10_000,
    holdUntil: 60_000,
  });
  assert.equal(lastEvent(r.senderEvents, "failed"), undefined, JSON.stringify(r.senderEvents));
  assert.ok(lastEvent(r.receiverEvents, "done"));
  assert.ok(lastEvent(r.senderEvents, "accepted"));
  assert.ok(r.doneAt !== undefined && r.doneAt > 60_000, `done at ${r.doneAt}`);
  assert.ok(equalBytes(r.output, r.input));
});

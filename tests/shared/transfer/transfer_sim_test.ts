import { assert } from "../../helpers/assert.ts";
import { equalBytes, lastEvent, PROFILES, simulate } from "./_sim.ts";

const CHUNK_1200 = 1200 - 38;
const SIZES = [
  { label: "0 B", size: 0 },
  { label: "1 B", size: 1 },
  { label: "exactly 3 payloads", size: 3 * CHUNK_1200 },
  { label: "4 MB", size: 4_000_000 },
];

for (const [p, profile] of PROFILES.entries()) {
  for (const [s, { label, size }] of SIZES.entries()) {
    Deno.test(`a ${label} file arrives byte-identical under ${profile.name}`, () => {
      const r = simulate({ profile, size, seed: 1000 + 17 * p + s, idleTimeoutMs: 30_000 });
      assert.equal(lastEvent(r.senderEvents, "failed"), undefined, "sender failed");
      assert.equal(lastEvent(r.receiverEvents, "failed"), undefined, "receiver failed");
      assert(lastEvent(r.senderEvents, "done"), "sender not done");
      assert(lastEvent(r.receiverEvents, "done"), "receiver not done");
      assert.equal(r.output.length, size);
      assert(equalBytes(r.output, r.input), "output differs from input");
      // Every array pushed was given back (and poisoned then: no read came after that).
      assert.equal(r.released, r.pushed, "file data not released");
      // 4 MB at a 10 MB/s bottleneck: ~0.5 s clean; bounded even at 30 % loss.
      const bound = size > 1e6 ? 300_000 : 30_000;
      assert(r.doneAt !== undefined && r.doneAt < bound, `took ${r.doneAt} ms of virtual time`);
      if ((profile.forge ?? 0) > 0 && size > 1e6) {
        const dropped = r.receiver.stats.droppedMalformed + r.receiver.stats.droppedUnauthentic +
          r.receiver.stats.droppedReplayed + r.sender.stats.droppedMalformed +
          r.sender.stats.droppedUnauthentic + r.sender.stats.droppedReplayed;
        assert(dropped > 0, "forgeries were not counted");
      }
    });
  }
}

// NewReno stays selectable: the lossy, duplicating, reordering, forging profiles with it.
for (const profile of PROFILES.filter((p) => (p.forge ?? 0) > 0)) {
  Deno.test(`with NewReno a 4 MB file arrives byte-identical under ${profile.name}`, () => {
    const r = simulate({ profile, size: 4_000_000, seed: 77, congestionControl: "newreno" });
    assert(lastEvent(r.senderEvents, "done"), "sender not done");
    assert(equalBytes(r.output, r.input), "output differs from input");
    assert.equal(r.sender.congestionState.split(" ")[0], "newreno");
  });
}

/**
 * A receiver that saved its file lingers (bounded) to answer the sender's probes with
 * DONE, never sends CANCEL, and stops as soon as the sender confirms with DONE_ACK.
 */

import assert from "node:assert/strict";
import { PacketType } from "../../../shared/transfer/mod.ts";
import { lastEvent, PROFILES, simulate } from "./_sim.ts";

for (const profile of [PROFILES[0], PROFILES[2]]) {
  Deno.test(`a lost DONE is repeated by a receiver that was closed after saving, under ${profile.name}`, () => {
    const sentByReceiver: number[] = [];
    let donesDropped = 0;
    let closedAt: number | undefined;
    const r = simulate({
      profile,
      size: 500_000,
      seed: 21,
      script: (sim) => {
        sim.toSender.dropIf ??= (bytes) => {
          sentByReceiver.push(bytes[1]);
          if (bytes[1] === PacketType.Done && donesDropped === 0) {
            donesDropped++;
            return true;
          }
          return false;
        };
        // What TransferEndpoint.close() does to a transfer that is not completing; a
        // completed receiver must ignore it.
        if (closedAt === undefined && sim.receiver.state === "draining") {
          closedAt = sim.now;
          sim.receiver.cancel("the endpoint is closing", sim.now);
        }
      },
    });
    assert.equal(donesDropped, 1);
    assert.equal(lastEvent(r.receiverEvents, "done")?.type, "done");
    assert.equal(lastEvent(r.senderEvents, "done")?.type, "done", JSON.stringify(r.senderEvents));
    assert.equal(lastEvent(r.senderEvents, "failed"), undefined);
    assert.equal(lastEvent(r.receiverEvents, "failed"), undefined);
    assert.ok(!sentByReceiver.includes(PacketType.Cancel), "the receiver sent CANCEL");
    assert.ok(sentByReceiver.filter((t) => t === PacketType.Done).length >= 2);
    assert.ok(r.receiver.isClosed && r.sender.isClosed);
    assert.ok(r.output.length === 500_000);
  });
}

Deno.test("the sender's DONE_ACK ends the receiver's linger early", () => {
  let receiverDoneAt: number | undefined;
  let receiverClosedAt: number | undefined;
  const r = simulate({
    profile: PROFILES[0],
    size: 200_000,
    seed: 5,
    script: (sim) => {
      if (receiverDoneAt === undefined && sim.receiver.state === "draining") {
        receiverDoneAt = sim.now;
      }
      if (receiverClosedAt === undefined && sim.receiver.isClosed) receiverClosedAt = sim.now;
    },
  });
  assert.equal(lastEvent(r.senderEvents, "done")?.type, "done");
  assert.ok(receiverDoneAt !== undefined && receiverClosedAt !== undefined);
  // Seen closed at the next step (the sender's own 1 s drain), well before the 5 s linger
  // it would need without the confirmation.
  assert.ok(receiverClosedAt - receiverDoneAt < 2000, `${receiverClosedAt - receiverDoneAt} ms`);
});

Deno.test("without DONE_ACK the receiver lingers a bounded time, then closes quietly", () => {
  const sentByReceiver: number[] = [];
  let receiverDoneAt: number | undefined;
  const r = simulate({
    profile: PROFILES[0],
    size: 200_000,
    seed: 6,
    script: (sim) => {
      sim.toReceiver.dropIf ??= (bytes) => bytes[1] === PacketType.DoneAck;
      sim.toSender.dropIf ??= (bytes) => (sentByReceiver.push(bytes[1]), false);
      if (receiverDoneAt === undefined && sim.receiver.state === "draining") {
        receiverDoneAt = sim.now;
      }
    },
  });
  assert.equal(lastEvent(r.senderEvents, "done")?.type, "done");
  assert.equal(lastEvent(r.receiverEvents, "done")?.type, "done");
  assert.ok(r.receiver.isClosed && r.sender.isClosed);
  assert.ok(!sentByReceiver.includes(PacketType.Cancel));
  assert.ok(receiverDoneAt !== undefined && r.now - receiverDoneAt >= 4000);
  assert.ok(r.now - receiverDoneAt <= 10_000);
});

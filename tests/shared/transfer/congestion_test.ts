import { assert } from "../../helpers/assert.ts";
import { Pacer } from "../../../shared/transfer/congestion.ts";
import { PACING_BURST_PACKETS } from "../../../shared/transfer/constants.ts";

const PACKET = 1000;
const RATE = 1000; // bytes per ms

/** Bytes the pacer lets go back to back at `now` after a long idle period. */
function burstAfterIdle(pacer: Pacer, now: number): number {
  let sent = 0;
  for (let i = 0; i < 10_000 && pacer.nextSendTime(now, PACKET, RATE) <= now; i++) {
    pacer.onSend(now, PACKET, RATE);
    sent += PACKET;
  }
  return sent;
}

Deno.test("pacer: the bucket holds a few packets or one timer quantum of sending", () => {
  const pacer = new Pacer(PACKET, 1);
  assert.equal(burstAfterIdle(pacer, 0), PACING_BURST_PACKETS * PACKET);
  // After an idle second the bucket is full again, not a second's worth.
  assert.equal(burstAfterIdle(pacer, 1000), PACING_BURST_PACKETS * PACKET);
  assert.equal(new Pacer(PACKET, 100).lateness, 0);
  assert.equal(burstAfterIdle(new Pacer(PACKET, 100), 1000), 100 * RATE);
});

Deno.test("pacer: late wake-ups widen the bucket, up to a bound, and the width decays", () => {
  const pacer = new Pacer(PACKET, 1);
  pacer.onWake(10, 10); // on time
  assert.equal(pacer.lateness, 0);
  pacer.onWake(10, 9); // woken early (an ACK arrived): no lateness
  assert.equal(pacer.lateness, 0);
  pacer.onWake(10, 16); // 6 ms late
  assert.equal(pacer.lateness, 6);
  // The bucket now covers 6 ms of sending: 6 packets at this rate.
  assert.equal(burstAfterIdle(pacer, 1000), 6 * PACKET);
  pacer.onWake(0, 1000); // a stall, not timer slack: clamped
  assert.equal(pacer.lateness, 8);
  for (let i = 0; i < 200; i++) pacer.onWake(5, 5);
  assert.ok(pacer.lateness < 0.1);
});

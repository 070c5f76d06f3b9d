import { assert } from "../../helpers/assert.ts";
import { DeliveryRateEstimator } from "../../../shared/transfer/congestion/delivery_rate.ts";
import { Pacer } from "../../../shared/transfer/congestion/pacer.ts";
import { WindowedMaxFilter } from "../../../shared/transfer/congestion/windowed_filter.ts";
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

Deno.test("delivery-rate samples of bunched ACKs are bounded by the rate the packets were sent at", () => {
  const rate = new DeliveryRateEstimator();
  // 1000-byte packets paced 1 ms apart (1000 B/ms), none in flight before.
  for (let pn = 0; pn < 10; pn++) rate.onSent(pn, pn, pn === 0);
  rate.beginAck();
  rate.onAck(10, 0, 1000, 0);
  rate.sample(5);
  rate.onSent(10, 10, false);
  // The next ten ACKs arrive bunched 2 ms later (a descheduled thread, a decimating
  // receiver): 10 000 bytes in 2 ms by the ACK clock, but they took 10 ms to be sent.
  rate.beginAck();
  for (let pn = 1; pn <= 10; pn++) rate.onAck(12, pn, 1000, pn);
  const s = rate.sample(5);
  assert.ok(s.valid);
  assert.equal(s.delivered, 10_000);
  assert.equal(s.interval, 10);
  assert.equal(s.rate, 1000);
  // A sample shorter than the minimum RTT is no sample.
  assert.equal(rate.sample(20).valid, false);
});

Deno.test("delivery-rate samples taken while app-limited are marked so", () => {
  const rate = new DeliveryRateEstimator();
  rate.onSent(0, 0, true);
  rate.onAppLimited(1000);
  rate.onSent(1, 1, false);
  rate.beginAck();
  rate.onAck(50, 0, 1000, 0);
  assert.equal(rate.sample(0).appLimited, false);
  rate.beginAck();
  rate.onAck(51, 1, 1000, 1);
  assert.equal(rate.sample(0).appLimited, true);
  assert.equal(rate.appLimited, false, "the app-limited mark is passed once it was delivered");
});

Deno.test("the windowed maximum holds a peak for its window, then takes later samples", () => {
  const f = new WindowedMaxFilter(10);
  f.update(5, 0);
  f.update(9, 1);
  f.update(6, 8);
  assert.equal(f.value, 9);
  f.update(6, 12); // the peak at time 1 is out of the window
  assert.equal(f.value, 6);
  f.update(4, 30); // everything expired
  assert.equal(f.value, 4);
  f.update(8, 31);
  assert.equal(f.value, 8);
});

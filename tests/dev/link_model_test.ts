/**
 * The link model both the simulator and the path emulator run: rate, drop-tail queue,
 * delay, random and burst loss, in virtual time.
 */

import { assert } from "../helpers/assert.ts";
import { burstLoss, LinkModel } from "../../dev/link_model.ts";
import { mulberry32 } from "../../shared/random.ts";

Deno.test("a link serialises at its rate, adds its delay and drops what overflows its queue", () => {
  // 10 Mbit/s = 1250 bytes per ms; a queue of 5 packets.
  const link = new LinkModel({ mbps: 10, delayMs: 20, queueBytes: 5 * 1250 }, mulberry32(1));
  const arrivals = Array.from({ length: 10 }, () => link.transmit(0, 1250));
  assert.deepEqual(arrivals.slice(0, 5), [21, 22, 23, 24, 25]);
  assert.deepEqual(arrivals.slice(5), [undefined, undefined, undefined, undefined, undefined]);
  assert.equal(link.stats.queueDrops, 5);
  assert.equal(link.queueDelay(0), 5);
  // Once the queue has drained, a packet waits for nothing but its own transmission.
  assert.equal(link.transmit(100, 1250), 121);
  assert.equal(link.stats.maxQueueBytes, 5 * 1250);
});

Deno.test("a stalled link queues what arrives during the stall, up to its queue, and sends it after", () => {
  // 10 Mbit/s = 1250 bytes per ms; a queue of 4 packets; 2 queued when it stalls for 10 ms.
  const link = new LinkModel({ mbps: 10, queueBytes: 4 * 1250 }, mulberry32(1));
  assert.deepEqual([link.transmit(0, 1250), link.transmit(0, 1250)], [1, 2]);
  link.stall(0, 10);
  assert.equal(link.backlog(0), 2 * 1250); // the pause itself takes no room
  const during = Array.from({ length: 4 }, () => link.transmit(5, 1250));
  // The two that fit wait for the stall and the two before them; the rest are dropped.
  assert.deepEqual(during, [13, 14, undefined, undefined]);
  assert.equal(link.stats.queueDrops, 2);
  assert.equal(link.backlog(12), 2 * 1250);
});

Deno.test("per-packet overhead takes room on the link as IP and UDP headers do", () => {
  const link = new LinkModel({ mbps: 10, overheadBytes: 28 }, mulberry32(1));
  assert.equal(link.transmit(0, 1222), 1);
});

Deno.test("random loss and Gilbert-Elliott burst loss lose what they are set to", () => {
  const random = new LinkModel({ loss: 0.05 }, mulberry32(2));
  for (let i = 0; i < 100_000; i++) random.transmit(i, 1000);
  assert.ok(Math.abs(random.stats.lost / 100_000 - 0.05) < 0.005, `${random.stats.lost}`);

  const bursty = new LinkModel({ burst: burstLoss(0.1, 5) }, mulberry32(3));
  let bursts = 0;
  let previousLost = false;
  for (let i = 0; i < 100_000; i++) {
    const lost = bursty.transmit(i, 1000) === undefined;
    if (lost && !previousLost) bursts++;
    previousLost = lost;
  }
  const lossRate = bursty.stats.lost / 100_000;
  assert.ok(Math.abs(lossRate - 0.1) < 0.01, `loss ${lossRate}`);
  const meanBurst = bursty.stats.lost / bursts;
  assert.ok(meanBurst > 4.5 && meanBurst < 5.5, `bursts of ${meanBurst} packets`);
});

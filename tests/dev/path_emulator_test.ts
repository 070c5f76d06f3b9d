/**
 * The path emulator itself: it recycles its receive buffers, so a datagram it still holds
 * or sends must never be overwritten by a later one; and its emulated link delays,
 * queues and drops as the link model says. Loopback only, bounded in count and time.
 */

import assert from "node:assert/strict";
import { PathEmulator } from "../../dev/path_emulator.ts";

const LOCAL = "127.0.0.1";
const COUNT = 400;

Deno.test("the path emulator forwards every datagram intact while it drops, duplicates and reorders", async () => {
  const target = Deno.listenDatagram({ transport: "udp", hostname: LOCAL, port: 0 });
  const client = Deno.listenDatagram({ transport: "udp", hostname: LOCAL, port: 0 });
  const emulator = await PathEmulator.open({
    target: { hostname: LOCAL, port: (target.addr as Deno.NetAddr).port },
    loss: 0.1,
    duplicate: 0.2,
    reorder: 0.3,
    seed: 7,
  });
  // Datagram i: 4 bytes of i, then i's low byte repeated, of a length that varies with i.
  const datagram = (i: number) => {
    const d = new Uint8Array(200 + (i % 7) * 500).fill(i & 0xff);
    new DataView(d.buffer).setUint32(0, i);
    return d;
  };
  const seen = new Map<number, number>();
  const altered: number[] = [];
  const receiving = (async () => {
    const buffer = new Uint8Array(65536);
    for (;;) {
      const timeout = new Promise<undefined>((r) => setTimeout(r, 500, undefined));
      const got = await Promise.race([target.receive(buffer), timeout]);
      if (got === undefined) return;
      const d = got[0];
      const i = new DataView(d.buffer, d.byteOffset).getUint32(0);
      const expected = datagram(i);
      if (d.length !== expected.length || d.some((b, k) => b !== expected[k])) altered.push(i);
      seen.set(i, (seen.get(i) ?? 0) + 1);
    }
  })();
  const to = { transport: "udp" as const, hostname: LOCAL, port: emulator.port };
  for (let i = 0; i < COUNT; i++) {
    await client.send(datagram(i), to);
    // Pace a little so the emulator's and the target's socket buffers never overflow.
    if (i % 8 === 7) await new Promise((r) => setTimeout(r, 1));
  }
  await receiving;
  await emulator.close();
  client.close();
  target.close();
  assert.deepEqual(altered, [], "datagrams arrived altered");
  const { forwarded, dropped, duplicated, reordered } = emulator.stats;
  assert.ok(dropped > 0 && duplicated > 0 && reordered > 0, JSON.stringify(emulator.stats));
  assert.equal(forwarded, COUNT - dropped + duplicated);
  let received = 0;
  for (const n of seen.values()) received += n;
  assert.equal(received, forwarded, "every forwarded datagram arrived once per send");
});

Deno.test("the path emulator's link delays each datagram, holds no more than its queue and keeps the rate", async () => {
  const target = Deno.listenDatagram({ transport: "udp", hostname: LOCAL, port: 0 });
  const client = Deno.listenDatagram({ transport: "udp", hostname: LOCAL, port: 0 });
  // 8 Mbit/s = 1000 bytes per ms, 30 ms one way, a queue of 20 datagrams of 1000 bytes.
  const emulator = await PathEmulator.open({
    target: { hostname: LOCAL, port: (target.addr as Deno.NetAddr).port },
    link: { mbps: 8, delayMs: 30, queueBytes: 20_000 },
  });
  const arrivals: number[] = [];
  const receiving = (async () => {
    const buffer = new Uint8Array(65536);
    for (;;) {
      const timeout = new Promise<undefined>((r) => setTimeout(r, 300, undefined));
      const got = await Promise.race([target.receive(buffer), timeout]);
      if (got === undefined) return;
      arrivals.push(performance.now());
    }
  })();
  const to = { transport: "udp" as const, hostname: LOCAL, port: emulator.port };
  const start = performance.now();
  // 200 datagrams at once: the queue takes 20 (with one on the wire), the rest are dropped
  // (those the kernel dropped before the emulator read them never reach the link).
  await Promise.all(Array.from({ length: 200 }, () => client.send(new Uint8Array(1000), to)));
  await receiving;
  await emulator.close();
  client.close();
  target.close();
  const link = emulator.link!;
  assert.ok(link.stats.packets <= 200);
  assert.equal(link.stats.delivered, arrivals.length);
  assert.equal(link.stats.queueDrops, link.stats.packets - arrivals.length);
  assert.ok(link.stats.queueDrops > 0, "nothing overflowed the queue");
  assert.ok(link.stats.maxQueueBytes <= 20_000, `${link.stats.maxQueueBytes} bytes queued`);
  // The first one after its 1 ms on the wire and the delay, the k-th after k ms on the
  // wire (timers fire late, never early: arrivals come in bunches, never sooner).
  assert.ok(arrivals[0] - start >= 30, `first after ${arrivals[0] - start} ms`);
  const last = arrivals[arrivals.length - 1] - start;
  assert.ok(last >= 30 + arrivals.length - 1, `${arrivals.length} datagrams in ${last} ms`);
});

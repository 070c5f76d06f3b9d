/**
 * The test relay itself: it recycles its receive buffers, so a datagram it still holds or
 * sends must never be overwritten by a later one. Loopback only, bounded in count and time.
 */

import assert from "node:assert/strict";
import { UdpRelay } from "./udp_relay.ts";

const LOCAL = "127.0.0.1";
const COUNT = 400;

Deno.test("UdpRelay forwards every datagram intact while it drops, duplicates and reorders", async () => {
  const target = Deno.listenDatagram({ transport: "udp", hostname: LOCAL, port: 0 });
  const client = Deno.listenDatagram({ transport: "udp", hostname: LOCAL, port: 0 });
  const relay = await UdpRelay.open({
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
  const to = { transport: "udp" as const, hostname: LOCAL, port: relay.port };
  for (let i = 0; i < COUNT; i++) {
    await client.send(datagram(i), to);
    // Pace a little so the relay's and the target's socket buffers never overflow.
    if (i % 8 === 7) await new Promise((r) => setTimeout(r, 1));
  }
  await receiving;
  await relay.close();
  client.close();
  target.close();
  assert.deepEqual(altered, [], "datagrams arrived altered");
  const { forwarded, dropped, duplicated, reordered } = relay.stats;
  assert.ok(dropped > 0 && duplicated > 0 && reordered > 0, JSON.stringify(relay.stats));
  assert.equal(forwarded, COUNT - dropped + duplicated);
  let received = 0;
  for (const n of seen.values()) received += n;
  assert.equal(received, forwarded, "every forwarded datagram arrived once per send");
});

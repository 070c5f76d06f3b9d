// The endpoint's NAT traversal in virtual time: every pairing of RFC 4787 mapping and
// filtering behaviours (endpoint-independent or address-and-port-dependent, on each side),
// one side public, both behind one NAT; the path each takes (direct or relayed) and the
// move from the relay to a direct path that opens later.

import { assert, assertEquals } from "../../helpers/assert.ts";
import { NAT_TYPES, type NatType, SimNet, simulateTransfer } from "./_natsim.ts";
import { RelayRefusal } from "../../../shared/transfer/control.ts";

/**
 * The design's prediction: punching fails only when one side's mapping depends on the
 * destination (a new port per peer, which the other side cannot guess) and the other side
 * filters by address and port, or both map per destination; then the relay carries it.
 */
function predicted(a: NatType | "public", b: NatType | "public"): "direct" | "relay" {
  const edm = (t: NatType | "public") => t !== "public" && t.mapping !== "endpoint-independent";
  const apdf = (t: NatType | "public") =>
    t !== "public" && t.filtering === "address-and-port-dependent";
  if (edm(a) && edm(b)) return "relay";
  if ((edm(a) && apdf(b)) || (edm(b) && apdf(a))) return "relay";
  return "direct";
}

/** Sender on LAN a (or public), receiver on LAN b (or public). */
function pair(a: NatType | "public", b: NatType | "public", seed: number) {
  const net = new SimNet();
  const side = (lan: string, t: NatType | "public", inside: string, outside: string) => {
    if (t === "public") {
      net.addHost(outside);
      return { socket: { hostname: outside, port: 40000 }, publicIp: outside };
    }
    net.addNat(lan, outside, t, seed);
    net.addHost(inside, lan);
    return { socket: { hostname: inside, port: 40000 }, publicIp: outside };
  };
  const sender = side("a", a, "10.1.0.2", "198.51.100.10");
  const receiver = side("b", b, "10.2.0.2", "198.51.100.20");
  return { net, sender, receiver };
}

const KINDS: Array<NatType | "public"> = ["public", ...NAT_TYPES];
const nameOf = (t: NatType | "public") => (t === "public" ? "public" : t.name);

for (const a of KINDS) {
  for (const b of KINDS) {
    const expected = predicted(a, b);
    Deno.test(`sender ${nameOf(a)}, receiver ${nameOf(b)}: the file goes ${expected === "direct" ? "direct" : "via the relay"}`, () => {
      for (const seed of [1, 2]) {
        const { net, sender, receiver } = pair(a, b, seed);
        const r = simulateTransfer(net, sender, receiver);
        assert(r.ok, `seed ${seed}: ${JSON.stringify(r)}`);
        assertEquals(r.path, expected, `seed ${seed}: ${JSON.stringify(r)}`);
        if (expected === "direct") {
          // Only a few probes (67 bytes each) go through the relay, no file data.
          assert(r.relayedBytes < 1024, `relayed ${r.relayedBytes} bytes`);
          // A direct path is found in a few round trips, well before the relay deadline.
          assert(r.elapsedMs < 1500, `took ${r.elapsedMs} ms`);
        } else {
          assert(r.relayedBytes > 64 * 1024, `relayed only ${r.relayedBytes} bytes`);
        }
      }
    });
  }
}

Deno.test("two peers behind one symmetric NAT use their host addresses", () => {
  const net = new SimNet();
  net.addNat("home", "198.51.100.30", NAT_TYPES[2]);
  net.addHost("10.0.0.2", "home");
  net.addHost("10.0.0.3", "home");
  const r = simulateTransfer(
    net,
    { socket: { hostname: "10.0.0.2", port: 40000 }, publicIp: "198.51.100.30" },
    { socket: { hostname: "10.0.0.3", port: 40001 }, publicIp: "198.51.100.30" },
  );
  assert(r.ok, JSON.stringify(r));
  assertEquals(r.path, "direct");
  assertEquals(r.pathAddress, { hostname: "10.0.0.3", port: 40001 });
  assertEquals(r.relayedBytes, 0);
});

Deno.test("a relayed transfer moves to a direct path that opens later, without restarting", () => {
  const { net, sender, receiver } = pair(NAT_TYPES[1], NAT_TYPES[1], 1);
  // A firewall drops everything between the two peers' public addresses for 3 s.
  const peers = new Set([sender.publicIp, receiver.publicIp]);
  net.block = (from, to, now) =>
    now < 3000 && peers.has(from.hostname) && peers.has(to.hostname) &&
    from.hostname !== to.hostname;
  const r = simulateTransfer(net, sender, receiver, {
    size: 2 * 1024 * 1024,
    // Slow relay, so the transfer is still running when the direct path opens.
    relay: { transferRateBps: 256 * 1024 },
  });
  assert(r.ok, JSON.stringify(r));
  assertEquals(r.path, "direct");
  assertEquals(r.pathChanges, 1);
  assert(r.relayedBytes > 0 && r.relayedBytes < 2 * 1024 * 1024, `relayed ${r.relayedBytes}`);
  assertEquals(r.relayNotice, String(RelayRefusal.TransferRate), "the relay says why it drops");
});

Deno.test("a direct path that dies mid-transfer hands the transfer to the relay, which finishes it", () => {
  const { net, sender, receiver } = pair(NAT_TYPES[1], NAT_TYPES[1], 1);
  // After 200 ms (the file is moving on the direct path) nothing passes between the peers.
  const peers = new Set([sender.publicIp, receiver.publicIp]);
  net.block = (from, to, now) =>
    now >= 200 && peers.has(from.hostname) && peers.has(to.hostname) &&
    from.hostname !== to.hostname;
  const r = simulateTransfer(net, sender, receiver, { size: 4 * 1024 * 1024 });
  assert(r.ok, JSON.stringify(r));
  assertEquals(r.path, "relay");
  assertEquals(r.pathChanges, 1);
  assert(r.relayedBytes > 1024 * 1024, `relayed only ${r.relayedBytes} bytes`);
});

Deno.test("with the relay full and no direct path, the transfer fails and says why", () => {
  const { net, sender, receiver } = pair(NAT_TYPES[2], NAT_TYPES[2], 1);
  const r = simulateTransfer(net, sender, receiver, { relay: { maxTransfers: 0 } });
  assertEquals(r.ok, false);
  assertEquals(r.path, undefined);
  assert(
    /no path to the peer answered for 10\.0 s; the server's relay is full \(0 transfers\)/.test(
      r.reason ?? "",
    ),
    r.reason,
  );
});

Deno.test("with the relay off, two symmetric NATs get no path and the transfer says so", () => {
  const { net, sender, receiver } = pair(NAT_TYPES[2], NAT_TYPES[2], 1);
  const r = simulateTransfer(net, sender, receiver, { relay: { relay: false } });
  assertEquals(r.ok, false);
  assertEquals(r.relayedBytes, 0);
  assert(/no path to the peer answered/.test(r.reason ?? ""), r.reason);
});

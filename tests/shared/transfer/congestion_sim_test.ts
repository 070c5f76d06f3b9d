/**
 * The congestion controller on emulated paths, in virtual time (the simulator of _sim.ts
 * with the path emulator's link model): goodput against the limit rate × (1 − loss), the
 * RTT a transfer leaves other traffic, sharing, and a burst-loss episode. Goodput is
 * measured over the whole transfer, handshake and Startup included, as a user sees it.
 */

import { assert } from "../../helpers/assert.ts";
import { burstLoss, type LinkOptions } from "../../../dev/link_model.ts";
import { type CongestionControlName, loadFastAead } from "../../../shared/transfer/mod.ts";
import { type FlowOptions, lastEvent, type MultiSimResult, simulateFlows } from "./_sim.ts";

// libsodium: the same bytes, a quarter of the CPU (these runs move hundreds of MB).
await loadFastAead();

interface Path {
  name: string;
  mbps: number;
  rttMs: number;
  /** A file long enough that Startup (≈ log2 of the BDP in round trips) is amortised. */
  size: number;
}

const PATHS: Path[] = [
  { name: "50 Mbit/s × 40 ms", mbps: 50, rttMs: 40, size: 40e6 },
  { name: "100 Mbit/s × 100 ms", mbps: 100, rttMs: 100, size: 200e6 },
];

/** The path of the measurements: a 50 ms drop-tail queue, loss on each direction. */
function link(path: Path, loss: number): LinkOptions & { name: string } {
  return { name: path.name, mbps: path.mbps, delayMs: path.rttMs / 2, queueMs: 50, loss };
}

function flow(size: number, extra: Partial<FlowOptions> = {}): FlowOptions {
  return { size, suite: "poly1305", sendBufferBytes: 16 << 20, keepOutput: false, ...extra };
}

/** Bytes per ms of the link. */
function rateOf(path: { mbps: number }): number {
  return path.mbps * 1e6 / 8 / 1000;
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Bytes flow `i` received in order between two sample times (ms). */
function receivedBetween(r: MultiSimResult, i: number, from: number, to: number): number {
  const at = (t: number) => r.flows[i].timeline[r.times.findIndex((x) => x >= t)];
  return at(to) - at(from);
}

function run(path: Path, loss: number, cc?: CongestionControlName) {
  const r = simulateFlows({
    profile: link(path, loss),
    seed: 1,
    sampleEveryMs: 100,
    flows: [flow(path.size, { congestionControl: cc })],
  });
  const f = r.flows[0];
  assert.equal(lastEvent(f.receiverEvents, "failed"), undefined, "receiver failed");
  assert.ok(lastEvent(f.receiverEvents, "done"), "the file was not verified and saved");
  assert.equal(f.written, path.size);
  const goodput = path.size / f.receiverDoneAt!; // bytes per ms
  return { goodput, limit: rateOf(path) * (1 - loss), rtt: mean(r.pathRtt) / r.baseRtt };
}

for (const path of PATHS) {
  for (const loss of [0, 0.01, 0.05]) {
    const floor = loss < 0.05 ? 0.9 : 0.8;
    Deno.test(`on ${path.name} at ${loss * 100}% loss a transfer reaches ${floor} of rate × (1 − loss) without a standing queue`, () => {
      const { goodput, limit, rtt } = run(path, loss);
      assert.ok(goodput >= floor * limit, `goodput ${(goodput / limit).toFixed(3)} of the limit`);
      assert.ok(rtt <= 1.25, `mean RTT ${rtt.toFixed(3)} × the base RTT`);
    });
  }
}

Deno.test("NewReno, still selectable, takes random loss for congestion and falls far behind", () => {
  const path = { ...PATHS[0], size: 10e6 };
  const bbr = run(path, 0.01);
  const newReno = run(path, 0.01, "newreno");
  assert.ok(newReno.goodput < bbr.goodput / 3, `NewReno ${newReno.goodput}, BBR ${bbr.goodput}`);
});

for (const loss of [0, 0.01]) {
  Deno.test(`two transfers that share 50 Mbit/s × 40 ms at ${loss * 100}% loss split it within 60/40`, () => {
    // B joins 3 s after A; shares are measured from 5 s later, for 6 s.
    const path = PATHS[0];
    const r = simulateFlows({
      profile: link(path, loss),
      seed: 2,
      sampleEveryMs: 100,
      maxTimeMs: 14_100,
      flows: [
        flow(100e6, { transferId: "0123456789abcdef" }),
        flow(75e6, { transferId: "fedcba9876543210", startAt: 3000 }),
      ],
    });
    const a = receivedBetween(r, 0, 8000, 14000);
    const b = receivedBetween(r, 1, 8000, 14000);
    const share = a / (a + b);
    assert.ok(share >= 0.4 && share <= 0.6, `first transfer's share ${share.toFixed(3)}`);
    assert.ok((a + b) / 6000 >= 0.85 * rateOf(path) * (1 - loss), "the link was left idle");
  });
}

Deno.test("two transfers that start together on 100 Mbit/s × 100 ms split it within 60/40", () => {
  const path = PATHS[1];
  const r = simulateFlows({
    profile: link(path, 0),
    seed: 3,
    sampleEveryMs: 100,
    maxTimeMs: 7100,
    flows: [
      flow(100e6, { transferId: "0123456789abcdef" }),
      flow(100e6, { transferId: "fedcba9876543210" }),
    ],
  });
  const a = receivedBetween(r, 0, 2000, 7000);
  const b = receivedBetween(r, 1, 2000, 7000);
  const share = a / (a + b);
  assert.ok(share >= 0.4 && share <= 0.6, `first transfer's share ${share.toFixed(3)}`);
});

Deno.test("after a 10% burst-loss episode the transfer is back at the link's rate at once", () => {
  const path = PATHS[0];
  const episode = burstLoss(0.1, 5); // 10 % of packets, lost in bursts of 5 on average
  const r = simulateFlows({
    profile: link(path, 0),
    seed: 4,
    sampleEveryMs: 100,
    flows: [flow(50e6)],
    script: (sim) => {
      const on = sim.now >= 2000 && sim.now < 4000;
      if ((sim.toReceiver.model.burst !== undefined) !== on) {
        sim.toReceiver.model.burst = sim.toSender.model.burst = on ? episode : undefined;
      }
    },
  });
  const f = r.flows[0];
  assert.ok(lastEvent(f.receiverEvents, "done"), "the file was not verified and saved");
  assert.ok(r.toReceiver.stats.lost > 500, `only ${r.toReceiver.stats.lost} packets lost`);
  const rate = rateOf(path);
  const during = receivedBetween(r, 0, 2000, 4000) / 2000;
  const after = receivedBetween(r, 0, 4500, 6500) / 2000;
  assert.ok(during >= 0.5 * rate, `${(during / rate).toFixed(3)} of the rate during the episode`);
  assert.ok(after >= 0.9 * rate, `${(after / rate).toFixed(3)} of the rate after it`);
});

Deno.test("on a LAN whose receiver stalls now and then, its socket buffer filling, a transfer keeps the rate without overflowing it again at each stall", () => {
  // 400 Mbit/s, 0.2 ms RTT, 100 kB of buffer (a socket's, in 1200-byte datagrams); the
  // receiver takes nothing for 5 ms every 25 ms, as a descheduled thread.
  const mbps = 400;
  const size = 30e6;
  let nextStall = 20;
  const r = simulateFlows({
    profile: { name: "LAN", mbps, delayMs: 0.1, queueBytes: 100_000 },
    seed: 5,
    flows: [flow(size, { payloadSize: 1200 })],
    script: (sim) => {
      if (sim.now < nextStall) return;
      sim.toReceiver.model.stall(sim.now, 5);
      nextStall = sim.now + 25;
    },
  });
  const f = r.flows[0];
  assert.ok(lastEvent(f.receiverEvents, "done"), "the file was not verified and saved");
  const available = rateOf({ mbps }) * 20 / 25; // stalled 5 ms in every 25
  const goodput = size / f.receiverDoneAt!;
  assert.ok(goodput >= 0.9 * available, `${(goodput / available).toFixed(3)} of the rate left`);
  const { retransmissions, dataPacketsSent } = f.sender.stats;
  // Without holding the cap after an overflow: 8 % of the packets are sent again.
  assert.ok(
    retransmissions <= 0.04 * dataPacketsSent,
    `${retransmissions} of ${dataPacketsSent} packets sent again`,
  );
});

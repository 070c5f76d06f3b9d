/** The building blocks of `server/limits.ts`, without sockets. */

import { assert, assertEquals } from "../helpers/assert.ts";
import {
  addressBucket,
  BusyError,
  COMMAND_BURST,
  ConnectionGate,
  DEFAULT_LIMITS,
  keepAliveIntervalMs,
  MAX_RATE_LIMITED_REQUESTS,
  Semaphore,
  SessionGuard,
  TokenBucket,
} from "../../server/limits.ts";
import { ManualClock } from "../helpers/test_server.ts";

Deno.test("TokenBucket refills at its rate up to its capacity", () => {
  const b = new TokenBucket(2, 1, 0);
  assert(b.take(0) && b.take(0));
  assert(!b.take(0));
  assert(!b.take(999));
  assert(b.take(1000));
  assert(b.isFull(1_000_000));
});

Deno.test("ConnectionGate caps open connections and each address's rate, and forgets idle addresses", () => {
  const time = new ManualClock();
  const gate = new ConnectionGate(
    { ...DEFAULT_LIMITS, maxConnections: 10, connectionsPerIpPerMinute: 2 },
    time.read,
  );
  assertEquals(gate.admit("10.0.0.1", 0), undefined);
  assertEquals(gate.admit("10.0.0.1", 1), undefined);
  assertEquals(gate.admit("10.0.0.1", 2), "ip_rate");
  assertEquals(gate.admit("10.0.0.2", 2), undefined);
  assertEquals(gate.admit("10.0.0.3", 10), "server_full");
  assertEquals(gate.sweep(), { server_full: 1, ip_rate: 1 });
  time.advance(60_000);
  assertEquals(gate.sweep(), { server_full: 0, ip_rate: 0 });
  assertEquals(gate.trackedAddresses, 0);
});

Deno.test("addressBucket() limits IPv6 by /64 and IPv4-mapped addresses as IPv4", () => {
  assertEquals(addressBucket("192.0.2.7"), "192.0.2.7");
  assertEquals(addressBucket("::ffff:192.0.2.7"), "192.0.2.7");
  assertEquals(addressBucket("2001:db8::1"), "2001:db8:0:0::/64");
  assertEquals(addressBucket("2001:0db8:0000:0001:aaaa::2"), "2001:db8:0:1::/64");
  assertEquals(addressBucket("2001:db8:0:1:ffff:ffff:ffff:ffff"), "2001:db8:0:1::/64");
  assertEquals(addressBucket("::1"), "0:0:0:0::/64");
  assertEquals(addressBucket("fe80::1%eth0"), "fe80:0:0:0::/64");
});

Deno.test("ConnectionGate counts a whole IPv6 /64 as one address", () => {
  const gate = new ConnectionGate(
    { ...DEFAULT_LIMITS, connectionsPerIpPerMinute: 2 },
    new ManualClock().read,
  );
  assertEquals(gate.admit("2001:db8::1", 0), undefined);
  assertEquals(gate.admit("2001:db8::2", 0), undefined);
  assertEquals(gate.admit("2001:db8::3", 0), "ip_rate");
  assertEquals(gate.admit("2001:db8:0:1::3", 0), undefined);
});

Deno.test("SessionGuard: login deadline, idle deadline, then rate limit and abuse", () => {
  const time = new ManualClock();
  const g = new SessionGuard(
    { ...DEFAULT_LIMITS, loginTimeoutMs: 1000, idleTimeoutMs: 5000, commandsPerSecond: 10 },
    time.read,
  );
  time.advance(999);
  assertEquals(g.expiredReason("login"), undefined);
  time.advance(1);
  assertEquals(g.expiredReason("hello"), "login timed out");
  assertEquals(g.expiredReason("ready"), undefined);
  time.advance(5000);
  assertEquals(g.expiredReason("ready"), "idle timeout");
  assertEquals(g.admitFrame(), "ok");
  assertEquals(g.expiredReason("ready"), undefined);
  for (let i = 1; i < COMMAND_BURST; i++) assertEquals(g.admitFrame(), "ok");
  for (let i = 0; i < MAX_RATE_LIMITED_REQUESTS; i++) assertEquals(g.admitFrame(), "rate_limited");
  assertEquals(g.admitFrame(), "abuse");
});

Deno.test("SessionGuard forgives a client that backs off until its bucket is full", () => {
  const time = new ManualClock();
  const g = new SessionGuard({ ...DEFAULT_LIMITS, commandsPerSecond: 10 }, time.read);
  for (let i = 0; i < COMMAND_BURST; i++) g.admitFrame();
  for (let i = 0; i < MAX_RATE_LIMITED_REQUESTS; i++) assertEquals(g.admitFrame(), "rate_limited");
  time.advance(60_000);
  assertEquals(g.admitFrame(), "ok");
  assertEquals(g.rateLimitedRequests, 0);
});

Deno.test("keepAliveIntervalMs() stays well below the idle timeout", () => {
  assertEquals(keepAliveIntervalMs(180_000, 30_000), 30_000);
  assertEquals(keepAliveIntervalMs(12_000, 30_000), 4_000);
  assertEquals(keepAliveIntervalMs(1_000, 30_000), 1_000);
});

Deno.test("Semaphore runs at most its limit at once and refuses beyond a bounded queue", async () => {
  const slots = new Semaphore(2);
  let running = 0;
  let peak = 0;
  const gates: PromiseWithResolvers<void>[] = [];
  const task = async () => {
    running++;
    peak = Math.max(peak, running);
    const g = Promise.withResolvers<void>();
    gates.push(g);
    await g.promise;
    running--;
  };
  const runs = [1, 2, 3].map(() => slots.run(task, { maxQueue: 1 }));
  let refused: unknown;
  await slots.run(task, { maxQueue: 1 }).catch((e) => refused = e);
  assert(refused instanceof BusyError, "a fourth task over a queue of 1 must be refused");
  assertEquals(slots.waiting, 1);
  // Release the running tasks as they come until all three have run.
  let finished = false;
  const all = Promise.all(runs).then(() => finished = true);
  for (let i = 0; i < 100 && !finished; i++) {
    for (const g of gates.splice(0)) g.resolve();
    await new Promise((r) => setTimeout(r, 0));
  }
  await all;
  assertEquals(peak, 2);
});

Deno.test("Semaphore refuses a task that waited longer than maxWaitMs", async () => {
  const slots = new Semaphore(1);
  const hold = Promise.withResolvers<void>();
  const first = slots.run(() => hold.promise);
  const late = slots.run(() => Promise.resolve("ran"), { maxWaitMs: 20 });
  await new Promise((r) => setTimeout(r, 40));
  hold.resolve();
  await first;
  let refused: unknown;
  await late.catch((e) => refused = e);
  assert(refused instanceof BusyError);
  // The slot is free again.
  assertEquals(await slots.run(() => Promise.resolve("ok")), "ok");
});

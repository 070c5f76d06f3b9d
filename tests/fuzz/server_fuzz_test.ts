/**
 * Fuzzes a live server over real sockets with a fixed seed: hostile
 * connections send random bytes, broken and odd frames, random commands
 * before and after logging in, and then vanish in different ways. Meanwhile a
 * well-behaved pair keeps chatting: every message must arrive, in order, from
 * its real sender, without stalls.
 */

import { assert, assertEquals } from "../helpers/assert.ts";
import { RawClient } from "../helpers/raw_client.ts";
import { namedAccounts, startTestServer } from "../helpers/test_server.ts";
import { Random } from "../helpers/random.ts";
import { randomLine, randomRequest } from "./_fuzz_inputs.ts";

const SEED = 77;
const HOSTILE_CONNECTIONS = 150;
const LINES_PER_CONNECTION = 80;

Deno.test("a live server survives fuzzed connections while others keep chatting", async () => {
  const t = await startTestServer({
    ...namedAccounts(["alice", "bob", "carol", "dave", "erin"]),
    clock: "real",
    // The steady pair chats at up to ~200 requests/s; rate limits have their own tests.
    limits: { connectionsPerIpPerMinute: 0, commandsPerSecond: 1000 },
  });
  const alice = await RawClient.login(t.port, "alice", "pw-alice");
  const bob = await RawClient.login(t.port, "bob", "pw-bob");

  // The well-behaved pair: alice messages bob until the fuzzing is over.
  let fuzzing = true;
  let sent = 0;
  let slowest = 0;
  const chat = (async () => {
    while (fuzzing) {
      const t0 = performance.now();
      const res = await alice.request("msgto", ["bob", `steady ${sent}`]);
      slowest = Math.max(slowest, performance.now() - t0);
      assertEquals(res.code, "ok");
      sent++;
      await new Promise((r) => setTimeout(r, 5));
    }
  })();

  const newline = new Uint8Array([0x0a]);
  const hostile = async (n: number) => {
    // One generator per connection, so the inputs do not depend on how the
    // concurrent connections interleave.
    const r = new Random(SEED * 1000 + n);
    const c = await RawClient.connect(t.port);
    // Half of them log in first (as carol or dave), so the fuzz reaches the
    // handlers of a logged-in session too.
    if (n % 2 === 0) {
      const who = n % 4 === 0 ? "carol" : "dave";
      await c.request("hello", ["2"]);
      await c.request("user", [who]);
      await c.request("pass", [`pw-${who}`, "0"]);
    }
    for (let i = 0; i < LINES_PER_CONNECTION && !c.ended; i++) {
      const line = r.next() < 0.5
        ? randomLine(r, i)
        : new TextEncoder().encode(randomRequest(r, i));
      if (!(await c.tryWrite(line))) break;
      if (r.next() < 0.9) await c.tryWrite(newline);
    }
    switch (n % 3) {
      case 0:
        await c.close(); // vanish at once
        break;
      case 1:
        // half-close: stop sending, keep reading until the server is done
        try {
          await (c.conn as Deno.TcpConn).closeWrite();
        } catch {
          // already closed by the server
        }
        await c.waitClosed(2000);
        break;
      default:
        // a last ping must still be answered unless the server hung up on us
        if (!c.ended) {
          try {
            await c.request("ping", [], 2000);
          } catch (e) {
            assert(c.ended, `server stopped answering a fuzzed session: ${e}`);
          }
        }
        await c.close();
    }
  };
  for (let batch = 0; batch < HOSTILE_CONNECTIONS; batch += 10) {
    await Promise.all(Array.from({ length: 10 }, (_, k) => hostile(batch + k)));
  }
  fuzzing = false;
  await chat;

  // Every steady message reached bob, in order, from alice.
  const last = `steady ${sent - 1}`;
  await bob.waitFor((f) => "ev" in f && f.ev === "msg" && f.text === last);
  const received = bob.pushes().filter((p) => p.ev === "msg" && p.text.startsWith("steady "));
  assertEquals(
    received.map((p) => p.ev === "msg" && p.text),
    Array.from({ length: sent }, (_, i) => `steady ${i}`),
  );
  // Nobody spoke to bob as anyone but themselves: fuzzed sessions could only be carol or dave.
  for (const p of bob.pushes()) {
    if (p.ev === "msg") assert(["alice", "carol", "dave"].includes(p.from), `push from ${p.from}`);
  }
  assert(sent > 10, `the steady pair only exchanged ${sent} messages`);
  assert(slowest < 5000, `a steady message took ${slowest.toFixed(0)} ms`);
  // The server still takes new logins.
  const late = await RawClient.login(t.port, "erin", "pw-erin");
  await late.expectOk("activeuser");
  await late.close();
  await alice.close();
  await bob.close();
  await t.close();
});

/**
 * Each limit of `server/limits.ts`, over real sockets against a real server.
 * Time is a {@link ManualClock}; the sweep runs every 20 ms of real time.
 */

import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { RawClient } from "../helpers/raw_client.ts";
import { ManualClock, namedAccounts, startTestServer } from "../helpers/test_server.ts";
import { COMMAND_BURST, MAX_RATE_LIMITED_REQUESTS } from "../../server/limits.ts";
import { MAX_FRAME_BYTES, MAX_MESSAGE_CHARS } from "../../shared/limits.ts";

const USERS = ["alice", "bob", "carol"];

Deno.test("startServer() refuses a connection over maxConnections with a bye", async () => {
  const t = await startTestServer({
    ...namedAccounts(USERS),
    clock: "real",
    limits: { maxConnections: 2 },
  });
  const a = await RawClient.login(t.port, "alice", "pw-alice");
  const b = await RawClient.connect(t.port);
  await b.expectOk("hello", ["2"]);
  const c = await RawClient.connect(t.port);
  assertMatch((await c.waitClosed()) ?? "", /server full/);
  // The two admitted connections are unaffected.
  await b.expectOk("ping");
  assertEquals((await a.expectOk("activeuser")).lines, ["no other active user"]);
  await b.close();
  await a.close();
  await t.close();
});

Deno.test("startServer() limits new connections per IP per minute", async () => {
  const time = new ManualClock();
  const t = await startTestServer({
    ...namedAccounts(USERS),
    clock: time,
    limits: { connectionsPerIpPerMinute: 3 },
  });
  const admitted = [];
  for (let i = 0; i < 3; i++) admitted.push(await RawClient.connect(t.port));
  for (const c of admitted) await c.expectOk("hello", ["2"]);
  const refused = await RawClient.connect(t.port);
  assertMatch((await refused.waitClosed()) ?? "", /too many new connections/);
  // A minute later the address has its allowance back.
  time.advance(60_000);
  const later = await RawClient.connect(t.port);
  await later.expectOk("hello", ["2"]);
  for (const c of [...admitted, later]) await c.close();
  await t.close();
});

Deno.test("a connection that does not log in within the login timeout is closed", async () => {
  const time = new ManualClock();
  const t = await startTestServer({
    ...namedAccounts(USERS),
    clock: time,
    sweepIntervalMs: 20,
    limits: { loginTimeoutMs: 10_000, idleTimeoutMs: 3_600_000 },
  });
  const ready = await RawClient.login(t.port, "alice", "pw-alice");
  const silent = await RawClient.connect(t.port);
  const greeted = await RawClient.connect(t.port);
  await greeted.expectOk("hello", ["2"]);
  // Pings do not extend the login deadline.
  time.advance(9_000);
  await greeted.expectOk("ping");
  time.advance(1_000);
  assertEquals(await silent.waitClosed(), "login timed out");
  assertEquals(await greeted.waitClosed(), "login timed out");
  // A logged-in session is not subject to the login deadline.
  await ready.expectOk("ping");
  await ready.close();
  await t.close();
});

Deno.test("an idle session is closed and a pinging one is kept", async () => {
  const time = new ManualClock();
  const t = await startTestServer({
    ...namedAccounts(USERS),
    clock: time,
    sweepIntervalMs: 20,
    limits: { idleTimeoutMs: 30_000 },
  });
  const pinger = await RawClient.login(t.port, "alice", "pw-alice");
  const idle = await RawClient.login(t.port, "bob", "pw-bob");
  time.advance(20_000);
  await pinger.expectOk("ping");
  time.advance(15_000);
  assertEquals(await idle.waitClosed(), "idle timeout");
  assertEquals((await pinger.expectOk("activeuser")).lines, ["no other active user"]);
  assert(!pinger.ended);
  await pinger.close();
  await t.close();
});

Deno.test("hello announces a keep-alive interval below the idle timeout", async () => {
  const t = await startTestServer({
    ...namedAccounts(USERS),
    clock: "real",
    limits: { idleTimeoutMs: 12_000 },
  });
  const c = await RawClient.connect(t.port);
  const res = await c.expectOk("hello", ["2"]);
  assertEquals(res.data?.keepAliveMs, 4_000);
  await c.close();
  await t.close();
});

Deno.test("ping answers ok in every phase", async () => {
  const t = await startTestServer({ ...namedAccounts(USERS), clock: "real" });
  const c = await RawClient.connect(t.port);
  assertEquals((await c.request("ping")).ok, true);
  await c.expectOk("hello", ["2"]);
  assertEquals((await c.request("ping", ["tok"])).data, { token: "tok" });
  await c.expectOk("user", ["alice"]);
  await c.expectOk("pass", ["pw-alice", "0"]);
  assertEquals((await c.request("ping")).code, "ok");
  await c.close();
  await t.close();
});

Deno.test("a session over the request rate gets rate_limited, then is disconnected", async () => {
  const time = new ManualClock();
  const t = await startTestServer({
    ...namedAccounts(USERS),
    clock: time,
    limits: { commandsPerSecond: 5 },
  });
  const flooder = await RawClient.login(t.port, "alice", "pw-alice");
  const bystander = await RawClient.login(t.port, "bob", "pw-bob");
  // The login used 3 requests of the burst.
  const burst = COMMAND_BURST - 3;
  const lines = [];
  for (let i = 0; i < burst + 1; i++) {
    lines.push(JSON.stringify({ t: "req", id: 1000 + i, cmd: "ping", args: [] }) + "\n");
  }
  await flooder.tryWrite(lines.join(""));
  const limited = await flooder.request("ping");
  assertEquals(limited.code, "rate_limited");
  // Time passes: the bucket refills and the session is served again.
  time.advance(1_000);
  assertEquals((await flooder.request("ping")).code, "ok");
  // Sustained abuse: well over the limit, the session is cut off.
  time.advance(60_000);
  const flood = [];
  for (let i = 0; i < COMMAND_BURST + MAX_RATE_LIMITED_REQUESTS + 10; i++) {
    flood.push(JSON.stringify({ t: "req", id: 5000 + i, cmd: "ping", args: [] }) + "\n");
  }
  await flooder.tryWrite(flood.join(""));
  assertEquals(await flooder.waitClosed(), "too many requests");
  const errors = flooder.frames.filter((f) => "t" in f && f.t === "error");
  assertEquals(errors.length, MAX_RATE_LIMITED_REQUESTS + 2);
  // Nobody else noticed.
  assertEquals((await bystander.expectOk("activeuser")).lines, ["no other active user"]);
  await bystander.close();
  await t.close();
});

Deno.test("oversized lines, long messages and bad names get clear errors", async () => {
  const t = await startTestServer({ ...namedAccounts(USERS), clock: "real" });
  const a = await RawClient.login(t.port, "alice", "pw-alice");
  const b = await RawClient.login(t.port, "bob", "pw-bob");
  await a.tryWrite("x".repeat(MAX_FRAME_BYTES + 10) + "\n");
  const tooLarge = await a.waitFor((f) => "t" in f && f.t === "error");
  assertEquals("code" in tooLarge ? tooLarge.code : "", "too_large");
  assertEquals(
    (await a.request("msgto", ["bob", "y".repeat(MAX_MESSAGE_CHARS + 1)])).code,
    "too_long",
  );
  assertEquals((await a.request("msgto", ["bob", "line\nbreak"])).code, "bad_text");
  assertEquals((await a.request("creategroup", ["bad-name", "bob"])).code, "bad_name");
  assertEquals((await a.request("msgto", ["../etc", "hi"])).code, "unknown_user");
  // The session still works after all of that.
  assertEquals((await a.expectOk("msgto", ["bob", "still here"])).code, "ok");
  await b.waitFor((f) => "ev" in f && f.ev === "msg");
  await a.close();
  await b.close();
  await t.close();
});

Deno.test("a client that stops reading slows nobody, and gets every acknowledged message at its next login", async () => {
  const t = await startTestServer({
    ...namedAccounts(USERS),
    clock: "real",
    limits: { commandsPerSecond: 0 },
  });
  // carol logs in and then never reads again.
  const carolConn = await Deno.connect({ hostname: "127.0.0.1", port: t.port });
  const enc = new TextEncoder();
  await carolConn.write(enc.encode(
    '{"t":"req","id":1,"cmd":"hello","args":["2"]}\n' +
      '{"t":"req","id":2,"cmd":"user","args":["carol"]}\n' +
      '{"t":"req","id":3,"cmd":"pass","args":["pw-carol","0"]}\n',
  ));
  const a = await RawClient.login(t.port, "alice", "pw-alice");
  const b = await RawClient.login(t.port, "bob", "pw-bob");
  // Wait until carol is online.
  for (let i = 0; i < 100; i++) {
    const res = await a.expectOk("activeuser");
    if (res.lines.some((l) => l.startsWith("carol"))) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  // Far more than her socket buffers and the server's outbox hold (~4 MB).
  const text = "z".repeat(MAX_MESSAGE_CHARS - 10);
  const sent = 1000;
  for (let i = 0; i < sent; i++) {
    const res = await a.expectOk("msgto", ["carol", `${i} ${text}`]);
    assertEquals(res.code, "ok", "carol is online: each is acknowledged as sent");
  }
  // bob is unaffected.
  await a.expectOk("msgto", ["bob", "hello bob"]);
  await b.waitFor((f) => "ev" in f && f.ev === "msg" && f.text === "hello bob");
  // carol's client dies without having read them; at her next login all come, in order, once.
  carolConn.close();
  const carol = await RawClient.login(t.port, "carol", "pw-carol");
  await carol.waitFor(() => carol.pushes("msg").length >= sent, 30_000);
  const got = carol.pushes("msg").map((p) => Number((p.text as string).split(" ")[0]));
  assertEquals(got, Array.from({ length: sent }, (_, i) => i));
  await carol.close();
  await a.close();
  await b.close();
  await t.close();
});

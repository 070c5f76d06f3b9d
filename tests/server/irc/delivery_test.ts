/**
 * Offline replay, its delivery guarantee, CHATHISTORY and flood limits on the
 * IRC door.
 */

import { assert, assertEquals } from "../../helpers/assert.ts";
import { FrameworkClient } from "../../helpers/irc_framework_client.ts";
import { RawClient } from "../../helpers/raw_client.ts";
import { RawIrcClient } from "../../helpers/raw_irc_client.ts";
import { sleep, startTestServer, TEST_USERS } from "../../helpers/test_server.ts";

Deno.test("messages sent while offline are replayed at connect with their original time", async () => {
  const t = await startTestServer({ irc: { port: 0 }, sweepIntervalMs: 20 });
  try {
    const yoda = await RawClient.login(t.port, "Yoda", TEST_USERS.Yoda);
    const sentAt = t.clock.now;
    await yoda.expectOk("msgto", ["Hans", "while you were away"]);
    t.clock.advance(60_000);
    const hans = await RawIrcClient.register(t.server.ircPort!, "Hans", TEST_USERS.Hans, [
      "server-time",
    ]);
    const m = await hans.expectCommand("PRIVMSG");
    assertEquals(m.params, ["Hans", "while you were away"]);
    assertEquals(m.tags?.time, new Date(sentAt).toISOString());
    await hans.close();
    await yoda.close();
  } finally {
    await t.close();
  }
});

Deno.test("a replayed message stays undelivered until the client answers the PING after it", async () => {
  const t = await startTestServer({ irc: { port: 0 }, sweepIntervalMs: 20 });
  try {
    const port = t.server.ircPort!;
    const yoda = await RawClient.login(t.port, "Yoda", TEST_USERS.Yoda);
    await yoda.expectOk("msgto", ["Hans", "first"]);
    // A client that reads the message but never answers the PING behind it.
    const deaf = await RawIrcClient.register(port, "Hans", TEST_USERS.Hans, [], {
      autoPong: false,
    });
    await deaf.expectCommand("PRIVMSG", (p) => p[1] === "first");
    await deaf.expectCommand("PING");
    await deaf.close();
    await sleep(50);
    // It comes again; this time the PING is answered.
    const hans = await RawIrcClient.register(port, "Hans", TEST_USERS.Hans);
    await hans.expectCommand("PRIVMSG", (p) => p[1] === "first");
    await hans.expectCommand("PING");
    await sleep(50);
    await hans.send("QUIT");
    await hans.closed;
    await sleep(50);
    // Confirmed: the next login starts with what is new.
    const again = await RawIrcClient.register(port, "Hans", TEST_USERS.Hans);
    await yoda.expectOk("msgto", ["Hans", "second"]);
    assertEquals((await again.expectCommand("PRIVMSG")).params[1], "second");
    await again.close();
    await yoda.close();
  } finally {
    await t.close();
  }
});

Deno.test("irc-framework gets group messages it missed, with server-time", async () => {
  const t = await startTestServer({ irc: { port: 0 }, sweepIntervalMs: 20 });
  try {
    const yoda = await RawClient.login(t.port, "Yoda", TEST_USERS.Yoda);
    const hans = await RawIrcClient.register(t.server.ircPort!, "Hans", TEST_USERS.Hans);
    await yoda.expectOk("creategroup", ["rebels", "Hans"]);
    await hans.send("JOIN #rebels");
    await hans.expectCommand("366");
    await hans.send("QUIT");
    await hans.closed;
    const sentAt = t.clock.now;
    await yoda.expectOk("groupmsg", ["rebels", "meeting at noon"]);
    t.clock.advance(5000);
    const c = await FrameworkClient.connect({
      port: t.server.ircPort!,
      nick: "Hans",
      password: TEST_USERS.Hans,
    });
    const m = await c.nextEvent("privmsg");
    assertEquals([m.nick, m.target, m.message], ["Yoda", "#rebels", "meeting at noon"]);
    assertEquals(m.time, sentAt);
    const join = c.events.find((e) => e.name === "join");
    assertEquals(join?.event.channel, "#rebels");
    await c.quit();
    await yoda.close();
  } finally {
    await t.close();
  }
});

Deno.test("CHATHISTORY LATEST and BEFORE read the same store as /history", async () => {
  const t = await startTestServer({ irc: { port: 0 } });
  try {
    const yoda = await RawClient.login(t.port, "Yoda", TEST_USERS.Yoda);
    const times: number[] = [];
    for (const text of ["one", "two", "three"]) {
      times.push(t.clock.now);
      await yoda.expectOk("msgto", ["Hans", text]);
      t.clock.advance(1000);
    }
    const hans = await RawIrcClient.register(t.server.ircPort!, "Hans", TEST_USERS.Hans, [
      "batch",
      "server-time",
      "draft/chathistory",
    ]);
    await hans.send("CHATHISTORY LATEST Yoda * 2");
    const start = await hans.expectCommand("BATCH", (p) => p[0].startsWith("+"));
    assertEquals(start.params.slice(1), ["chathistory", "Yoda"]);
    const id = start.params[0].slice(1);
    const a = await hans.expectCommand("PRIVMSG", (p) => p[1] === "two");
    const b = await hans.expectCommand("PRIVMSG", (p) => p[1] === "three");
    assertEquals([a.tags?.batch, b.tags?.batch], [id, id]);
    assertEquals(a.tags?.time, new Date(times[1]).toISOString());
    await hans.expectCommand("BATCH", (p) => p[0] === `-${id}`);
    await hans.send(`CHATHISTORY BEFORE Yoda timestamp=${new Date(times[1]).toISOString()} 10`);
    await hans.expectCommand("BATCH");
    const older = await hans.expectCommand("PRIVMSG");
    assertEquals([older.source, older.params[1]], ["Yoda!Yoda@tessenger", "one"]);
    assertEquals((await hans.expectCommand("BATCH")).params[0].startsWith("-"), true);
    await hans.send("CHATHISTORY BEFORE Yoda msgid=x 10");
    assertEquals((await hans.expectCommand("FAIL")).params.slice(0, 3), [
      "CHATHISTORY",
      "INVALID_PARAMS",
      "BEFORE",
    ]);
    await hans.send("CHATHISTORY AROUND Yoda * 10", "CHATHISTORY LATEST #nogroup * 5");
    const fail = await hans.expectCommand("FAIL");
    assertEquals(fail.params.slice(0, 3), ["CHATHISTORY", "INVALID_PARAMS", "AROUND"]);
    const bad = await hans.expectCommand("FAIL");
    assertEquals(bad.params.slice(0, 2), ["CHATHISTORY", "INVALID_TARGET"]);
    await hans.close();
    await yoda.close();
  } finally {
    await t.close();
  }
});

Deno.test("a flood is slowed down, and a client that keeps flooding is disconnected", async () => {
  const t = await startTestServer({
    irc: { port: 0 },
    clock: "real",
    limits: { commandsPerSecond: 50 },
  });
  try {
    const yoda = await RawClient.login(t.port, "Yoda", TEST_USERS.Yoda);
    const hans = await RawIrcClient.register(t.server.ircPort!, "Hans", TEST_USERS.Hans);
    // A burst over the bucket (60) but short of the flood limit: all of it arrives, late.
    const burst = Array.from({ length: 100 }, (_, i) => `PRIVMSG Yoda :burst ${i}`);
    const started = Date.now();
    await hans.send(...burst);
    await yoda.push("msg", (p) => p.text === "burst 99");
    // 40 lines beyond the burst of 60, at 50 a second.
    assert(Date.now() - started >= 600, "the lines beyond the burst were held back");
    assertEquals(yoda.pushes("msg").length, 100);
    // A flood that does not stop: disconnected.
    const flood = Array.from({ length: 400 }, (_, i) => `PING ${i}`);
    await hans.send(...flood).catch(() => {});
    const error = await hans.expectCommand("ERROR", () => true, 10_000);
    assert(error.params[0].includes("Excess Flood"));
    await hans.closed;
    await yoda.close();
  } finally {
    await t.close();
  }
});

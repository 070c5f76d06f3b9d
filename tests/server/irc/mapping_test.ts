/**
 * The IRC front door against a real server: an IRC user and a native user
 * message each other, share a group as a channel, invite, part, and read
 * history. Raw sockets on both doors, so every line and frame is checked.
 */

import { assert, assertEquals } from "../../helpers/assert.ts";
import { RawClient } from "../../helpers/raw_client.ts";
import { RawIrcClient } from "../../helpers/raw_irc_client.ts";
import { startTestServer, TEST_USERS, type TestServer } from "../../helpers/test_server.ts";
import type { IrcMessage } from "../../../server/frontends/irc/message.ts";

const encoder = new TextEncoder();

/** A server with the IRC door, Yoda on the native door and Hans on IRC. */
async function withBothDoors(
  fn: (t: TestServer, yoda: RawClient, hans: RawIrcClient) => Promise<void>,
  caps: string[] = [],
): Promise<void> {
  const t = await startTestServer({ irc: { port: 0 }, sweepIntervalMs: 20 });
  const clients: { close(): Promise<void> }[] = [];
  try {
    const yoda = await RawClient.login(t.port, "Yoda", TEST_USERS.Yoda);
    clients.push(yoda);
    const hans = await RawIrcClient.register(t.server.ircPort!, "Hans", TEST_USERS.Hans, caps);
    clients.push(hans);
    await fn(t, yoda, hans);
    assertEquals(hans.refused, []);
  } finally {
    for (const c of clients) await c.close();
    await t.close();
  }
}

const text = (m: IrcMessage) => m.params.at(-1);

Deno.test("an IRC user and a native user message each other", async () => {
  await withBothDoors(async (_t, yoda, hans) => {
    await hans.send("PRIVMSG Yoda :hello from irc");
    const push = await yoda.push("msg");
    assertEquals([push.from, push.text], ["Hans", "hello from irc"]);
    await yoda.expectOk("msgto", ["Hans", "hello from the client"]);
    const m = await hans.expectCommand("PRIVMSG");
    assertEquals(m.source, "Yoda!Yoda@tessenger");
    assertEquals(m.params, ["Hans", "hello from the client"]);
  });
});

Deno.test("nicks are matched without regard to case", async () => {
  await withBothDoors(async (_t, yoda, hans) => {
    await hans.send("PRIVMSG yoda :lower case");
    assertEquals((await yoda.push("msg")).text, "lower case");
  });
});

Deno.test("a message to an unknown nick gets 401 and one to an offline user 301", async () => {
  await withBothDoors(async (_t, _yoda, hans) => {
    await hans.send("PRIVMSG Nobody :hi");
    await hans.expectCommand("401", (p) => p[1] === "Nobody");
    await hans.send("PRIVMSG Luke :are you there");
    const away = await hans.expectCommand("301");
    assertEquals(away.params[1], "Luke");
    assert(text(away)!.startsWith("is offline: message queued at "));
  });
});

Deno.test("a long native message reaches IRC split into 512-byte lines", async () => {
  await withBothDoors(async (_t, yoda, hans) => {
    const long = Array.from({ length: 1000 }, (_, i) => `w${i}`).join(" ").slice(0, 4000);
    await yoda.expectOk("msgto", ["Hans", long]);
    let got = "";
    while (got.length < long.length) {
      const m = await hans.expectCommand("PRIVMSG");
      got += text(m);
    }
    assertEquals(got, long);
    // 4,000 characters in lines of at most 512 bytes with a 36-byte prefix and CR LF.
    const lines = hans.received.filter((m) => m.command === "PRIVMSG");
    assert(lines.length >= Math.ceil(4000 / (512 - 38)), `${lines.length} lines`);
  });
});

Deno.test("/me from IRC reaches the native client as /me and comes back as an ACTION", async () => {
  await withBothDoors(async (_t, yoda, hans) => {
    await hans.send("PRIVMSG Yoda :\x01ACTION waves\x01", "PRIVMSG Yoda :\x02bold\x02 move");
    assertEquals((await yoda.push("msg")).text, "/me waves");
    assertEquals((await yoda.push("msg", (p) => p.text !== "/me waves")).text, "bold move");
    await yoda.expectOk("msgto", ["Hans", "/me bows"]);
    assertEquals(text(await hans.expectCommand("PRIVMSG")), "\x01ACTION bows\x01");
  });
});

Deno.test("a group is a channel with members on both doors", async () => {
  await withBothDoors(async (_t, yoda, hans) => {
    await yoda.expectOk("creategroup", ["rebels", "Hans"]);
    const invite = await hans.expectCommand("INVITE");
    assertEquals([invite.source, ...invite.params], ["Yoda!Yoda@tessenger", "Hans", "#rebels"]);
    await hans.send("JOIN #rebels");
    const join = await hans.expectCommand("JOIN");
    assertEquals([join.source, ...join.params], ["Hans!Hans@tessenger", "#rebels"]);
    const names = await hans.expectCommand("353");
    assertEquals(names.params.slice(1, 3), ["=", "#rebels"]);
    assertEquals(text(names)!.split(" ").sort(), ["Hans", "Yoda"]);
    await hans.expectCommand("366");
    assertEquals((await yoda.push("member")).user, "Hans");
    await hans.send("PRIVMSG #rebels :for the rebellion");
    const g = await yoda.push("groupmsg");
    assertEquals([g.group, g.from, g.text], ["rebels", "Hans", "for the rebellion"]);
    await yoda.expectOk("groupmsg", ["rebels", "may the force"]);
    const m = await hans.expectCommand("PRIVMSG");
    assertEquals([m.source, ...m.params], ["Yoda!Yoda@tessenger", "#rebels", "may the force"]);
  });
});

Deno.test("JOIN of a new name creates the group, INVITE brings a native user in, PART leaves", async () => {
  await withBothDoors(async (_t, yoda, hans) => {
    await hans.send("JOIN #jedi");
    await hans.expectCommand("366", (p) => p[1] === "#jedi");
    await hans.send("INVITE Yoda #jedi");
    await hans.expectCommand("341", (p) => p[1] === "Yoda" && p[2] === "#jedi");
    const inv = await yoda.push("invite");
    assertEquals([inv.group, inv.from], ["jedi", "Hans"]);
    await yoda.expectOk("joingroup", ["jedi"]);
    const join = await hans.expectCommand("JOIN");
    assertEquals(join.source, "Yoda!Yoda@tessenger");
    await hans.send("PART #jedi :bye");
    const part = await hans.expectCommand("PART");
    assertEquals([part.source, ...part.params], ["Hans!Hans@tessenger", "#jedi"]);
    assertEquals((await yoda.push("member", (p) => p.change === "left")).user, "Hans");
    await hans.send("PRIVMSG #jedi :still here?");
    await hans.expectCommand("404", (p) => p[1] === "#jedi");
  });
});

Deno.test("JOIN of a group one is not invited to gets 473", async () => {
  await withBothDoors(async (t, yoda, hans) => {
    const luke = await RawClient.login(t.port, "Luke", TEST_USERS.Luke);
    try {
      await yoda.expectOk("creategroup", ["council", "Luke"]);
      await hans.send("JOIN #council", "JOIN #no-such!");
      await hans.expectCommand("473", (p) => p[1] === "#council");
      await hans.expectCommand("476");
    } finally {
      await luke.close();
    }
  });
});

Deno.test("NAMES, WHO, WHOIS, ISON and LIST answer from the same state", async () => {
  await withBothDoors(async (_t, yoda, hans) => {
    await yoda.expectOk("creategroup", ["rebels", "Hans"]);
    await hans.send("JOIN #rebels");
    await hans.expectCommand("366");
    await hans.send("NAMES #rebels");
    assertEquals(text(await hans.expectCommand("353"))!.split(" ").sort(), ["Hans", "Yoda"]);
    await hans.send("WHO #rebels");
    const who = [await hans.expectCommand("352"), await hans.expectCommand("352")];
    assertEquals(who.map((m) => m.params[5]).sort(), ["Hans", "Yoda"]);
    await hans.expectCommand("315");
    await hans.send("WHOIS Yoda");
    await hans.expectCommand("311", (p) => p[1] === "Yoda");
    assertEquals(text(await hans.expectCommand("319")), "#rebels");
    await hans.expectCommand("318");
    await hans.send("ISON Yoda Luke Nobody");
    assertEquals(text(await hans.expectCommand("303")), "Yoda");
    await hans.send("LIST");
    const row = await hans.expectCommand("322");
    assertEquals(row.params.slice(1, 3), ["#rebels", "2"]);
    await hans.expectCommand("323");
  });
});

Deno.test("MODE shows groups as +i and ignores a client's own user modes", async () => {
  await withBothDoors(async (_t, _yoda, hans) => {
    await hans.send("JOIN #jedi", "MODE #jedi", "MODE #jedi b", "MODE #jedi +o Hans");
    assertEquals((await hans.expectCommand("324")).params.slice(1), ["#jedi", "+i"]);
    await hans.expectCommand("368");
    await hans.expectCommand("482");
    await hans.send("MODE Hans +i", "MODE Hans", "MODE Yoda");
    assertEquals((await hans.expectCommand("221")).params, ["Hans", "+"]);
    await hans.expectCommand("502");
    assertEquals(hans.received.filter((m) => m.command === "501"), []);
  });
});

Deno.test("MONITOR reports who is online now and who comes online later", async () => {
  await withBothDoors(async (t, _yoda, hans) => {
    await hans.send("MONITOR + Yoda,Luke");
    assertEquals(text(await hans.expectCommand("730")), "Yoda!Yoda@tessenger");
    assertEquals(text(await hans.expectCommand("731")), "Luke");
    const luke = await RawClient.login(t.port, "Luke", TEST_USERS.Luke);
    assertEquals(text(await hans.expectCommand("730")), "Luke!Luke@tessenger");
    await luke.expectOk("logout");
    assertEquals(text(await hans.expectCommand("731")), "Luke");
    await hans.send("MONITOR L");
    assertEquals(text(await hans.expectCommand("732")), "Yoda,Luke");
  });
});

Deno.test("AWAY is shown to senders, in WHO and to members with away-notify", async () => {
  await withBothDoors(async (t, yoda, hans) => {
    const luke = await RawIrcClient.register(t.server.ircPort!, "Luke", TEST_USERS.Luke, [
      "away-notify",
    ]);
    try {
      await yoda.expectOk("creategroup", ["rebels", "Hans", "Luke"]);
      await hans.send("JOIN #rebels");
      await luke.send("JOIN #rebels");
      await luke.expectCommand("366");
      await hans.send("AWAY :gone fishing");
      await hans.expectCommand("306");
      const notify = await luke.expectCommand("AWAY");
      assertEquals([notify.source, ...notify.params], ["Hans!Hans@tessenger", "gone fishing"]);
      const push = await yoda.push("away");
      assertEquals([push.user, push.text], ["Hans", "gone fishing"]);
      await luke.send("PRIVMSG Hans :hi", "WHO Hans");
      const away = await luke.expectCommand("301");
      assertEquals(away.params.slice(1), ["Hans", "gone fishing"]);
      assertEquals((await luke.expectCommand("352")).params[6], "G");
      await hans.send("AWAY");
      await hans.expectCommand("305");
      assertEquals((await luke.expectCommand("AWAY")).params, []);
    } finally {
      await luke.close();
    }
  });
});

Deno.test("echo-message returns the sender's own message with its server time", async () => {
  await withBothDoors(async (_t, yoda, hans) => {
    await hans.send("PRIVMSG Yoda :echo me");
    const echo = await hans.expectCommand("PRIVMSG");
    assertEquals([echo.source, ...echo.params], ["Hans!Hans@tessenger", "Yoda", "echo me"]);
    const push = await yoda.push("msg");
    assertEquals(echo.tags?.time, new Date(push.at).toISOString());
  }, ["echo-message", "server-time"]);
});

Deno.test("/p2pvideo to an IRC user says they cannot receive UDP transfers", async () => {
  await withBothDoors(async (_t, yoda) => {
    const res = await yoda.request("p2pvideo", ["Hans", "film.mp4", "10", "a".repeat(64)]);
    assertEquals(res.lines, ["Hans is on IRC and cannot receive UDP transfers"]);
  });
});

Deno.test("garbage lines get a clear reply and the session goes on", async () => {
  await withBothDoors(async (_t, yoda, hans) => {
    await hans.send("PRIVMSG Yoda :" + "x".repeat(600));
    await hans.expectCommand("417");
    await hans.sendBytes(new Uint8Array([...encoder.encode("PRIVMSG Yoda :caf"), 0xe9, 13, 10]));
    const fail = await hans.expectCommand("FAIL");
    assertEquals(fail.params.slice(0, 2), ["PRIVMSG", "INVALID_UTF8"]);
    await hans.send("FOOBAR x", "PRIVMSG Yoda :still fine");
    await hans.expectCommand("421", (p) => p[1] === "FOOBAR");
    assertEquals((await yoda.push("msg")).text, "still fine");
  });
});

Deno.test("too many garbage lines close the connection with ERROR", async () => {
  await withBothDoors(async (_t, _yoda, hans) => {
    for (let i = 0; i < 5; i++) await hans.send(":only-a-source");
    const error = await hans.expectCommand("ERROR");
    assert(text(error)!.includes("too many malformed lines"));
    await hans.closed;
  });
});

/**
 * /away and /who through the real client against a real server.
 */

import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { scriptedClient as client } from "../helpers/client_session.ts";
import {
  loginConnection,
  logoutConnection,
  startTestServer,
  tickingClock,
} from "../helpers/test_server.ts";

const TS = /\d\d \w{3} \d{4} \d\d:\d\d:\d\d/.source;

Deno.test("/away TEXT is shown to whoever messages you and in /activeuser, until /away alone", async () => {
  const s = await startTestServer({ clock: tickingClock() });
  const yoda = await client(s, "Yoda");
  const hans = await client(s, "Hans");
  try {
    yoda.t.type("/away  gone to Dagobah");
    await yoda.t.waitFor("You are marked as away:  gone to Dagobah");
    hans.t.type("/msgto Yoda are you there?");
    await hans.t.waitFor(new RegExp(`^message sent at ${TS}\\.$`));
    await hans.t.waitFor("Yoda is away:  gone to Dagobah");
    await yoda.t.waitFor(new RegExp(`^${TS}, Hans: are you there\\?$`));
    hans.t.type("/activeuser");
    await hans.t.waitFor(
      new RegExp(`^Yoda, 127\\.0\\.0\\.1, \\d+, active since ${TS}\\. Away:  gone to Dagobah$`),
    );
    yoda.t.type(`/away ${"z".repeat(201)}`);
    await yoda.t.waitFor((p) =>
      p.error && p.text === "Away text too long: at most 200 characters."
    );
    yoda.t.type("/away");
    await yoda.t.waitFor("You are no longer marked as away.");
    hans.t.type("/msgto Yoda back?");
    await yoda.t.waitFor(new RegExp(`^${TS}, Hans: back\\?$`));
    hans.t.type("/logout");
    assertEquals(await hans.exit, 0);
    assertEquals(
      hans.t.output.filter((l) => l.includes("is away")).length,
      1,
      String(hans.t.output),
    );
    yoda.t.type("/logout");
    assertEquals(await yoda.exit, 0);
  } finally {
    yoda.t.end();
    hans.t.end();
    await Promise.all([yoda.exit, hans.exit]);
    await s.close();
  }
});

Deno.test("/who GROUP lists each member: joined or invited, online, offline or away", async () => {
  const s = await startTestServer({ clock: tickingClock() });
  const hans = await loginConnection(s, "Hans");
  const leia = await loginConnection(s, "Leia");
  const yoda = await client(s, "Yoda");
  try {
    yoda.t.type("/creategroup Jedi Hans Luke Leia");
    await yoda.t.waitFor(/^Group chat room has been created, room name: Jedi/);
    await hans.conn.request("joingroup", ["Jedi"]);
    await hans.conn.request("away", ["meditating"]);
    // The joined members of one's groups hear of it (IRC's away-notify); a terminal prints no line.
    yoda.t.type("/away brb");
    const heard = await hans.nextPush("away");
    assertEquals(heard, { t: "push", ev: "away", user: "Yoda", text: "brb" });
    yoda.t.type("/away");
    await yoda.t.waitFor("You are no longer marked as away.");
    assertEquals(yoda.t.output.filter((l) => l.startsWith("Hans is")), []);
    yoda.t.type("/who Jedi");
    await yoda.t.waitFor("Members of Jedi:");
    await yoda.t.waitFor("  Yoda: joined, online");
    const at = yoda.t.output.indexOf("Members of Jedi:");
    assertEquals(yoda.t.output.slice(at, at + 5), [
      "Members of Jedi:",
      "  Hans: joined, away: meditating",
      "  Leia: invited, online",
      "  Luke: invited, offline",
      "  Yoda: joined, online",
    ]);
    yoda.t.type("/who Sith");
    await yoda.t.waitFor((p) => p.error && p.text === "Groupchat Sith doesn't exist.");
    const res = await leia.conn.request("who", ["Jedi"]);
    assert(res.ok, JSON.stringify(res));
    const obiwan = await loginConnection(s, "Obiwan");
    const refused = await obiwan.conn.request("who", ["Jedi"]);
    assertEquals([refused.ok, refused.lines], [false, ["You are not in this group chat."]]);
    assertMatch(
      JSON.stringify(res.data),
      /"user":"Hans","state":"joined","online":true,"away":"meditating"/,
    );
    await logoutConnection(obiwan);
    yoda.t.type("/logout");
    assertEquals(await yoda.exit, 0);
  } finally {
    yoda.t.end();
    await yoda.exit;
    await logoutConnection(hans);
    await logoutConnection(leia);
    await s.close();
  }
});

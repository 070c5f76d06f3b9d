import { runClient } from "../../client/app.ts";
import { Roster } from "../../client/roster.ts";
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import {
  loginConnection,
  logoutConnection,
  startTestServer,
  tickingClock,
} from "../helpers/test_server.ts";
import { ScriptedTerminal } from "../helpers/scripted_io.ts";

const TS = /\d\d \w{3} \d{4} \d\d:\d\d:\d\d/.source;
const SHA = "0".repeat(64);

function start(
  port: number,
  io: ScriptedTerminal,
  extra: { json?: boolean; roster?: Roster } = {},
) {
  return runClient({
    host: "127.0.0.1",
    port,
    udpPort: 0,
    downloadsDir: ".",
    io: io.io,
    ...extra,
  });
}

Deno.test("runClient: login, commands, history, groups, notices and logout in text", async () => {
  const s = await startTestServer({ clock: tickingClock() });
  const hans = await loginConnection(s, "Hans");
  const t = new ScriptedTerminal();
  const roster = new Roster();
  const exit = start(s.port, t, { roster });
  try {
    t.type("Yoda", "wise@!man");
    await t.waitFor(/^Enter one of the following commands \(\/msgto, .*\/history, /);
    assertEquals(t.output.slice(0, 1), ["Welcome to TESSENGER!"]);

    t.type("/foo");
    await t.waitFor((p) => p.error && p.text === "Error. Invalid command!");
    t.type("/msgto Hans hi  there");
    await t.waitFor(new RegExp(`^message sent at ${TS}\\.$`));
    await hans.conn.request("msgto", ["Yoda", "hello back"]);
    await t.waitFor(new RegExp(`^${TS}, Hans: hello back$`));

    await hans.conn.request("creategroup", ["Jedi", "Yoda"]);
    await t.waitFor(
      "Hans invited you to the group chat Jedi (Hans Yoda). Type /joingroup Jedi to join.",
    );
    await hans.conn.request("p2pvideo", ["Yoda", "dir/clip.mp4", "2048", SHA]);
    await t.waitFor("Hans is sending you clip.mp4 (2.0 KiB).");

    t.type("/joingroup Jedi", "/groups");
    await t.waitFor("Jedi: joined, members: Hans Yoda");
    t.type("/history Hans 5", "/help");
    await t.waitFor("Commands:");
    const at = t.output.indexOf("Last 2 messages with Hans:");
    assert(at !== -1, JSON.stringify(t.output));
    assertMatch(t.output[at + 1], new RegExp(`^${TS}, Yoda: hi {2}there$`));
    assertMatch(t.output[at + 2], new RegExp(`^${TS}, Hans: hello back$`));

    t.type("/activeuser");
    await t.waitFor(new RegExp(`^Hans, 127\\.0\\.0\\.1, 0, active since ${TS}\\.$`));
    t.type("/leavegroup Jedi");
    await t.waitFor("You have left the group chat Jedi.");
    t.type("/groupmsg Jedi anyone?");
    await t.waitFor((p) => p.error && p.text === "You are not in this group chat.");
    t.type("/history");
    await t.waitFor((p) => p.error && p.text === "Usage: /history USER|GROUP [N]");

    assertEquals(roster.self, "Yoda");
    assertEquals([...roster.users].sort(), ["Hans", "Yoda"]);
    assertEquals([...roster.groups], []);

    t.type("/logout");
    assertEquals(await exit, 0);
    // The announced file never came: logging out cancels it, then says bye.
    assertEquals(t.output.slice(-2), [
      "Cannot receive clip.mp4 from Hans: you logged out.",
      "Bye, Yoda!",
    ]);
    assert(!t.output.some((l) => l.includes("\x1b")), "no colour codes without a style");
  } finally {
    t.end();
    await exit;
    await logoutConnection(hans);
    await s.close();
  }
});

Deno.test("runClient --json prints one JSON object per event and no prompts", async () => {
  const s = await startTestServer({ clock: tickingClock() });
  const hans = await loginConnection(s, "Hans");
  const t = new ScriptedTerminal();
  const exit = start(s.port, t, { json: true });
  try {
    t.type("Yoda", "wise@!man");
    await t.waitFor(/"type":"ready"/);
    t.type("/nope", "/msgto Hans hi");
    await t.waitFor(/"cmd":"msgto"/);
    await hans.conn.request("p2pvideo", ["Yoda", "clip.mp4", "10", SHA]);
    await t.waitFor(/"ev":"transfer"/);
    t.type("/logout");
    assertEquals(await exit, 0);

    const events = t.output.map((l) => JSON.parse(l));
    assertEquals(events.map((e) => e.type), [
      "response",
      "response",
      "ready",
      "error",
      "response",
      "push",
      "transfer",
      "response",
    ]);
    assertEquals(events[0], { type: "response", cmd: "user", ok: true, code: "ok", lines: [] });
    assertEquals(events[1].cmd, "pass");
    assertEquals(events[1].lines, ["Welcome to TESSENGER!"]);
    assert(!t.output[1].includes("wise@!man"), "the password is never printed");
    assertEquals(events[2].user, "Yoda");
    assert(events[2].commands.includes("history"));
    assertEquals(events[3], {
      type: "error",
      code: "unknown_command",
      message: "Error. Invalid command!",
    });
    assertEquals([events[4].ok, events[4].data.queued], [true, false]);
    assertEquals(events[5].from, "Hans");
    assertEquals(events[5].file, "clip.mp4");
    assert(!("secret" in events[5]), "the transfer secret is not printed");
    assertEquals([events[6].direction, events[6].ok, events[6].peer], ["receive", false, "Hans"]);
    assertEquals(events[7].lines, ["Bye, Yoda!"]);
  } finally {
    t.end();
    await exit;
    await logoutConnection(hans);
    await s.close();
  }
});

Deno.test("runClient reports a lost server and a refused connection", async () => {
  const s = await startTestServer({ clock: tickingClock() });
  const t = new ScriptedTerminal();
  const exit = start(s.port, t);
  t.type("Yoda", "wise@!man");
  await t.waitFor(/^Enter one of the following commands/);
  await s.close();
  assertEquals(await exit, 1);
  assertEquals(t.printed.at(-1), {
    text: "Disconnected from the server: server shutting down",
    error: true,
  });
  t.end();

  const j = new ScriptedTerminal();
  assertEquals(await start(s.port, j, { json: true }), 1);
  const event = JSON.parse(j.output[0]);
  assertEquals(event.type, "error");
  assertEquals(event.code, "connect");
  assertMatch(event.message, new RegExp(`^Cannot connect to 127\\.0\\.0\\.1:${s.port}: `));
  j.end();
});

Deno.test("runClient on a terminal learns who is online and the groups right after login", async () => {
  const s = await startTestServer({ clock: tickingClock() });
  const hans = await loginConnection(s, "Hans");
  const earlier = await loginConnection(s, "Yoda");
  await hans.conn.request("creategroup", ["Jedi", "Yoda"]);
  await logoutConnection(earlier);
  // The same lines, but the client believes a person is typing at a terminal.
  const t = new ScriptedTerminal({ interactive: true });
  const roster = new Roster();
  const exit = runClient({
    host: "127.0.0.1",
    port: s.port,
    udpPort: 0,
    downloadsDir: ".",
    io: t.io,
    roster,
  });
  try {
    t.type("Yoda", "wise@!man");
    await t.waitFor(/^Enter one of the following commands/);
    for (let i = 0; i < 100 && roster.groups.size === 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assertEquals([...roster.users], ["Hans"]);
    assertEquals([...roster.groups], ["Jedi"]);
    assertEquals(roster.completionSource().users, ["Hans"]);
    t.type("/logout");
    assertEquals(await exit, 0);
    // Nothing of the priming requests was printed; the pending invitation was.
    assertEquals(t.output.slice(-1), ["Bye, Yoda!"]);
    assert(
      t.output.includes("Hans invited you to the group chat Jedi: type /joingroup Jedi to join."),
    );
    assertEquals(t.output.length, 4);
  } finally {
    t.end();
    await exit;
    await logoutConnection(hans);
    await s.close();
  }
});

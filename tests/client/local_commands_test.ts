/**
 * The commands the client adds to SPEC's: /r, /query, /help CMD, /quit and
 * /exit, "did you mean", and the length checks made before sending, through
 * the real client against a real server.
 */

import { helpLines, suggestCommand } from "../../client/commands.ts";
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { runMain } from "../../dev/main_process.ts";
import { scriptedClient } from "../helpers/client_session.ts";
import {
  loginConnection,
  logoutConnection,
  startTestServer,
  type TestServer,
  tickingClock,
} from "../helpers/test_server.ts";

const TS = /\d\d \w{3} \d{4} \d\d:\d\d:\d\d/.source;

/** Yoda's client, logged in. */
const yoda = (s: TestServer) => scriptedClient(s, "Yoda");

Deno.test("/r replies to the last user who sent a private message", async () => {
  const s = await startTestServer({ clock: tickingClock() });
  const hans = await loginConnection(s, "Hans");
  const luke = await loginConnection(s, "Luke");
  const { t, exit } = await yoda(s);
  try {
    t.type("/r anyone?");
    await t.waitFor((p) =>
      p.error &&
      p.text === "Nobody has sent you a private message yet: /r replies to the last who did."
    );
    await hans.conn.request("msgto", ["Yoda", "from Hans"]);
    await luke.conn.request("msgto", ["Yoda", "from Luke"]);
    await t.waitFor(new RegExp(`^${TS}, Luke: from Luke$`));
    t.type("/r  hello Luke");
    const push = await luke.nextPush("msg");
    assertEquals(push.ev === "msg" && [push.from, push.text], ["Yoda", " hello Luke"]);
    await t.waitFor(new RegExp(`^message sent at ${TS}\\.$`));
    t.type("/r");
    await t.waitFor((p) => p.error && p.text === "Usage: /r TEXT");
    t.type("/quit");
    assertEquals(await exit, 0);
    assertEquals(t.output.at(-1), "Bye, Yoda!");
  } finally {
    t.end();
    await exit;
    await logoutConnection(hans);
    await logoutConnection(luke);
    await s.close();
  }
});

Deno.test("/query sends plain lines to a user or a group until /query alone", async () => {
  const s = await startTestServer({ clock: tickingClock() });
  const hans = await loginConnection(s, "Hans");
  const { t, exit } = await yoda(s);
  try {
    t.type("just words");
    await t.waitFor((p) =>
      p.error && p.text.startsWith("Error. Invalid command! Commands start with /")
    );
    t.type("/query Hans", "  hi there  ");
    await t.waitFor("Lines without a command now go to Hans. Type /query alone to stop.");
    const push = await hans.nextPush("msg");
    assertEquals(push.ev === "msg" && push.text, "  hi there  ");
    t.type("/creategroup Jedi Hans");
    await hans.nextPush("invite");
    await hans.conn.request("joingroup", ["Jedi"]);
    t.type("/query Jedi", "to the group");
    const group = await hans.nextPush("groupmsg");
    assertEquals(group.ev === "groupmsg" && [group.group, group.text], ["Jedi", "to the group"]);
    t.type("/query", "no target now");
    await t.waitFor("Lines without a command are no longer sent.");
    await t.waitFor((p) => p.error && p.text.startsWith("Error. Invalid command!"));
    t.type("/exit");
    assertEquals(await exit, 0);
  } finally {
    t.end();
    await exit;
    await logoutConnection(hans);
    await s.close();
  }
});

Deno.test("/help lists every command, /help CMD explains one, and a typo gets a suggestion", async () => {
  const s = await startTestServer({ clock: tickingClock() });
  const { t, exit } = await yoda(s);
  try {
    t.type("/help");
    await t.waitFor("Type /help COMMAND for one command.");
    for (const usage of ["/msgto USER TEXT", "/r TEXT", "/query [USER|GROUP]", "/logout"]) {
      assert(t.output.some((l) => l.startsWith(`  ${usage} `)), `${usage} in ${t.output}`);
    }
    t.type("/help logout");
    await t.waitFor("Also typed as /quit or /exit.");
    t.type("/help /msgto");
    await t.waitFor("Send a private message.");
    t.type("/help nope");
    await t.waitFor((p) => p.error && p.text === "No command /nope. Type /help for the list.");
    t.type("/mgsto Hans hi", "/MSGTO Hans hi", "/bogus");
    await t.waitFor((p) => p.error && p.text === "Error. Invalid command! Did you mean /msgto?");
    await t.waitFor((p) => p.error && p.text === "Error. Invalid command!");
    assertEquals(
      t.output.filter((l) => l === "Error. Invalid command! Did you mean /msgto?").length,
      2,
    );
    t.type("/logout");
    assertEquals(await exit, 0);
  } finally {
    t.end();
    await exit;
    await s.close();
  }
});

Deno.test("suggestCommand() and helpLines() follow the command table", () => {
  assertEquals(suggestCommand("msg"), "msgto");
  assertEquals(suggestCommand("joingrop"), "joingroup");
  assertEquals(suggestCommand("Logout"), "logout");
  assertEquals(suggestCommand("qui"), "quit");
  assertEquals(suggestCommand("x"), undefined);
  assertEquals(suggestCommand("nope"), undefined);
  assertEquals(helpLines("joingroup"), {
    ok: true,
    lines: ["Usage: /joingroup GROUP", "Join a group you were invited to."],
  });
  assertEquals(helpLines("msgt").lines, [
    "No command /msgt. Did you mean /msgto? Type /help for the list.",
  ]);
});

Deno.test("a message longer than the server takes, and a piped line over 64 KiB, are refused before sending", async () => {
  const s = await startTestServer({ clock: tickingClock() });
  const hans = await loginConnection(s, "Hans");
  try {
    const long = "y".repeat(5000);
    const huge = "z".repeat(70 * 1024);
    const run = await runMain(["client", "--port", String(s.port)], {
      stdin:
        `Yoda\nwise@!man\n/msgto Hans ${long}\n/creategroup G ${huge}\n/msgto Hans ok\n/logout\n`,
    });
    assertEquals(run.code, 0, run.stderr);
    const errors = run.stderr.trimEnd().split("\n");
    assertEquals(errors.length, 2, run.stderr);
    assertEquals(errors[0], "Message too long: 5000 characters, at most 4000. Nothing was sent.");
    assertMatch(
      errors[1],
      /^Too long to send: 717\d\d bytes, the server reads at most 65536 per command\. Nothing was sent\.$/,
    );
    assertMatch(run.stdout, /Bye, Yoda!/);
    const push = await hans.nextPush("msg");
    assertEquals(push.ev === "msg" && push.text, "ok");
  } finally {
    await logoutConnection(hans);
    await s.close();
  }
});

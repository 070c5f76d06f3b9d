import { assert, assertEquals } from "../../helpers/assert.ts";
import { FrameworkClient } from "../../helpers/irc_framework_client.ts";
import { RawClient } from "../../helpers/raw_client.ts";
import { RawIrcClient } from "../../helpers/raw_irc_client.ts";
import { sleep, startTestServer, TEST_USERS } from "../../helpers/test_server.ts";
import type { IrcMessage } from "../../../server/frontends/irc/message.ts";

Deno.test("an IRC client logs in with PASS and gets the welcome burst", async () => {
  const t = await startTestServer({ irc: { port: 0 } });
  try {
    const c = await RawIrcClient.register(t.server.ircPort!, "Hans", TEST_USERS.Hans);
    const welcome = c.received.find((m) => m.command === "001")!;
    assertEquals(welcome.params, ["Hans", "Welcome to TESSENGER!"]);
    await c.send("QUIT :bye");
    await c.expectCommand("ERROR");
    await c.closed;
    assertEquals(c.refused, []);
  } finally {
    await t.close();
  }
});

Deno.test("irc-framework logs in with SASL PLAIN", async () => {
  const t = await startTestServer({ irc: { port: 0 } });
  try {
    const c = await FrameworkClient.connect({
      port: t.server.ircPort!,
      nick: "hans",
      sasl: { account: "Hans", password: TEST_USERS.Hans },
    });
    assertEquals(c.client.user.nick, "Hans");
    await c.quit();
  } finally {
    await t.close();
  }
});

/** Tries PASS `password` as `nick`; resolves with what the server said before closing. */
async function tryPass(port: number, nick: string, password: string): Promise<IrcMessage[]> {
  const c = await RawIrcClient.connect(port);
  await c.send(`PASS ${password}`, `NICK ${nick}`, `USER ${nick} 0 * :${nick}`);
  await c.closed;
  return c.received;
}

Deno.test("a wrong PASS gets 464 with the seed's wording, and the third blocks the account", async () => {
  const t = await startTestServer({ irc: { port: 0 }, maxAttempts: 3 });
  try {
    const port = t.server.ircPort!;
    for (let i = 1; i <= 3; i++) {
      const lines = await tryPass(port, "Hans", "wrong");
      const refusal = lines.find((m) => m.command === "464");
      assertEquals(
        refusal?.params[1],
        i < 3
          ? "Invalid Password. Please try again"
          : "Invalid Password. Your account has been blocked. Please try again later",
      );
      assertEquals(lines.at(-1)?.command, "ERROR");
    }
    // The block is the native one: the right password is refused on both doors.
    const lines = await tryPass(port, "Hans", TEST_USERS.Hans);
    assertEquals(
      lines.find((m) => m.command === "464")?.params[1],
      "Your account is blocked due to multiple login failures. Please try again later",
    );
    const native = await RawClient.connect(t.port);
    await native.expectOk("hello", ["2"]);
    const res = await native.request("user", ["Hans"]);
    assertEquals(res.code, "blocked");
    await native.close();
  } finally {
    await t.close();
  }
});

Deno.test("an unknown nick with PASS gets 464 with the seed's wording", async () => {
  const t = await startTestServer({ irc: { port: 0 } });
  try {
    const lines = await tryPass(t.server.ircPort!, "Nobody", "pw");
    assertEquals(
      lines.find((m) => m.command === "464")?.params[1],
      "Invalid Username. Please try again",
    );
  } finally {
    await t.close();
  }
});

Deno.test("a wrong SASL password gets 904 and counts towards the lockout", async () => {
  const t = await startTestServer({ irc: { port: 0 }, maxAttempts: 2 });
  try {
    const c = await RawIrcClient.connect(t.server.ircPort!);
    await c.send("CAP LS 302", "CAP REQ :sasl", "NICK Hans", "USER h 0 * :h");
    for (
      const expected of [
        "Invalid Password. Please try again",
        "Invalid Password. Your account has been blocked. Please try again later",
      ]
    ) {
      await c.send("AUTHENTICATE PLAIN");
      await c.expectCommand("AUTHENTICATE");
      await c.send(`AUTHENTICATE ${btoa("\0Hans\0wrong")}`);
      assertEquals((await c.expectCommand("904")).params[1], expected);
    }
    await c.expectCommand("ERROR");
    await c.closed;
  } finally {
    await t.close();
  }
});

Deno.test("a second login of the same user gets 433, on either door", async () => {
  const t = await startTestServer({ irc: { port: 0 } });
  try {
    const native = await RawClient.login(t.port, "Hans", TEST_USERS.Hans);
    const lines = await tryPass(t.server.ircPort!, "Hans", TEST_USERS.Hans);
    assertEquals(
      lines.find((m) => m.command === "433")?.params.at(-1),
      "Hans is already logged in elsewhere. Log out there first.",
    );
    await native.close();
    await sleep(50);
    const irc = await RawIrcClient.register(t.server.ircPort!, "Hans", TEST_USERS.Hans);
    const second = await RawClient.connect(t.port);
    await second.expectOk("hello", ["2"]);
    await second.expectOk("user", ["Hans"]);
    assertEquals((await second.request("pass", [TEST_USERS.Hans, "0"])).code, "already_online");
    await second.close();
    await irc.close();
  } finally {
    await t.close();
  }
});

Deno.test("a client that never registers is closed at the login timeout", async () => {
  const t = await startTestServer({
    irc: { port: 0 },
    clock: "real",
    limits: { loginTimeoutMs: 200 },
    sweepIntervalMs: 20,
  });
  try {
    const c = await RawIrcClient.connect(t.server.ircPort!);
    await c.send("NICK Hans");
    const error = await c.expectCommand("ERROR");
    assert(error.params[0].includes("login timed out"));
    await c.closed;
  } finally {
    await t.close();
  }
});

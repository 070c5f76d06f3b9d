import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { runClient } from "../../client/app.ts";
import { formatTimestamp } from "../../shared/time.ts";
import { RawClient } from "../helpers/raw_client.ts";
import { ScriptedTerminal } from "../helpers/scripted_io.ts";
import { startTestServer, TEST_USERS, type TestServer } from "../helpers/test_server.ts";

function startClient(t: TestServer, term: ScriptedTerminal): Promise<number> {
  return runClient({
    host: "127.0.0.1",
    port: t.port,
    udpPort: 0,
    downloadsDir: t.dataDir,
    io: term.io,
  });
}

Deno.test("the client logs in, runs commands and exits 0 after /logout", async () => {
  const t = await startTestServer();
  try {
    const hans = await RawClient.login(t.port, "Hans", TEST_USERS.Hans);
    const term = new ScriptedTerminal();
    const exit = startClient(t, term);
    term.type("Yoda", "wise@!man");
    await term.waitFor("Welcome to TESSENGER!");
    await term.waitFor(/^Enter one of the following commands \(\/msgto, \/activeuser/);
    term.type("/msgto Hans hello  there");
    await term.waitFor(`message sent at ${formatTimestamp(t.clock.now)}.`);
    assertEquals((await hans.push("msg")).text, "hello  there");
    term.type("/bogus", "/msgto Hans");
    await term.waitFor("Error. Invalid command!");
    await term.waitFor("Usage: /msgto USER TEXT");
    await hans.expectOk("msgto", ["Yoda", "incoming!"]);
    await term.waitFor(`${formatTimestamp(t.clock.now)}, Hans: incoming!`);
    term.type("/logout");
    assertEquals(await exit, 0);
    assert(term.output.includes("Bye, Yoda!"));
    await hans.close();
  } finally {
    await t.close();
  }
});

Deno.test("on a terminal the client asks again after a bad username or password", async () => {
  const t = await startTestServer();
  try {
    const term = new ScriptedTerminal({ interactive: true });
    const exit = startClient(t, term);
    term.type("Vader");
    await term.waitFor("Invalid Username. Please try again");
    term.type("Yoda", "wrong");
    await term.waitFor("Invalid Password. Please try again");
    term.type("wise@!man");
    await term.waitFor("Welcome to TESSENGER!");
    term.type("/logout");
    assertEquals(await exit, 0);
  } finally {
    await t.close();
  }
});

Deno.test("from a script, a wrong username or password ends the login, and the next lines are not sent", async () => {
  const t = await startTestServer({ maxAttempts: 3 });
  try {
    const term = new ScriptedTerminal();
    const exit = startClient(t, term);
    term.type("Obiwan", "bad", "/msgto Hans x", "/logout");
    assertEquals(await exit, 1);
    assertEquals(term.printed, [
      { text: "Invalid Password. Please try again", error: true },
      {
        text: "Login failed: wrong password. Input is not a terminal, so it is not asked again.",
        error: true,
      },
    ]);
    const unknown = new ScriptedTerminal();
    const exit2 = startClient(t, unknown);
    unknown.type("Obi", "hellothere");
    assertEquals(await exit2, 1);
    assertEquals(unknown.output, [
      "Invalid Username. Please try again",
      "Login failed: wrong username. Input is not a terminal, so it is not asked again.",
    ]);
    // One failure, not three: the account is not blocked.
    const again = new ScriptedTerminal();
    const exit3 = startClient(t, again);
    again.type("Obiwan", "hellothere", "/logout");
    assertEquals(await exit3, 0);
    assert(again.output.includes("Welcome to TESSENGER!"), JSON.stringify(again.output));
  } finally {
    await t.close();
  }
});

Deno.test("the client exits non-zero when the account gets blocked, and when it is blocked", async () => {
  const t = await startTestServer({ maxAttempts: 1 });
  try {
    const term = new ScriptedTerminal();
    const exit = startClient(t, term);
    term.type("Luke", "wrong");
    assertEquals(await exit, 1);
    assertEquals(term.output, [
      "Invalid Password. Your account has been blocked. Please try again later",
      "Try again in 10 seconds.",
    ]);
    const again = new ScriptedTerminal();
    const exit2 = startClient(t, again);
    again.type("Luke", "jedi*knight");
    assertEquals(await exit2, 1);
    assertEquals(again.output.slice(0, 1), [
      "Your account is blocked due to multiple login failures. Please try again later",
    ]);
    assertMatch(again.output[1], /^Try again in (9|10) seconds\.$/);
  } finally {
    await t.close();
  }
});

Deno.test("the client says so and exits 1 when the server goes away", async () => {
  const t = await startTestServer();
  let closed = false;
  try {
    const term = new ScriptedTerminal();
    const exit = startClient(t, term);
    term.type("Yoda", "wise@!man");
    await term.waitFor("Welcome to TESSENGER!");
    await t.server.close();
    closed = true;
    assertEquals(await exit, 1);
    await term.waitFor(/^Disconnected from the server/);
  } finally {
    if (closed) await Deno.remove(t.dataDir, { recursive: true });
    else await t.close();
  }
});

Deno.test("at the end of piped input the client logs out cleanly", async () => {
  const t = await startTestServer();
  try {
    const term = new ScriptedTerminal();
    const exit = startClient(t, term);
    term.type("Hans", "falcon*solo", "/activeuser");
    term.end();
    assertEquals(await exit, 0);
    assert(term.output.includes("no other active user"));
    assert(term.output.includes("Bye, Hans!"));
  } finally {
    await t.close();
  }
});

Deno.test("the client reports a server it cannot reach and exits 1", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const term = new ScriptedTerminal();
  const code = await runClient({
    host: "127.0.0.1",
    port,
    udpPort: 0,
    downloadsDir: ".",
    io: term.io,
  });
  assertEquals(code, 1);
  assert(term.output[0].startsWith(`Cannot connect to 127.0.0.1:${port}`));
});

Deno.test("an IPv6 server address is written in brackets, apart from its port", async () => {
  const term = new ScriptedTerminal();
  const code = await runClient({
    host: "::1",
    port: 1,
    udpPort: 0,
    downloadsDir: ".",
    io: term.io,
  });
  assertEquals(code, 1);
  assert(term.output[0].startsWith("Cannot connect to [::1]:1: "), term.output[0]);
});

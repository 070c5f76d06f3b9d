/**
 * Auto-reconnect through the real client: the server stops and comes back on
 * the same port; the client logs back in with the password it kept in memory,
 * nothing is shown twice and nothing is lost. And when it must not try again.
 */

import { reconnectDelay, shouldReconnect } from "../../client/reconnect.ts";
import { assert, assertEquals } from "../helpers/assert.ts";
import { scriptedClient } from "../helpers/client_session.ts";
import type { ScriptedTerminal } from "../helpers/scripted_io.ts";
import {
  loginConnection,
  logoutConnection,
  startTestServer,
  type TestServer,
  tickingClock,
} from "../helpers/test_server.ts";

const FAST = { first: 200, max: 400 };

/** Yoda's client, logged in, reconnecting (or not) with short waits. */
const yoda = (s: TestServer, reconnect = true) =>
  scriptedClient(s, "Yoda", { reconnect, reconnectDelays: FAST });

/** How many printed lines end with `text`. */
function count(t: ScriptedTerminal, text: string): number {
  return t.output.filter((l) => l.endsWith(text)).length;
}

Deno.test("after the server restarts the client logs back in; what was missed arrives once, nothing twice", async () => {
  const s = await startTestServer({ clock: tickingClock() });
  const { t, exit } = await yoda(s);
  try {
    t.type("/away on a walk");
    await t.waitFor("You are marked as away: on a walk");
    let hans = await loginConnection(s, "Hans");
    await hans.conn.request("msgto", ["Yoda", "before the restart"]);
    await t.waitFor((p) => p.text.endsWith("Hans: before the restart"));
    await s.stop();
    await t.waitFor("Disconnected from the server: server shutting down. Reconnecting...");
    await t.waitFor(/^Cannot log back in yet \(.*\); trying again in about 0 s\. \/quit stops\.$/);
    // Typed while offline: refused, and the client's own commands still answer.
    t.type("/msgto Hans lost?", "/help r");
    await t.waitFor("Not connected to the server: reconnecting. /quit stops.");
    await t.waitFor("Usage: /r TEXT");
    await s.start();
    // A message sent while Yoda is away is queued, then delivered at the new login.
    hans = await loginConnection(s, "Hans");
    await hans.conn.request("msgto", ["Yoda", "while you were out"]);
    await t.waitFor("Reconnected: logged in again as Yoda.", 10_000);
    await t.waitFor((p) => p.text.endsWith("Hans: while you were out"));
    // The away text came back with the session.
    const msg = await hans.conn.request("msgto", ["Yoda", "after the restart"]);
    assertEquals(msg.lines.slice(1), ["Yoda is away: on a walk"]);
    await t.waitFor((p) => p.text.endsWith("Hans: after the restart"));
    t.type("/msgto Hans I am back");
    const back = await hans.nextPush("msg");
    assertEquals(back.ev === "msg" && back.text, "I am back");
    for (const text of ["before the restart", "while you were out", "after the restart"]) {
      assertEquals(count(t, `Hans: ${text}`), 1, `${text}: ${JSON.stringify(t.output)}`);
    }
    t.type("/logout");
    assertEquals(await exit, 0);
    assertEquals(t.output.at(-1), "Bye, Yoda!");
    await logoutConnection(hans);
  } finally {
    t.end();
    await exit;
    await s.close();
  }
});

Deno.test("a changed password stops the reconnecting with a clear line and exit 1", async () => {
  const s = await startTestServer({ clock: tickingClock() });
  const { t, exit } = await yoda(s);
  try {
    await s.stop();
    await t.waitFor(/Reconnecting\.\.\.$/);
    // The operator changes Yoda's password while the server is down.
    await Deno.writeTextFile(
      `${s.dataDir}/credentials.txt`,
      Object.entries({ ...s.users, Yoda: "new*password" }).map(([u, p]) => `${u} ${p}\n`).join(""),
    );
    await s.start();
    assertEquals(await exit, 1);
    assertEquals(t.printed.at(-1), {
      text: "Cannot log back in: Invalid Password. Please try again",
      error: true,
    });
  } finally {
    t.end();
    await exit;
    await s.close();
  }
});

Deno.test("/quit while reconnecting ends the client with exit 0; without --reconnect a lost server ends it", async () => {
  const s = await startTestServer({ clock: tickingClock() });
  const first = await yoda(s);
  await s.stop();
  await first.t.waitFor(/Reconnecting\.\.\.$/);
  first.t.type("/quit");
  assertEquals(await first.exit, 0);
  assertEquals(first.t.output.at(-1), "Bye, Yoda!");
  await s.start();
  const second = await yoda(s, false);
  await s.stop();
  assertEquals(await second.exit, 1);
  assertEquals(second.t.output.at(-1), "Disconnected from the server: server shutting down");
  second.t.end();
  await s.close();
});

Deno.test("reconnect waits double up to the cap, and a logout or a block is never retried", () => {
  const delays = { first: 1000, max: 30_000 };
  assertEquals([1, 2, 3, 5, 6, 40].map((a) => reconnectDelay(a, delays, () => 0)), [
    1000,
    2000,
    4000,
    16_000,
    30_000,
    30_000,
  ]);
  assertEquals(reconnectDelay(1, delays, () => 1), 800);
  for (const reason of ["logout", "blocked", "too many requests"]) assert(!shouldReconnect(reason));
  for (
    const reason of ["server shutting down", "idle timeout", "The server closed the connection."]
  ) {
    assert(shouldReconnect(reason), reason);
  }
});

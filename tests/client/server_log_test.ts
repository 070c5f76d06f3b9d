/**
 * What the server's log says about a client session: the requests the client
 * makes on its own (the names it learns for completion) are not logged as the
 * user's commands, and no message text is logged.
 */

import { runClient } from "../../client/app.ts";
import { assertEquals } from "../helpers/assert.ts";
import { ScriptedTerminal } from "../helpers/scripted_io.ts";
import {
  loginConnection,
  logoutConnection,
  startTestServer,
  tickingClock,
} from "../helpers/test_server.ts";

/** A logger that keeps `level message` lines, with the properties filled in. */
function recordingLog(lines: string[]) {
  const record = (level: string) => (message: string, props: Record<string, unknown> = {}) => {
    lines.push(`${level} ${message.replace(/\{(\w+)\}/g, (_, k) => String(props[k]))}`);
  };
  // deno-lint-ignore no-explicit-any
  const log: any = new Proxy({}, {
    get: (_, name) =>
      ["trace", "debug", "info", "warn", "warning", "error", "fatal"].includes(String(name))
        ? record(String(name))
        : () => log,
  });
  return log;
}

Deno.test("the server does not log the client's own /activeuser and /groups, nor message text", async () => {
  const lines: string[] = [];
  const s = await startTestServer({ clock: tickingClock(), log: recordingLog(lines) });
  const hans = await loginConnection(s, "Hans");
  const t = new ScriptedTerminal({ interactive: true });
  const exit = runClient({
    host: "127.0.0.1",
    port: s.port,
    udpPort: 0,
    downloadsDir: ".",
    io: t.io,
  });
  try {
    t.type("Yoda", "wise@!man");
    await t.waitFor(/^Enter one of the following commands/);
    t.type("/msgto Hans a secret plan", "/activeuser");
    await t.waitFor(/^Hans, 127\.0\.0\.1/);
    t.type("/logout");
    assertEquals(await exit, 0);
    const issued = lines.filter((l) => l.startsWith("info Yoda issued"));
    assertEquals(issued, [
      "info Yoda issued /msgto command",
      "info Yoda issued /activeuser command",
      "info Yoda issued /logout command",
    ]);
    assertEquals(lines.filter((l) => l.includes("secret plan")), []);
    assertEquals(lines.filter((l) => l.includes("asked by the client itself")).length, 2);
  } finally {
    t.end();
    await exit;
    await logoutConnection(hans);
    await s.close();
  }
});

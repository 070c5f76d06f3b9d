/**
 * The client in a real terminal emulator (tmux) at 40 and 140 columns: what a
 * person sees on the screen and in the scrollback. Skipped where tmux is
 * missing (`.ci/run` installs it).
 */

import { assert, assertEquals } from "../helpers/assert.ts";
import {
  type LoggedInConnection,
  loginConnection,
  logoutConnection,
  startTestServer,
  type TestServer,
  type TestServerOptions,
  tickingClock,
} from "../helpers/test_server.ts";
import { hasTmux, TmuxClient } from "../helpers/tmux.ts";

const TMUX = hasTmux();
const WIDTHS = [40, 140];

/** What each screen test gets: a server, Hans logged in on the protocol, Yoda's client. */
interface Screen {
  s: TestServer;
  hans: LoggedInConnection;
  /** The client, logged in as Yoda, in a terminal of the test's width. */
  t: TmuxClient;
  columns: number;
}

/**
 * A test per terminal width, skipped (saying why) without tmux; everything it
 * starts is stopped afterwards.
 */
function screenTest(
  name: string,
  fn: (screen: Screen) => Promise<void>,
  options: Pick<TestServerOptions, "clock"> = { clock: tickingClock() },
): void {
  for (const columns of WIDTHS) {
    Deno.test({
      name: TMUX ? `${name} (${columns} columns)` : `${name} (skipped: tmux is not installed)`,
      ignore: !TMUX,
      async fn() {
        const s = await startTestServer(options);
        const hans = await loginConnection(s, "Hans");
        const t = await TmuxClient.start({
          columns,
          args: ["client", "--port", String(s.port)],
          env: { NO_COLOR: "1" },
        });
        try {
          await t.waitFor("Username:");
          await t.line("Yoda");
          await t.waitFor("Password:");
          await t.line("wise@!man");
          await t.waitFor("Enter one of the following commands");
          await fn({ s, hans, t, columns });
        } finally {
          await t.close();
          await logoutConnection(hans);
          await s.close();
        }
      },
    });
  }
}

screenTest(
  "a message that arrives while a draft wider than the terminal is typed is shown above it, and the draft stays whole",
  async ({ hans, t, columns }) => {
    const draft = "a".repeat(columns + 10) + "b".repeat(columns) + "z";
    await t.type(draft);
    await t.waitFor(/z$/, { screen: true });
    await hans.conn.request("msgto", ["Yoda", "first incoming"]);
    await t.waitFor("Hans: first incoming");
    await hans.conn.request("msgto", ["Yoda", "second incoming"]);
    await t.waitFor("Hans: second incoming");
    // The messages, then the prompt with the whole draft, and nothing else.
    const screen = (await t.screen()).filter((l) => l !== "");
    assertEquals(screen.slice(-3).map((l) => l.replace(/^.*, Hans: /, "Hans: ")), [
      "Hans: first incoming",
      "Hans: second incoming",
      `> ${draft}`,
    ]);
    assertEquals(screen.filter((l) => l.includes("aaaa")).length, 1, screen.join("\n"));
    // The draft is sent as typed.
    await t.press("C-u");
    await t.line("/logout");
    assertEquals(await t.waitForExit(), 0);
    const transcript = await t.transcript();
    assert(transcript.some((r) => r.endsWith("Hans: first incoming")), transcript.join("\n"));
    assert(transcript.some((r) => r.endsWith("Hans: second incoming")), transcript.join("\n"));
  },
);

screenTest(
  "a 20 kB paste appears at once, and a message that long is refused before anything is sent",
  async ({ hans, t }) => {
    // Key by key, readline took minutes for this (it measures the whole draft per key).
    const text = "x".repeat(20_000) + "END";
    await t.paste(`/msgto Hans ${text}`);
    await t.waitFor(/xEND$/, { screen: true, timeoutMs: 10_000 });
    await t.press("Enter");
    await t.waitFor("Message too long: 20003 characters, at most 4000. Nothing was sent.");
    await t.line("/msgto Hans short one");
    const push = await hans.nextPush("msg");
    assertEquals(push.ev === "msg" && push.text, "short one");
    await t.line("/logout");
    assertEquals(await t.waitForExit(), 0);
  },
);

screenTest(
  "Ctrl-C drops a half-typed line and keeps the session; at an empty prompt it logs out, the goodbye on its own line",
  async ({ t }) => {
    await t.type("/msgto Hans half typed");
    await t.waitFor("> /msgto Hans half typed", { screen: true });
    await t.press("C-c");
    await t.waitFor("> /msgto Hans half typed^C");
    await t.line("/activeuser");
    await t.waitFor(/^Hans, 127\.0\.0\.1/);
    await t.press("C-c");
    assertEquals(await t.waitForExit(), 0);
    const lines = (await t.transcript()).filter((l) => l !== "");
    assertEquals(lines.slice(-2), [">", "Bye, Yoda!"]);
  },
);

screenTest(
  "transfer progress shows beside the prompt but never stays in the scrollback",
  async ({ hans, t }) => {
    // Announced, never sent: the progress stays up until the logout cancels it.
    const size = String(100 * 1024 * 1024);
    await hans.conn.request("p2pvideo", ["Yoda", "clip.mp4", size, "0".repeat(64)]);
    await t.waitFor(/^\[↓ clip\.mp4: .*\] >$/, { screen: true });
    await t.line("/activeuser");
    await t.waitFor(/^Hans, 127\.0\.0\.1/);
    await t.waitFor(/^\[↓ clip\.mp4: .*\] >$/, { screen: true });
    await t.line("/logout");
    assertEquals(await t.waitForExit(), 0);
    const lines = await t.transcript();
    assert(lines.includes("> /activeuser"), lines.join("\n"));
    assert(lines.includes("> /logout"), lines.join("\n"));
    assertEquals(lines.filter((l) => l.includes("↓")), [], lines.join("\n"));
  },
);

screenTest(
  "messages of today show HH:MM on the screen",
  async ({ hans, t }) => {
    // The server's clock is the real one: the message is of today.
    await hans.conn.request("msgto", ["Yoda", "hello yoda, still there?"]);
    const lines = await t.waitFor("Hans: hello yoda");
    const line = lines.find((l) => l.includes("Hans: hello yoda"))!;
    assert(/^\d\d:\d\d, Hans: hello yoda, still there\?$/.test(line), line);
    await t.line("/logout");
    assertEquals(await t.waitForExit(), 0);
  },
  { clock: "real" },
);

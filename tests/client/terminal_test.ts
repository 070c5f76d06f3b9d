/**
 * The client on a real pseudo-terminal (through util-linux `script`): Tab
 * completion from what the server told it, colours, and NO_COLOR. Skipped
 * where `script` is missing (it is on Linux).
 */

import { assert } from "../helpers/assert.ts";
import { mainArgs } from "../../dev/main_process.ts";
import {
  loginConnection,
  logoutConnection,
  startTestServer,
  tickingClock,
} from "../helpers/test_server.ts";
import { hasScript } from "../helpers/tools.ts";

// deno-lint-ignore no-control-regex
const SGR = /\x1b\[[0-9;]*m/;

const SCRIPT = hasScript();

/** The client under `script`, with its terminal output collected. */
class PtyClient {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #reading: Promise<void>;
  output = "";

  constructor(port: number, env: Record<string, string>) {
    const command = [
      Deno.execPath(),
      ...mainArgs(["client", "--port", String(port)]),
    ]
      .map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(" ");
    const keep = ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME"].flatMap((k) => {
      const v = Deno.env.get(k);
      return v === undefined ? [] : [[k, v]];
    });
    this.#child = new Deno.Command("script", {
      args: ["-q", "-e", "-c", command, "/dev/null"],
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
      clearEnv: true,
      env: { ...Object.fromEntries(keep), ...env },
    }).spawn();
    this.#writer = this.#child.stdin.getWriter();
    const stdout = this.#child.stdout;
    this.#reading = (async () => {
      for await (const chunk of stdout.pipeThrough(new TextDecoderStream())) {
        this.output += chunk;
      }
    })();
  }

  async type(text: string): Promise<void> {
    await this.#writer.write(new TextEncoder().encode(text));
  }

  /** Waits until the output (with colour codes removed) matches. */
  async waitFor(pattern: RegExp | string, timeoutMs = 10_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (true) {
      // deno-lint-ignore no-control-regex
      const plain = this.output.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "");
      if (typeof pattern === "string" ? plain.includes(pattern) : pattern.test(plain)) return;
      if (Date.now() > end) {
        throw new Error(`Timed out waiting for ${pattern}; got ${JSON.stringify(this.output)}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Waits for the client to exit; kills it after `timeoutMs`. */
  async close(timeoutMs = 10_000): Promise<number> {
    const timer = setTimeout(() => this.#child.kill(), timeoutMs);
    try {
      await this.#writer.close().catch(() => {});
      const status = await this.#child.status;
      await this.#reading;
      return status.code;
    } finally {
      clearTimeout(timer);
    }
  }
}

Deno.test({
  name: SCRIPT
    ? "on a terminal, Tab completes commands, users and groups, and lines are coloured"
    : "on a terminal, Tab completes ... (skipped: util-linux script is not available)",
  ignore: !SCRIPT,
  async fn() {
    const s = await startTestServer({ clock: tickingClock() });
    const hans = await loginConnection(s, "Hans");
    const before = await loginConnection(s, "Yoda");
    await hans.conn.request("creategroup", ["Jedi", "Yoda"]);
    await logoutConnection(before);
    const pty = new PtyClient(s.port, { TERM: "xterm" });
    try {
      await pty.waitFor("Username: ");
      await pty.type("Yoda\r");
      await pty.waitFor("Password: ");
      await pty.type("wise@!man\r");
      await pty.waitFor("Enter one of the following commands");
      // Answered after the client's own priming requests, which go first.
      await pty.type("/groups\r");
      await pty.waitFor("Jedi: invited by Hans");

      // Readline completes only on a Tab that ends a chunk of input (a paste
      // never completes), so each Tab is typed alone, after its echo.
      await pty.type("/joing");
      await pty.waitFor("> /joing");
      await pty.type("\t");
      await pty.waitFor("> /joingroup ");
      await pty.type("J");
      await pty.waitFor("> /joingroup J");
      await pty.type("\t");
      await pty.waitFor("> /joingroup Jedi ");
      await pty.type("\r");
      await pty.waitFor("Joined the group chat: Jedi successfully.");
      await pty.type("/msgto Ha");
      await pty.waitFor("> /msgto Ha");
      await pty.type("\t");
      await pty.waitFor("> /msgto Hans ");
      // Typed at once: the second line comes while the first is in flight.
      await pty.type("hello from a terminal\r/nope\r");
      const push = await hans.nextPush("msg");
      assert(push.ev === "msg" && push.text === "hello from a terminal", JSON.stringify(push));
      await pty.waitFor("Error. Invalid command!");
      await pty.type("/logout\r");
      await pty.waitFor("Bye, Yoda!");
      assert(pty.output.includes("\x1b[33mWelcome to TESSENGER!\x1b[0m"), pty.output);
      assert(!/Password: \S*\r\n\r\n/.test(pty.output), "no blank line after the password");
      assert(!pty.output.includes("wise@!man"), "the password is not echoed");
      assert(pty.output.includes("\x1b[31mError. Invalid command!\x1b[0m"), pty.output);
      assert(pty.output.includes("\x1b[1;35mJedi\x1b[0m"), pty.output);
    } finally {
      await pty.close();
      await logoutConnection(hans);
      await s.close();
    }
  },
});

Deno.test({
  name: SCRIPT
    ? "on a terminal with NO_COLOR set, nothing is coloured"
    : "on a terminal with NO_COLOR set ... (skipped: util-linux script is not available)",
  ignore: !SCRIPT,
  async fn() {
    const s = await startTestServer({ clock: tickingClock() });
    const pty = new PtyClient(s.port, { TERM: "xterm", NO_COLOR: "1" });
    try {
      await pty.waitFor("Username: ");
      await pty.type("Yoda\r");
      await pty.waitFor("Password: ");
      await pty.type("wise@!man\r");
      await pty.waitFor("Enter one of the following commands");
      await pty.type("/nope\r");
      await pty.waitFor("Error. Invalid command!");
      await pty.type("/logout\r");
      await pty.waitFor("Bye, Yoda!");
      assert(!SGR.test(pty.output), JSON.stringify(pty.output));
    } finally {
      await pty.close();
      await s.close();
    }
  },
});

Deno.test({
  name: SCRIPT
    ? "on a terminal, a message that names the reader rings the bell and highlights the name"
    : "on a terminal, a message that names the reader ... (skipped: util-linux script is not available)",
  ignore: !SCRIPT,
  async fn() {
    const s = await startTestServer({ clock: tickingClock() });
    const hans = await loginConnection(s, "Hans");
    const pty = new PtyClient(s.port, { TERM: "xterm" });
    try {
      await pty.waitFor("Username: ");
      await pty.type("Yoda\r");
      await pty.waitFor("Password: ");
      await pty.type("wise@!man\r");
      await pty.waitFor("Enter one of the following commands");
      await hans.conn.request("msgto", ["Yoda", "no names here"]);
      await pty.waitFor("no names here");
      assert(!pty.output.includes("\x07"), "no bell without a mention");
      await hans.conn.request("msgto", ["Yoda", "hey @yoda, look"]);
      await pty.waitFor("look");
      assert(pty.output.includes("hey @\x1b[1;7myoda\x1b[0m, look"), JSON.stringify(pty.output));
      assert(pty.output.includes("\x07"), "the bell rang");
      await pty.type("/logout\r");
      await pty.waitFor("Bye, Yoda!");
    } finally {
      await pty.close();
      await logoutConnection(hans);
      await s.close();
    }
  },
});

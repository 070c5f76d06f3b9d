/**
 * The real client in a real terminal emulator: a detached tmux session of a
 * given size, driven with `send-keys`, read back with `capture-pane` (the
 * screen and its scrollback, as a person would see them). Each session has its
 * own tmux server socket, killed on close.
 *
 * @module
 */

import { mainArgs } from "../../dev/main_process.ts";
import { canRun } from "./tools.ts";

/** Whether tmux can be run here (`.ci/run` installs it). */
export function hasTmux(): boolean {
  return canRun("tmux", ["-V"]);
}

/** Quotes one word for `sh`. */
function shellWord(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** How a {@link TmuxClient} starts. */
export interface TmuxOptions {
  /** The terminal's size. */
  columns: number;
  rows?: number;
  /** Arguments of `main.ts`, e.g. `["client", "--port", "5000"]`. */
  args: string[];
  /** Environment of the client (besides PATH, HOME and Deno's cache dirs). Default TERM=xterm. */
  env?: Record<string, string>;
}

let sessions = 0;

/** `tessenger client` (or any `main.ts` subcommand) in a tmux pane. */
export class TmuxClient {
  readonly #socket: string;
  /** Where the shell writes the program's exit status when it ends. */
  readonly #statusFile: string;

  private constructor(socket: string, statusFile: string) {
    this.#socket = socket;
    this.#statusFile = statusFile;
  }

  /** Starts the program in a new detached session of the given size. */
  static async start(options: TmuxOptions): Promise<TmuxClient> {
    const socket = `tessenger-test-${Deno.pid}-${++sessions}`;
    const keep = ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME"].flatMap((k) => {
      const v = Deno.env.get(k);
      return v === undefined ? [] : [`${k}=${v}`];
    });
    const env = Object.entries({ TERM: "xterm", ...options.env }).map(([k, v]) => `${k}=${v}`);
    const statusFile = await Deno.makeTempFile({ prefix: "tessenger-tmux-status-" });
    const command = ["env", "-i", ...keep, ...env, Deno.execPath(), ...mainArgs(options.args)]
      .map(shellWord).join(" ") + `; echo $? > ${shellWord(statusFile)}`;
    const t = new TmuxClient(socket, statusFile);
    await t.#tmux(
      "new-session",
      "-d",
      "-x",
      String(options.columns),
      "-y",
      String(options.rows ?? 24),
      "-s",
      "t",
      command,
      ";",
      "set-option",
      "-t",
      "t",
      "remain-on-exit",
      "on",
      ";",
      "set-option",
      "-t",
      "t",
      "history-limit",
      "5000",
    );
    return t;
  }

  async #tmux(...args: string[]): Promise<string> {
    return await this.#tmuxWithInput(undefined, ...args);
  }

  async #tmuxWithInput(input: string | undefined, ...args: string[]): Promise<string> {
    const child = new Deno.Command("tmux", {
      args: ["-L", this.#socket, ...args],
      stdin: input === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    if (input !== undefined) {
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(input));
      await writer.close();
    }
    const out = await child.output();
    if (!out.success) {
      throw new Error(`tmux ${args[0]} failed: ${new TextDecoder().decode(out.stderr).trim()}`);
    }
    return new TextDecoder().decode(out.stdout);
  }

  /** Types text literally (no key names), as one burst like a paste. */
  async type(text: string): Promise<void> {
    await this.#tmux("send-keys", "-t", "t", "-l", text);
  }

  /** Types a line and presses Enter. */
  async line(text: string): Promise<void> {
    await this.type(text);
    await this.press("Enter");
  }

  /** Pastes text as a terminal does (through a tmux buffer, line ends as CR). */
  async paste(text: string): Promise<void> {
    await this.#tmuxWithInput(text, "load-buffer", "-b", "paste", "-");
    await this.#tmux("paste-buffer", "-d", "-b", "paste", "-t", "t");
  }

  /** Presses keys by tmux name: `Enter`, `C-c`, `C-d`, `Tab`. */
  async press(...keys: string[]): Promise<void> {
    await this.#tmux("send-keys", "-t", "t", ...keys);
  }

  /**
   * The visible screen, one string per line (rows the terminal wrapped are
   * joined), trailing spaces trimmed.
   */
  async screen(): Promise<string[]> {
    return (await this.#tmux("capture-pane", "-p", "-J", "-t", "t")).replace(/\n+$/, "")
      .split("\n").map((l) => l.trimEnd());
  }

  /**
   * The scrollback and the screen, rows joined where the terminal wrapped
   * them (without tmux's own "Pane is dead" line).
   */
  async transcript(): Promise<string[]> {
    const text = await this.#tmux("capture-pane", "-p", "-J", "-S", "-", "-E", "-", "-t", "t");
    return text.replace(/\n+$/, "").split("\n").map((l) => l.trimEnd())
      .filter((l) => !l.startsWith("Pane is dead"));
  }

  /** Waits until the transcript (or the screen) has a row matching `pattern`. */
  async waitFor(
    pattern: RegExp | string,
    options: { timeoutMs?: number; screen?: boolean } = {},
  ): Promise<string[]> {
    const end = Date.now() + (options.timeoutMs ?? 10_000);
    const test = (row: string) =>
      typeof pattern === "string" ? row.includes(pattern) : pattern.test(row);
    while (true) {
      const rows = options.screen ? await this.screen() : await this.transcript();
      if (rows.some(test)) return rows;
      if (Date.now() > end) {
        throw new Error(
          `Timed out waiting for ${pattern}; the terminal shows:\n${rows.join("\n")}`,
        );
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** The program's exit status once it has ended, or undefined while it runs. */
  async exitStatus(): Promise<number | undefined> {
    const text = await Deno.readTextFile(this.#statusFile);
    return text.endsWith("\n") ? Number(text) : undefined;
  }

  /** Waits for the program to end and returns its exit status. */
  async waitForExit(timeoutMs = 10_000): Promise<number> {
    const end = Date.now() + timeoutMs;
    while (true) {
      const status = await this.exitStatus();
      if (status !== undefined) return status;
      if (Date.now() > end) {
        const rows = await this.transcript();
        throw new Error(`Timed out waiting for the program to exit; it shows:\n${rows.join("\n")}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Kills the session and its tmux server. */
  async close(): Promise<void> {
    await this.#tmux("kill-server").catch(() => {});
    await Deno.remove(this.#statusFile).catch(() => {});
  }
}

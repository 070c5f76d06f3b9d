/**
 * The client's terminal: prompts, hidden password entry, and printing of
 * incoming lines without garbling what the user is typing. Two forms: an
 * interactive terminal (node:readline) and plain lines (a pipe, a script, a test).
 *
 * @module
 */

import { EventEmitter } from "node:events";
import * as readline from "node:readline";
import process from "node:process";

/** What the client needs from its terminal. */
export interface ClientIO {
  /** Asks for one line; null at end of input. */
  readLine(prompt: string, options?: { secret?: boolean }): Promise<string | null>;
  /** Prints a line above whatever is being typed. */
  print(text: string): void;
  /** Prints an error line. */
  error(text: string): void;
  /** Shows a status (transfer progress) beside the prompt; undefined clears it. Terminals only. */
  setStatus?(text: string | undefined): void;
  /** Rings the terminal's bell (someone mentioned the user). Terminals only. */
  bell?(): void;
  /** True when a person is typing at a terminal. */
  readonly interactive: boolean;
  /**
   * True once input ended by an interrupt (Ctrl-C) rather than by its end (Ctrl-D, a
   * pipe's end): running transfers are then stopped, not waited for.
   */
  readonly interrupted?: boolean;
  close(): void;
}

/** Reads lines from any byte stream (stdin on a pipe); prints to a callback. */
export class LineIO implements ClientIO {
  readonly interactive = false;
  #interrupted = false;
  #interrupt: (() => void) | undefined;
  readonly #lines: AsyncIterator<string>;
  readonly #out: (text: string) => void;
  readonly #err: (text: string) => void;

  constructor(
    input: AsyncIterable<string>,
    out: (text: string) => void,
    err: (text: string) => void = out,
  ) {
    this.#lines = input[Symbol.asyncIterator]();
    this.#out = out;
    this.#err = err;
  }

  get interrupted(): boolean {
    return this.#interrupted;
  }

  async readLine(): Promise<string | null> {
    if (this.#interrupted) return null;
    const interrupted = new Promise<null>((resolve) => this.#interrupt = () => resolve(null));
    const next = await Promise.race([this.#lines.next(), interrupted]);
    this.#interrupt = undefined;
    return next === null || next.done ? null : next.value;
  }

  /** Ends input as an interrupt (SIGINT): the line being read comes back null. */
  interrupt(): void {
    this.#interrupted = true;
    this.#interrupt?.();
  }

  print(text: string): void {
    this.#out(text);
  }

  error(text: string): void {
    this.#err(text);
  }

  close(): void {
    this.#lines.return?.();
  }
}

export { linesOf } from "../shared/lines.ts";

/** Options of a {@link TerminalIO}. */
export interface TerminalOptions {
  /** Tab completion: the line so far → candidates and the part they complete. */
  completer?: (line: string) => [string[], string];
  /** Lines kept for the up/down arrows. */
  historySize?: number;
}

/** What TerminalIO uses of node's readline beyond its documented API. */
interface ReadlineInternals {
  /**
   * The row of the cursor within the prompt and draft, as readline believes it
   * drew them; it moves up this many rows to redraw. Readline does not update
   * it when inserted text wraps, so TerminalIO sets it before every redraw.
   */
  prevRows?: number;
}

/** Text every character of which is one column wide: letters, digits, Latin punctuation. */
const NARROW_TEXT = /^[\x20-\x7e\u00a0-\u00ac\u00ae-\u02ff]*$/;

/**
 * Makes readline measure narrow text by its length. Readline measures the
 * prompt and the whole draft, character by character, several times for every
 * key and paste, which is slow for a long draft. Text that is not all narrow,
 * and a readline without the internal method, keep readline's own measure.
 */
function measureNarrowTextFast(rl: readline.Interface): void {
  let proto: object | null = rl;
  while (proto !== null) {
    for (const key of Object.getOwnPropertySymbols(proto)) {
      const measure = (proto as Record<symbol, unknown>)[key];
      if (key.description !== "_getDisplayPos" || typeof measure !== "function") continue;
      const columns = () => (rl as unknown as { columns: number }).columns;
      Object.defineProperty(rl, key, {
        value: (text: string) => {
          const width = columns();
          if (!NARROW_TEXT.test(text) || !(width > 0) || !Number.isFinite(width)) {
            return measure.call(rl, text);
          }
          const cols = text.length % width;
          return { cols, rows: (text.length - cols) / width };
        },
      });
      return;
    }
    proto = Object.getPrototypeOf(proto);
  }
}

/**
 * Runs of text that readline can insert at once (`Interface.write`): anything
 * but control characters, Tab included. CR and LF go through readline's key
 * handling, which pairs a CR LF into one Enter.
 */
// deno-lint-ignore no-control-regex
const TEXT_RUN = /[^\x00-\x08\x0a-\x1f\x7f]{2,}|[^]/g;

/**
 * The keyboard as readline sees it: stdin's text, except that runs of plain
 * text (a paste) are inserted in one go instead of key by key (readline
 * measures the whole draft for every key, which made a 4 kB paste take
 * seconds), and that while a password is asked for the keys go to
 * {@link KeyboardInput.secret} instead.
 */
class KeyboardInput extends EventEmitter {
  readonly isTTY = true;
  readonly #decoder = new TextDecoder();
  /** The last chunk ended inside what may be an escape sequence (an arrow key). */
  #escapeOpen = false;
  readonly #onData = (chunk: Uint8Array) =>
    this.route(this.#decoder.decode(chunk, { stream: true }));
  readonly #onEnd = () => this.emit("end");
  /** Inserts a run of plain text into the draft. */
  insert: (text: string) => void = () => {};
  /** Called before an Enter reaches readline. */
  beforeEnter: () => void = () => {};
  /** While set, every key goes here; it returns what follows the Enter that ended it. */
  secret: ((text: string) => string) | undefined;

  constructor() {
    super();
    process.stdin.on("data", this.#onData);
    process.stdin.on("end", this.#onEnd);
  }

  /** Hands typed text to readline, to {@link secret}, or to {@link insert}. */
  route(text: string): void {
    if (this.secret !== undefined) text = this.secret(text);
    if (text === "") return;
    // Escape sequences (arrows, Alt+key) are readline's to decode, whole chunks at a time.
    const hasEscape = text.includes("\x1b");
    if (hasEscape || this.#escapeOpen) {
      this.#escapeOpen = hasEscape && text.lastIndexOf("\x1b") >= text.length - 8;
      this.#keys(text);
      return;
    }
    for (const [run] of text.matchAll(TEXT_RUN)) {
      if (run.length > 1) this.insert(run);
      else this.#keys(run);
    }
  }

  #keys(text: string): void {
    if (text.includes("\r") || text.includes("\n")) this.beforeEnter();
    this.emit("data", text);
  }

  setRawMode(mode: boolean): this {
    process.stdin.setRawMode(mode);
    return this;
  }

  pause(): this {
    process.stdin.pause();
    return this;
  }

  resume(): this {
    process.stdin.resume();
    return this;
  }

  close(): void {
    process.stdin.off("data", this.#onData);
    process.stdin.off("end", this.#onEnd);
    process.stdin.pause();
  }
}

/** A password being typed: never echoed, never in the history. */
interface SecretEntry {
  prompt: string;
  typed: string;
  /** Where in an escape sequence (an arrow key, ignored) the keys are. */
  escape: "" | "start" | "csi" | "ss3";
  resolve: (line: string | null) => void;
}

/**
 * An interactive terminal on stdin/stdout: line editing, history (arrow keys),
 * tab completion, hidden password entry, and incoming lines printed above
 * the prompt with what was being typed redrawn after them.
 */
export class TerminalIO implements ClientIO {
  readonly interactive = true;
  #interrupted = false;
  readonly #rl: readline.Interface;
  readonly #input = new KeyboardInput();
  #prompt = "";
  #status: string | undefined;
  #secret: SecretEntry | undefined;
  #prompting = false;
  #eof = false;
  #closed = false;
  #waiter: ((line: string | null) => void) | undefined;
  /** Lines typed (or pasted) while no prompt was waiting: kept for the next reads. */
  readonly #typedAhead: string[] = [];

  /** Whether input ended by Ctrl-C at an empty prompt (not Ctrl-D). */
  get interrupted(): boolean {
    return this.#interrupted;
  }

  constructor(options: TerminalOptions = {}) {
    this.#rl = readline.createInterface({
      input: this.#input as unknown as NodeJS.ReadableStream,
      output: process.stdout,
      terminal: true,
      historySize: options.historySize ?? 500,
      completer: options.completer,
    });
    measureNarrowTextFast(this.#rl);
    this.#input.insert = (text) => {
      this.#syncRows();
      this.#rl.write(text);
    };
    // The progress status stays beside the prompt, not in the scrollback: the
    // line is redrawn without it just before Enter moves on.
    this.#input.beforeEnter = () => {
      if (this.#prompting && this.#status !== undefined) this.#redraw(this.#prompt);
    };
    this.#rl.on("line", (line) => this.#deliver(line));
    this.#rl.on("close", () => {
      // Ctrl-D or Ctrl-C: what follows (the goodbye) starts on a line of its own.
      if (this.#prompting) process.stdout.write("\n");
      this.#endSecret(null);
      this.#eof = true;
      this.#deliver(null);
    });
    // Ctrl-C drops a half-typed line, as in a shell; at an empty prompt it ends
    // input, as Ctrl-D does, and the client logs out.
    this.#rl.on("SIGINT", () => {
      const draft = this.#rl.line;
      if (draft === "") {
        this.#interrupted = true;
        this.#rl.close();
        return;
      }
      this.#rl.write(null, { ctrl: true, name: "e" });
      this.#rl.write(null, { ctrl: true, name: "u" });
      process.stdout.write(`${draft}^C\n`);
      this.#rl.prompt();
    });
  }

  /** Tells readline the cursor's row as the terminal has it (see {@link ReadlineInternals}). */
  #syncRows(): void {
    (this.#rl as unknown as ReadlineInternals).prevRows = this.#rl.getCursorPos().rows;
  }

  /** Draws the prompt (a new one, if given) and the draft again, in place. */
  #redraw(prompt?: string): void {
    this.#syncRows(); // measured with the prompt on the screen now
    if (prompt !== undefined) this.#rl.setPrompt(prompt);
    this.#rl.prompt(true);
  }

  #deliver(line: string | null): void {
    if (this.#waiter === undefined) {
      if (line !== null) this.#typedAhead.push(line);
      return;
    }
    const waiter = this.#waiter;
    this.#waiter = undefined;
    this.#prompting = false;
    waiter(line);
  }

  readLine(prompt: string, options: { secret?: boolean } = {}): Promise<string | null> {
    if (this.#typedAhead.length > 0) return Promise.resolve(this.#typedAhead.shift()!);
    if (this.#eof) return Promise.resolve(null);
    if (options.secret) return this.#readSecret(prompt);
    return new Promise((resolve) => {
      this.#waiter = resolve;
      this.#prompt = prompt;
      this.#rl.setPrompt(this.#decorated());
      this.#rl.prompt();
      this.#prompting = true;
    });
  }

  /** Reads a password: keys bypass readline, nothing is echoed or kept. */
  #readSecret(prompt: string): Promise<string | null> {
    return new Promise((resolve) => {
      const entry: SecretEntry = { prompt, typed: "", escape: "", resolve };
      this.#secret = entry;
      process.stdout.write(prompt);
      this.#input.secret = (text) => this.#secretKeys(entry, text);
    });
  }

  /** Edits the password with `text`; returns what was typed after its Enter. */
  #secretKeys(entry: SecretEntry, text: string): string {
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      // Escape sequences (arrows, Alt+key) are skipped: ESC [ params final, ESC O x, ESC x.
      if (entry.escape === "start") {
        entry.escape = c === "[" ? "csi" : c === "O" ? "ss3" : "";
        continue;
      }
      if (entry.escape === "ss3" || (entry.escape === "csi" && c >= "@" && c <= "~")) {
        entry.escape = "";
        continue;
      }
      if (entry.escape === "csi") continue;
      switch (c) {
        case "\r":
        case "\n":
          this.#endSecret(entry.typed);
          return text.slice(c === "\r" && text[i + 1] === "\n" ? i + 2 : i + 1);
        case "\x03": // Ctrl-C: the login is abandoned
          this.#endSecret(null);
          return "";
        case "\x04": // Ctrl-D on nothing typed: end of input
          if (entry.typed === "") {
            this.#endSecret(null);
            return "";
          }
          break;
        case "\x7f":
        case "\b":
          entry.typed = [...entry.typed].slice(0, -1).join("");
          break;
        case "\x15": // Ctrl-U
          entry.typed = "";
          break;
        case "\x1b":
          entry.escape = "start";
          break;
        default:
          if (c >= " ") entry.typed += c;
      }
    }
    return "";
  }

  /** Ends password entry with the password, or null at the end of input. */
  #endSecret(line: string | null): void {
    const entry = this.#secret;
    if (entry === undefined) return;
    this.#secret = undefined;
    this.#input.secret = undefined;
    process.stdout.write("\n");
    if (line === null) this.close();
    entry.resolve(line);
  }

  print(text: string): void {
    if (this.#secret !== undefined) {
      readline.cursorTo(process.stdout, 0);
      readline.clearLine(process.stdout, 0);
      process.stdout.write(`${text}\n${this.#secret.prompt}`);
      return;
    }
    if (!this.#prompting) {
      process.stdout.write(text + "\n");
      return;
    }
    // Erase the prompt and the draft, all the rows they wrap over, from the
    // first; print; then draw them again below.
    const rows = this.#rl.getCursorPos().rows;
    if (rows > 0) readline.moveCursor(process.stdout, 0, -rows);
    readline.cursorTo(process.stdout, 0);
    readline.clearScreenDown(process.stdout);
    process.stdout.write(text + "\n");
    (this.#rl as unknown as ReadlineInternals).prevRows = 0;
    this.#rl.prompt(true);
  }

  error(text: string): void {
    this.print(text);
  }

  bell(): void {
    process.stdout.write("\x07");
  }

  #decorated(): string {
    return this.#status === undefined ? this.#prompt : `[${this.#status}] ${this.#prompt}`;
  }

  setStatus(text: string | undefined): void {
    this.#status = text;
    if (this.#prompting) this.#redraw(this.#decorated());
    else this.#rl.setPrompt(this.#decorated());
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#eof = true;
    this.#rl.close();
    this.#input.close();
  }
}

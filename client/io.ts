/**
 * The client's terminal: prompts, hidden password entry, and printing of
 * incoming lines without garbling what the user is typing. Two forms: an
 * interactive terminal (node:readline) and plain lines (a pipe, a script, a test).
 *
 * @module
 */

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
  /** True when a person is typing at a terminal. */
  readonly interactive: boolean;
  close(): void;
}

/** Reads lines from any byte stream (stdin on a pipe); prints to a callback. */
export class LineIO implements ClientIO {
  readonly interactive = false;
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

  async readLine(): Promise<string | null> {
    const next = await this.#lines.next();
    return next.done ? null : next.value;
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

/**
 * An interactive terminal on stdin/stdout: line editing, history (arrow keys),
 * tab completion, hidden password entry, and incoming lines printed above
 * the prompt with what was being typed redrawn after them.
 */
export class TerminalIO implements ClientIO {
  readonly interactive = true;
  readonly #rl: readline.Interface;
  #prompt = "";
  #status: string | undefined;
  #muted = false;
  #prompting = false;
  #eof = false;
  #waiter: ((line: string | null) => void) | undefined;
  /** Lines typed (or pasted) while no prompt was waiting: kept for the next reads. */
  readonly #typedAhead: string[] = [];

  constructor(options: TerminalOptions = {}) {
    this.#rl = readline.createInterface({
      input: process.stdin,
      output: process.stdout,
      terminal: true,
      historySize: options.historySize ?? 500,
      completer: options.completer,
    });
    // Hide typed characters while a password is asked for.
    const rl = this.#rl as unknown as { _writeToOutput: (s: string) => void };
    const write = rl._writeToOutput.bind(rl);
    rl._writeToOutput = (s: string) => {
      if (!this.#muted) write(s);
      else if (s.includes("\n")) write("\n");
    };
    this.#rl.on("line", (line) => this.#deliver(line));
    this.#rl.on("close", () => {
      this.#eof = true;
      this.#deliver(null);
    });
    // Ctrl-C at the prompt ends input, as Ctrl-D does; the client logs out.
    this.#rl.on("SIGINT", () => this.#rl.close());
  }

  #deliver(line: string | null): void {
    if (this.#waiter === undefined) {
      if (line !== null) this.#typedAhead.push(line);
      return;
    }
    const waiter = this.#waiter;
    this.#waiter = undefined;
    this.#prompting = false;
    if (this.#muted) {
      this.#muted = false;
      // Enter already moved to the next line (see _writeToOutput); Ctrl-D did not.
      if (line === null) process.stdout.write("\n");
      // A password must never come back with the up arrow.
      if (line !== null) (this.#rl as unknown as { history?: string[] }).history?.shift();
    }
    waiter?.(line);
  }

  readLine(prompt: string, options: { secret?: boolean } = {}): Promise<string | null> {
    if (this.#typedAhead.length > 0) return Promise.resolve(this.#typedAhead.shift()!);
    if (this.#eof) return Promise.resolve(null);
    return new Promise((resolve) => {
      this.#waiter = resolve;
      this.#prompt = prompt;
      this.#rl.setPrompt(this.#decorated());
      this.#rl.prompt();
      this.#muted = options.secret ?? false;
      this.#prompting = true;
    });
  }

  print(text: string): void {
    if (!this.#prompting) {
      process.stdout.write(text + "\n");
      return;
    }
    // Clear the prompt line, print, then redraw the prompt and the typed text.
    readline.clearLine(process.stdout, 0);
    readline.cursorTo(process.stdout, 0);
    process.stdout.write(text + "\n");
    if (!this.#muted) this.#rl.prompt(true);
    else process.stdout.write(this.#rl.getPrompt());
  }

  error(text: string): void {
    this.print(text);
  }

  #decorated(): string {
    return this.#status === undefined ? this.#prompt : `[${this.#status}] ${this.#prompt}`;
  }

  setStatus(text: string | undefined): void {
    this.#status = text;
    if (this.#muted) return;
    this.#rl.setPrompt(this.#decorated());
    if (this.#prompting) {
      readline.clearLine(process.stdout, 0);
      readline.cursorTo(process.stdout, 0);
      this.#rl.prompt(true);
    }
  }

  close(): void {
    this.#eof = true;
    this.#rl.close();
  }
}

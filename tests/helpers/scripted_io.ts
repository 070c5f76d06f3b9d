/**
 * Drives the real client (client/app.ts runClient) through a {@link LineIO}:
 * the test types lines as it goes and waits for what the client prints.
 *
 * @module
 */

import { type ClientIO, LineIO } from "../../client/io.ts";

/** One line the client printed, and whether it went to the error stream. */
export interface Printed {
  text: string;
  error: boolean;
}

/** Lines typed into the client, fed as the test goes, plus everything it printed. */
export class ScriptedTerminal {
  /** Every printed line, in order, with its stream. */
  readonly printed: Printed[] = [];
  /** The IO to hand to the client. */
  readonly io: ClientIO;
  #queue: string[] = [];
  #waiting: ((r: IteratorResult<string>) => void) | undefined;
  #ended = false;
  #watchers: (() => void)[] = [];
  readonly #lines: LineIO;

  /**
   * @param options.interactive the client believes a person types at a
   * terminal (it asks again after a wrong password, primes completion), though
   * the lines are still scripted.
   */
  constructor(options: { interactive?: boolean } = {}) {
    const input: AsyncIterable<string> = {
      [Symbol.asyncIterator]: () => ({
        next: () => this.#next(),
        return: () => Promise.resolve({ done: true, value: undefined }),
      }),
    };
    const lines = new LineIO(
      input,
      (text) => this.#record({ text, error: false }),
      (text) => this.#record({ text, error: true }),
    );
    this.#lines = lines;
    this.io = options.interactive
      ? {
        interactive: true,
        get interrupted() {
          return lines.interrupted;
        },
        readLine: () => lines.readLine(),
        print: (text) => lines.print(text),
        error: (text) => lines.error(text),
        close: () => lines.close(),
      }
      : lines;
  }

  /** The printed texts so far (both streams). */
  get output(): string[] {
    return this.printed.map((p) => p.text);
  }

  #record(p: Printed): void {
    this.printed.push(p);
    for (const w of this.#watchers.splice(0)) w();
  }

  #next(): Promise<IteratorResult<string>> {
    const line = this.#queue.shift();
    if (line !== undefined) return Promise.resolve({ done: false, value: line });
    if (this.#ended) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve) => this.#waiting = resolve);
  }

  /** Types lines, as if each were followed by Enter. */
  type(...lines: string[]): void {
    for (const line of lines) {
      const waiting = this.#waiting;
      this.#waiting = undefined;
      if (waiting) waiting({ done: false, value: line });
      else this.#queue.push(line);
    }
  }

  /** Ends the input by an interrupt (Ctrl-C, or SIGINT with piped input). */
  interrupt(): void {
    this.#lines.interrupt();
  }

  /** Ends the input (Ctrl-D, or the end of a piped script). */
  end(): void {
    this.#ended = true;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.({ done: true, value: undefined });
  }

  /**
   * Waits until a printed line (already or later) matches: equal to a string,
   * matching a RegExp, or passing a predicate. Returns its text.
   *
   * @throws {Error} after `timeoutMs`, listing the output so far.
   */
  async waitFor(
    match: string | RegExp | ((p: Printed) => boolean),
    timeoutMs = 5000,
  ): Promise<string> {
    const test = typeof match === "function"
      ? match
      : (p: Printed) => typeof match === "string" ? p.text === match : match.test(p.text);
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const found = this.printed.find(test);
      if (found !== undefined) return found.text;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`No line matched ${match}; output: ${JSON.stringify(this.output)}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#watchers.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

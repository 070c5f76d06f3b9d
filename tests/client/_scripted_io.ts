/**
 * Drives the real client with lines a test feeds as it goes, and collects
 * what the client prints, so a test can wait for a line before answering.
 *
 * @module
 */

import { LineIO } from "../../client/io.ts";

/** An async queue of input lines. */
export class LineQueue implements AsyncIterable<string> {
  #lines: string[] = [];
  #ended = false;
  #wake: (() => void) | undefined;

  /** Adds lines for the client to read. */
  push(...lines: string[]): void {
    this.#lines.push(...lines);
    this.#wake?.();
  }

  /** Ends the input (as Ctrl-D would). */
  end(): void {
    this.#ended = true;
    this.#wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<string> {
    while (true) {
      if (this.#lines.length > 0) {
        yield this.#lines.shift()!;
        continue;
      }
      if (this.#ended) return;
      await new Promise<void>((resolve) => this.#wake = resolve);
      this.#wake = undefined;
    }
  }
}

/** One line the client printed. */
export interface Printed {
  text: string;
  error: boolean;
}

/** A LineIO on a {@link LineQueue}, recording every printed line. */
export class ScriptedIO {
  readonly input: LineQueue = new LineQueue();
  readonly printed: Printed[] = [];
  readonly io: LineIO;
  #waiters: { match: (p: Printed) => boolean; resolve: () => void }[] = [];

  constructor() {
    this.io = new LineIO(
      this.input,
      (text) => this.#record({ text, error: false }),
      (text) => this.#record({ text, error: true }),
    );
  }

  #record(p: Printed): void {
    this.printed.push(p);
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.match(p)) return true;
      w.resolve();
      return false;
    });
  }

  /** The printed texts so far. */
  get texts(): string[] {
    return this.printed.map((p) => p.text);
  }

  /** Resolves once a printed line (now or later) matches; fails after `timeoutMs`. */
  waitFor(match: string | RegExp | ((p: Printed) => boolean), timeoutMs = 5000): Promise<void> {
    const test = typeof match === "function"
      ? match
      : (p: Printed) => typeof match === "string" ? p.text === match : match.test(p.text);
    if (this.printed.some(test)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w.resolve !== done);
        reject(new Error(`No line matched ${match}; got ${JSON.stringify(this.texts)}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.#waiters.push({ match: test, resolve: done });
    });
  }
}

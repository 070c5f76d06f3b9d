/**
 * Drives the real client module with typed lines and collects what it prints.
 *
 * @module
 */

import { LineIO } from "../../client/io.ts";

/** Lines typed into the client, fed as the test goes, plus its output. */
export class ScriptedTerminal {
  readonly output: string[] = [];
  readonly io: LineIO;
  #queue: string[] = [];
  #waiting: ((r: IteratorResult<string>) => void) | undefined;
  #ended = false;
  #watchers: (() => void)[] = [];

  constructor() {
    const input: AsyncIterable<string> = {
      [Symbol.asyncIterator]: () => ({
        next: () => this.#next(),
        return: () => Promise.resolve({ done: true, value: undefined }),
      }),
    };
    const out = (text: string) => {
      this.output.push(text);
      for (const w of this.#watchers.splice(0)) w();
    };
    this.io = new LineIO(input, out);
  }

  #next(): Promise<IteratorResult<string>> {
    const line = this.#queue.shift();
    if (line !== undefined) return Promise.resolve({ done: false, value: line });
    if (this.#ended) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve) => this.#waiting = resolve);
  }

  /** Types lines, as if followed by Enter. */
  type(...lines: string[]): void {
    for (const line of lines) {
      const waiting = this.#waiting;
      this.#waiting = undefined;
      if (waiting) waiting({ done: false, value: line });
      else this.#queue.push(line);
    }
  }

  /** Ends the input (Ctrl-D, or the end of a piped script). */
  end(): void {
    this.#ended = true;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.({ done: true, value: undefined });
  }

  /** Waits until a printed line matches. */
  async waitFor(match: string | RegExp, timeoutMs = 5000): Promise<string> {
    const test = (l: string) => typeof match === "string" ? l === match : match.test(l);
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const found = this.output.find(test);
      if (found !== undefined) return found;
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

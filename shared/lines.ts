/**
 * Splitting a byte stream into text lines, for anything that reads lines from a pipe or a
 * socket (the client's line mode, `tessenger user`, the test and bench helpers).
 *
 * ```ts
 * import { linesOf } from "./lines.ts";
 *
 * const stream = new Blob(["one\r\ntwo\nthree"]).stream();
 * const lines: string[] = [];
 * for await (const line of linesOf(stream)) lines.push(line);
 * // lines: ["one", "two", "three"]
 * ```
 *
 * @module
 */

/**
 * Longest line {@link linesOf} keeps whole, in characters: far more than the
 * server reads in one command, so a reader still sees (and can refuse) a
 * longer one, without holding an endless line in memory.
 */
export const MAX_INPUT_LINE_CHARS = 1 << 20;

/**
 * Splits a byte stream (UTF-8) into lines, without their `\n` or `\r\n`. A
 * line longer than `maxChars` is cut to its first `maxChars + 1` characters.
 */
export async function* linesOf(
  stream: ReadableStream<Uint8Array>,
  maxChars = MAX_INPUT_LINE_CHARS,
): AsyncIterable<string> {
  let carry = "";
  /** The current line was cut: skip the rest of it. */
  let skipping = false;
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    carry += chunk;
    let nl;
    while ((nl = carry.indexOf("\n")) !== -1) {
      if (!skipping) yield carry.slice(0, nl).replace(/\r$/, "");
      skipping = false;
      carry = carry.slice(nl + 1);
    }
    if (!skipping && carry.length > maxChars) {
      yield carry.slice(0, maxChars + 1);
      skipping = true;
    }
    if (skipping) carry = "";
  }
  if (carry !== "" && !skipping) yield carry;
}

/**
 * Splits a byte stream into LF-terminated lines of at most `maxLineBytes` bytes (the LF not
 * counted), as the wire decoders need it: a line over the limit is reported once and skipped
 * up to its LF, so one oversized line never desynchronises the stream. Bytes of an
 * unfinished line are held until its LF arrives.
 *
 * ```ts
 * import { ByteLines } from "./lines.ts";
 *
 * const lines = new ByteLines(16);
 * const seen: string[] = [];
 * const bytes = new TextEncoder().encode("one\ntw");
 * lines.push(bytes, 0, (line) => seen.push(new TextDecoder().decode(line)), () => {});
 * // seen: ["one"]; "tw" is held for the next push
 * ```
 */
export class ByteLines {
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #discarding = false;

  constructor(readonly maxLineBytes: number) {}

  /** Bytes held for an unfinished line. */
  get bufferedBytes(): number {
    return this.#pendingBytes;
  }

  /** True when nothing is held and no long line is being skipped. */
  get idle(): boolean {
    return this.#pendingBytes === 0 && !this.#discarding;
  }

  /**
   * Feeds `chunk` from `start`: calls `line` with each complete line (without its LF; a view
   * valid during the call) and `tooLong` once for each line over the limit.
   */
  push(
    chunk: Uint8Array,
    start: number,
    line: (bytes: Uint8Array) => void,
    tooLong: () => void,
  ): void {
    while (start < chunk.length) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl === -1 ? chunk.length : nl;
      if (this.#discarding) {
        if (nl !== -1) this.#discarding = false;
      } else if (this.#pendingBytes + (end - start) > this.maxLineBytes) {
        this.#clear();
        tooLong();
        this.#discarding = nl === -1;
      } else if (nl === -1) {
        this.#pending.push(chunk.slice(start));
        this.#pendingBytes += chunk.length - start;
      } else {
        line(this.#take(chunk.subarray(start, end)));
      }
      if (nl === -1) break;
      start = nl + 1;
    }
  }

  /** The held bytes followed by `tail`, as one line. */
  #take(tail: Uint8Array): Uint8Array {
    if (this.#pending.length === 0) return tail;
    const line = new Uint8Array(this.#pendingBytes + tail.length);
    let at = 0;
    for (const part of this.#pending) {
      line.set(part, at);
      at += part.length;
    }
    line.set(tail, at);
    this.#clear();
    return line;
  }

  #clear(): void {
    this.#pending = [];
    this.#pendingBytes = 0;
  }
}

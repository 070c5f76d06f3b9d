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

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

/** Splits a byte stream (UTF-8) into lines, without their `\n` or `\r\n`. */
export async function* linesOf(stream: ReadableStream<Uint8Array>): AsyncIterable<string> {
  let carry = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    carry += chunk;
    let nl;
    while ((nl = carry.indexOf("\n")) !== -1) {
      yield carry.slice(0, nl).replace(/\r$/, "");
      carry = carry.slice(nl + 1);
    }
  }
  if (carry !== "") yield carry;
}

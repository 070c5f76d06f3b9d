import { linesOf } from "../../client/io.ts";
import { assertEquals } from "../helpers/assert.ts";

/** A stream of the given chunks. */
function streamOf(...chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return ReadableStream.from(chunks.map((c) => encoder.encode(c)));
}

async function collect(stream: ReadableStream<Uint8Array>, maxChars?: number): Promise<string[]> {
  const lines: string[] = [];
  for await (const line of linesOf(stream, maxChars)) lines.push(line);
  return lines;
}

Deno.test("linesOf() splits on LF and CR LF across chunks, and keeps a last line without one", async () => {
  assertEquals(await collect(streamOf("a\r\nb", "c\n", "\nlast")), ["a", "bc", "", "last"]);
});

Deno.test("linesOf() cuts an endless line to one character past the limit and goes on after it", async () => {
  assertEquals(
    await collect(streamOf("short\n", "x".repeat(6), "x".repeat(6), "xx\nnext\n"), 8),
    ["short", "xxxxxxxxx", "next"],
  );
  assertEquals(await collect(streamOf("y".repeat(20)), 8), ["yyyyyyyyy"]);
});

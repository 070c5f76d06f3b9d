import {
  ansiStyle,
  nameColourIndex,
  plainStyle,
  sanitize,
  shouldUseColor,
} from "../../client/style.ts";
import { assert, assertEquals } from "../helpers/assert.ts";

Deno.test("shouldUseColor() colours only a terminal without NO_COLOR or TERM=dumb", () => {
  assertEquals(shouldUseColor({ isTerminal: true }), true);
  assertEquals(shouldUseColor({ isTerminal: true, term: "xterm-256color" }), true);
  assertEquals(shouldUseColor({ isTerminal: false }), false);
  assertEquals(shouldUseColor({ isTerminal: true, noColor: "1" }), false);
  assertEquals(shouldUseColor({ isTerminal: true, noColor: "anything" }), false);
  // no-color.org: an empty NO_COLOR does not disable colour.
  assertEquals(shouldUseColor({ isTerminal: true, noColor: "" }), true);
  assertEquals(shouldUseColor({ isTerminal: true, term: "dumb" }), false);
});

Deno.test("nameColourIndex() gives a name the same colour every time", () => {
  assertEquals(nameColourIndex("Yoda"), nameColourIndex("Yoda"));
  const used = new Set(
    ["Yoda", "Hans", "Luke", "Leia", "Obiwan", "Anakin"].map((n) => nameColourIndex(n)),
  );
  assert(used.size > 1, "different names get different colours");
  for (const i of used) assert(i >= 0 && i < 6);
});

Deno.test("ansiStyle wraps parts in SGR codes and resets; plainStyle leaves them", () => {
  assertEquals(ansiStyle.error("bad"), "\x1b[31mbad\x1b[0m");
  assertEquals(ansiStyle.system("note"), "\x1b[33mnote\x1b[0m");
  assertEquals(ansiStyle.group("Jedi"), "\x1b[1;35mJedi\x1b[0m");
  assertEquals(ansiStyle.time("01 Jun 2023 15:00:01"), "\x1b[2m01 Jun 2023 15:00:01\x1b[0m");
  // deno-lint-ignore no-control-regex
  assert(/^\x1b\[\d+mYoda\x1b\[0m$/.test(ansiStyle.name("Yoda")));
  for (const f of Object.values(plainStyle)) assertEquals(f("x"), "x");
});

Deno.test("sanitize() replaces control characters, so text cannot drive the terminal", () => {
  assertEquals(sanitize("hi\x1b[2Jthere\r\n\x07\x9b"), "hi\uFFFD[2Jthere\uFFFD\uFFFD\uFFFD\uFFFD");
  assertEquals(sanitize("héllo wörld ✓"), "héllo wörld ✓");
});

Deno.test("sanitize() removes characters that reorder or hide text", () => {
  assertEquals(sanitize("clip\u202Evid.exe"), "clipvid.exe");
  assertEquals(sanitize("Ha\u200Bns"), "Hans");
});

import { assert, assertEquals, assertThrows } from "../../../helpers/assert.ts";
import { formatMessage, utf8Length } from "../../../../server/frontends/irc/message.ts";
import { packWords, splitText } from "../../../../server/frontends/irc/split.ts";
import { textMessages } from "../../../../server/frontends/irc/text.ts";
import { IRC_MAX_LINE_BYTES, MAX_MESSAGE_CHARS } from "../../../../shared/limits.ts";

/** Every piece within the budget, and the pieces give the text back. */
function checkSplit(text: string, maxBytes: number): string[] {
  const pieces = splitText(text, maxBytes);
  assertEquals(pieces.join(""), text);
  for (const p of pieces) assert(utf8Length(p) <= maxBytes, `${utf8Length(p)} > ${maxBytes}`);
  if (text !== "") { for (const p of pieces) assert(p.length > 0); }
  return pieces;
}

Deno.test("splitText() leaves a text that fits whole", () => {
  assertEquals(splitText("hello", 5), ["hello"]);
  assertEquals(splitText("", 5), [""]);
});

Deno.test("splitText() breaks after a space near the end of the budget", () => {
  assertEquals(checkSplit("hello brave new world", 12), ["hello brave ", "new world"]);
});

Deno.test("splitText() cuts inside a word when the last space would leave the piece under half full", () => {
  assertEquals(checkSplit("a bcdefghijklmnop", 8), ["a bcdefg", "hijklmno", "p"]);
});

Deno.test("splitText() never cuts inside a UTF-8 sequence", () => {
  const text = "é€😀".repeat(100);
  for (const budget of [4, 5, 6, 7, 50, 99]) {
    for (const p of checkSplit(text, budget)) assert(!p.includes("\ufffd"));
  }
});

Deno.test("splitText() keeps a flag and a family emoji whole", () => {
  const family = "👨‍👩‍👧‍👦"; // one grapheme, 25 bytes
  const pieces = checkSplit(("x" + family).repeat(10), 30);
  for (const p of pieces) assertEquals(p.replaceAll("x", "").replaceAll(family, ""), "");
  const flags = checkSplit("🇩🇪".repeat(10), 9);
  for (const p of flags) assertEquals(p.replaceAll("🇩🇪", ""), "");
});

Deno.test("splitText() cuts a grapheme longer than the budget at code points", () => {
  const zalgo = "e" + "\u0301".repeat(50); // one grapheme of 101 bytes
  const pieces = checkSplit("ab " + zalgo + " cd", 20);
  assert(pieces.length > 5);
});

Deno.test("splitText() refuses a budget too small for one code point", () => {
  assertThrows(() => splitText("abc", 3), RangeError);
});

Deno.test("splitText() splits random text of every kind within the budget", () => {
  let seed = 7;
  const rand = (n: number) => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
  const alphabet = ["a", "b", " ", "é", "€", "😀", "\u0301", "🇩", "🇪", "‍", "  "];
  for (let round = 0; round < 200; round++) {
    let text = "";
    const n = rand(300);
    for (let i = 0; i < n; i++) text += alphabet[rand(alphabet.length)];
    checkSplit(text, 4 + rand(60));
  }
});

Deno.test("textMessages() fits the longest native message into 512-byte lines with their prefix", () => {
  const source = "Obiwan!Obiwan@tessenger";
  const target = "#rebels";
  const words = Array.from({ length: 2000 }, (_, i) => (i % 7 === 0 ? "ünïcödé😀" : "word"));
  const text = words.join(" ").slice(0, MAX_MESSAGE_CHARS);
  const lines = textMessages({ source, command: "PRIVMSG", target, text, tags: { time: "t" } });
  assert(lines.length > 8);
  let rebuilt = "";
  for (const m of lines) {
    const line = formatMessage(m);
    const withoutTags = line.slice(line.indexOf(" ") + 1);
    assert(utf8Length(withoutTags) <= IRC_MAX_LINE_BYTES, `${utf8Length(withoutTags)} bytes`);
    assertEquals(m.tags, { time: "t" });
    rebuilt += m.params[1];
  }
  assertEquals(rebuilt, text);
  // Most lines come close to the limit: the budget is not wasted.
  const first = formatMessage(lines[0]);
  assert(utf8Length(first.slice(first.indexOf(" ") + 1)) > IRC_MAX_LINE_BYTES - 20);
});

Deno.test("textMessages() sends a short message as one line", () => {
  assertEquals(
    textMessages({ source: "Hans!Hans@t", command: "NOTICE", target: "Yoda", text: "hi" }),
    [{ source: "Hans!Hans@t", command: "NOTICE", params: ["Yoda", "hi"] }],
  );
});

Deno.test("packWords() fills lists up to the budget", () => {
  assertEquals(packWords(["Hans", "Yoda", "Luke"], 9), ["Hans Yoda", "Luke"]);
  assertEquals(packWords(["Hans", "Yoda", "Luke"], 100), ["Hans Yoda Luke"]);
  assertEquals(packWords(["toolongword", "a"], 5), ["toolongword", "a"]);
  assertEquals(packWords([], 5), []);
});

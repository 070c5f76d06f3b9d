import { assert, assertEquals } from "../../../helpers/assert.ts";
import { formatMessage, utf8Length } from "../../../../server/frontends/irc/message.ts";
import {
  fromIrcText,
  parseServerTime,
  serverTime,
  textMessages,
  toIrcTexts,
} from "../../../../server/frontends/irc/text.ts";

Deno.test("fromIrcText() keeps plain text as it is", () => {
  assertEquals(fromIrcText("hello there"), { kind: "text", text: "hello there" });
  assertEquals(fromIrcText(""), { kind: "text", text: "" });
});

Deno.test("fromIrcText() turns a CTCP ACTION into /me", () => {
  assertEquals(fromIrcText("\x01ACTION waves\x01"), { kind: "text", text: "/me waves" });
  // Some clients leave the closing \x01 off.
  assertEquals(fromIrcText("\x01ACTION waves"), { kind: "text", text: "/me waves" });
  assertEquals(fromIrcText("\x01action \x02waves\x02\x01"), { kind: "text", text: "/me waves" });
});

Deno.test("fromIrcText() names other CTCP requests for the caller to refuse", () => {
  assertEquals(fromIrcText("\x01VERSION\x01"), { kind: "ctcp", verb: "VERSION" });
  assertEquals(fromIrcText("\x01PING 12345\x01"), { kind: "ctcp", verb: "PING" });
  assertEquals(fromIrcText("\x01"), { kind: "ctcp", verb: "" });
});

Deno.test("fromIrcText() removes formatting codes and leaves no control character", () => {
  const text = "\x02bold\x02 \x1ditalic\x1d \x1funder\x1f \x1estrike\x1e \x11mono\x11 " +
    "\x0304red\x03 \x0304,12red on blue\x03 \x039x\x03 \x04FF0000hex\x04 \x16rev\x16\x0f\tend";
  const out = fromIrcText(text);
  assertEquals(out, {
    kind: "text",
    text: "bold italic under strike mono red red on blue x hex rev end",
  });
  // deno-lint-ignore no-control-regex
  assert(out.kind === "text" && !/[\x00-\x1f]/.test(out.text));
});

Deno.test("fromIrcText() keeps digits after a colour code that are not part of it", () => {
  assertEquals(fromIrcText("\x0312345"), { kind: "text", text: "345" });
  assertEquals(fromIrcText("\x03,5"), { kind: "text", text: ",5" });
});

Deno.test("toIrcTexts() sends /me as a CTCP ACTION on every line", () => {
  assertEquals(toIrcTexts("/me waves", 400), ["\x01ACTION waves\x01"]);
  assertEquals(toIrcTexts("plain", 400), ["plain"]);
  const long = "/me " + "dances ".repeat(100);
  const lines = toIrcTexts(long, 100);
  assert(lines.length > 1);
  for (const l of lines) {
    assert(l.startsWith("\x01ACTION ") && l.endsWith("\x01"));
    assert(utf8Length(l) <= 100);
  }
  assertEquals(lines.map((l) => l.slice(8, -1)).join(""), long.slice(4));
});

Deno.test("textMessages() splits an action within 512 bytes per line", () => {
  const text = "/me " + "ünïcödé ".repeat(300);
  const lines = textMessages({ source: "Hans!Hans@t", command: "PRIVMSG", target: "#g", text });
  assert(lines.length > 3);
  for (const m of lines) {
    assert(utf8Length(formatMessage(m)) <= 512);
    assert(m.params[1].startsWith("\x01ACTION "));
  }
});

Deno.test("serverTime() and parseServerTime() round-trip", () => {
  const at = Date.UTC(2023, 5, 1, 15, 0, 1, 234);
  assertEquals(serverTime(at), "2023-06-01T15:00:01.234Z");
  assertEquals(parseServerTime(serverTime(at)), at);
  assertEquals(parseServerTime("2023-06-01T15:00:01Z"), Date.UTC(2023, 5, 1, 15, 0, 1));
  for (
    const bad of ["", "yesterday", "2023-06-01", "2023-06-01T15:00:01", "2023-13-45T99:00:00Z"]
  ) {
    assertEquals(parseServerTime(bad), undefined, bad);
  }
});

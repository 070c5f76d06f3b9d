import { assert, assertEquals, assertThrows } from "../../../helpers/assert.ts";
import {
  escapeTagValue,
  formatMessage,
  IrcLineDecoder,
  IrcLineError,
  type IrcMessage,
  lineBytesWithoutTags,
  parseMessage,
  unescapeTagValue,
  utf8Length,
} from "../../../../server/frontends/irc/message.ts";
import { IRC_MAX_LINE_BYTES, IRC_MAX_TAG_DATA_BYTES } from "../../../../shared/limits.ts";

const encoder = new TextEncoder();

function decodeAll(...chunks: (string | Uint8Array)[]): (IrcMessage | IrcLineError)[] {
  const d = new IrcLineDecoder();
  return chunks.flatMap((c) => d.push(typeof c === "string" ? encoder.encode(c) : c));
}

Deno.test("parseMessage() reads tags, source, command, middle and trailing parameters", () => {
  assertEquals(
    parseMessage("@time=2023-06-01T15:00:00.000Z;+draft/x :Hans!Hans@h PRIVMSG #g :hi there"),
    {
      tags: { time: "2023-06-01T15:00:00.000Z", "+draft/x": "" },
      source: "Hans!Hans@h",
      command: "PRIVMSG",
      params: ["#g", "hi there"],
    },
  );
});

Deno.test("parseMessage() upper-cases the verb and keeps numerics", () => {
  assertEquals(parseMessage("privmsg Yoda :x").command, "PRIVMSG");
  assertEquals(parseMessage(":srv 001 Hans :Welcome").command, "001");
});

Deno.test("parseMessage() takes repeated spaces between parameters as one", () => {
  assertEquals(parseMessage("USER  hans   0 *  :Hans  Solo "), {
    command: "USER",
    params: ["hans", "0", "*", "Hans  Solo "],
  });
});

Deno.test("parseMessage() keeps an empty trailing parameter and a colon inside one", () => {
  assertEquals(parseMessage("TOPIC #g :").params, ["#g", ""]);
  assertEquals(parseMessage("PRIVMSG Yoda ::) a:b").params, ["Yoda", ":) a:b"]);
  assertEquals(parseMessage("PING").params, []);
});

Deno.test("parseMessage() rejects lines without a valid command", () => {
  for (
    const line of ["", "   ", ":source-only", "@a=b", "@a=b :src", "12 x", "PRIV-MSG x", "1234"]
  ) {
    assertThrows(
      () => parseMessage(line),
      (e: unknown) => e instanceof IrcLineError && e.code === "malformed",
    );
  }
});

Deno.test("parseMessage() rejects a NUL anywhere in the line", () => {
  assertThrows(() => parseMessage("PRIVMSG Yoda :a\0b"), IrcLineError);
});

Deno.test("parseMessage() drops tags with malformed keys but keeps the rest of the line", () => {
  assertEquals(parseMessage("@bad!key;=v;ok=1;+vendor.example/name=2 PING x"), {
    tags: { ok: "1", "+vendor.example/name": "2" },
    command: "PING",
    params: ["x"],
  });
});

Deno.test("parseMessage() lets the last of repeated tag keys win", () => {
  assertEquals(parseMessage("@a=1;a=2 PING").tags, { a: "2" });
});

Deno.test("tag values round-trip through escaping", () => {
  const value = "a; b\\c\r\nd";
  assertEquals(escapeTagValue(value), "a\\:\\sb\\\\c\\r\\nd");
  assertEquals(unescapeTagValue(escapeTagValue(value)), value);
});

Deno.test("unescapeTagValue() drops a backslash before another character and at the end", () => {
  assertEquals(unescapeTagValue("a\\bc\\"), "abc");
  assertEquals(unescapeTagValue("\\\\s"), "\\s");
});

Deno.test("formatMessage() puts a colon before the last of several parameters", () => {
  assertEquals(
    formatMessage({ source: "srv", command: "001", params: ["Hans", "Welcome"] }),
    ":srv 001 Hans :Welcome\r\n",
  );
  assertEquals(formatMessage({ command: "JOIN", params: ["#g"] }), "JOIN #g\r\n");
  assertEquals(formatMessage({ command: "QUIT", params: ["bye now"] }), "QUIT :bye now\r\n");
  assertEquals(formatMessage({ command: "TOPIC", params: [":x"] }), "TOPIC ::x\r\n");
  assertEquals(formatMessage({ command: "PING", params: [] }), "PING\r\n");
});

Deno.test("formatMessage() writes tags escaped and tags without a value bare", () => {
  assertEquals(
    formatMessage({
      tags: { time: "t", "+typing": "", x: "a b" },
      command: "TAGMSG",
      params: ["#g"],
    }),
    "@time=t;+typing;x=a\\sb TAGMSG #g\r\n",
  );
});

Deno.test("formatMessage() refuses what cannot be one valid line", () => {
  const bad: IrcMessage[] = [
    { command: "PRIVMSG", params: ["Yoda", "a\r\nQUIT"] },
    { command: "PRIVMSG", params: ["a b", "x"] },
    { command: "PRIVMSG", params: ["", "x"] },
    { command: "PRIVMSG", params: [":a", "x"] },
    { command: "PRIV MSG", params: [] },
    { source: "a b", command: "PING", params: [] },
    { tags: { "bad key": "" }, command: "PING", params: [] },
  ];
  for (const m of bad) assertThrows(() => formatMessage(m), TypeError);
});

Deno.test("formatMessage() and parseMessage() round-trip", () => {
  const m: IrcMessage = {
    tags: { time: "2023-06-01T15:00:00.000Z", msgid: "a;b c" },
    source: "Hans!Hans@tessenger",
    command: "PRIVMSG",
    params: ["#rebels", "  spaced :colon  "],
  };
  assertEquals(parseMessage(formatMessage(m).slice(0, -2)), m);
});

Deno.test("utf8Length() counts bytes as UTF-8 does", () => {
  for (const s of ["", "abc", "é", "€", "😀", "a😀é€", "\ud800", "x\udc00y"]) {
    assertEquals(utf8Length(s), encoder.encode(s).length, JSON.stringify(s));
  }
});

Deno.test("lineBytesWithoutTags() leaves the tags out of the count", () => {
  assertEquals(lineBytesWithoutTags("@time=x PING\r\n"), 6);
  assertEquals(lineBytesWithoutTags("PING\r\n"), 6);
});

Deno.test("IrcLineDecoder takes CR LF, a bare LF and a bare CR as line ends", () => {
  assertEquals(
    decodeAll("PING a\r\nPING b\nPING c\rPING d\r\n").map((m) => (m as IrcMessage).params[0]),
    [
      "a",
      "b",
      "c",
      "d",
    ],
  );
});

Deno.test("IrcLineDecoder joins a line split across reads, even inside a character", () => {
  const bytes = encoder.encode("PRIVMSG Yoda :héllo\r\n");
  const at = bytes.indexOf(0xc3) + 1;
  const out = decodeAll(bytes.subarray(0, 3), bytes.subarray(3, at), bytes.subarray(at));
  assertEquals(out, [{ command: "PRIVMSG", params: ["Yoda", "héllo"] }]);
});

Deno.test("IrcLineDecoder skips blank lines", () => {
  assertEquals(decodeAll("\r\n\n\r\r\n  \r\nPING\r\n").length, 2);
  const [blank, ping] = decodeAll("  \r\nPING\r\n");
  assert(blank instanceof IrcLineError && blank.code === "malformed");
  assertEquals(ping, { command: "PING", params: [] });
});

Deno.test("IrcLineDecoder accepts a line of exactly 512 bytes and refuses 513", () => {
  const head = "PRIVMSG Yoda :";
  const fits = head + "x".repeat(IRC_MAX_LINE_BYTES - 2 - head.length);
  const [ok] = decodeAll(fits + "\r\n");
  assertEquals((ok as IrcMessage).params[1].length, IRC_MAX_LINE_BYTES - 2 - head.length);
  const [tooLong, next] = decodeAll(fits + "x\r\nPING\r\n");
  assert(tooLong instanceof IrcLineError);
  assertEquals(tooLong.code, "too_long");
  assertEquals(tooLong.command, "PRIVMSG");
  assertEquals(next, { command: "PING", params: [] });
});

Deno.test("IrcLineDecoder counts bytes, not characters, against the limit", () => {
  const head = "PRIVMSG Yoda :";
  const room = IRC_MAX_LINE_BYTES - 2 - head.length;
  assert(!(decodeAll(head + "é".repeat(room / 2) + "\r\n")[0] instanceof IrcLineError));
  assert(decodeAll(head + "é".repeat(room / 2 + 1) + "\r\n")[0] instanceof IrcLineError);
});

Deno.test("IrcLineDecoder accepts tags at the limit and refuses one byte more", () => {
  const tags = (n: number) => "@a=" + "x".repeat(n - 2);
  const [ok] = decodeAll(`${tags(IRC_MAX_TAG_DATA_BYTES)} PING\r\n`);
  assertEquals((ok as IrcMessage).tags?.a.length, IRC_MAX_TAG_DATA_BYTES - 2);
  const [over, next] = decodeAll(`${tags(IRC_MAX_TAG_DATA_BYTES + 1)} PING\r\nPING\r\n`);
  assert(over instanceof IrcLineError);
  assertEquals(over.code, "tags_too_long");
  assertEquals(over.command, "PING");
  assertEquals(next, { command: "PING", params: [] });
});

Deno.test("IrcLineDecoder takes full tags and a full 512-byte rest on one line", () => {
  const tags = "@a=" + "x".repeat(IRC_MAX_TAG_DATA_BYTES - 2);
  const head = "PRIVMSG Yoda :";
  const rest = head + "y".repeat(IRC_MAX_LINE_BYTES - 2 - head.length);
  const [m] = decodeAll(`${tags} ${rest}\r\n`);
  assert(!(m instanceof IrcLineError));
});

Deno.test("IrcLineDecoder drops an endless line once and resynchronises at its end", () => {
  const d = new IrcLineDecoder();
  const junk = encoder.encode("x".repeat(3000));
  const out = [...d.push(junk), ...d.push(junk), ...d.push(junk)];
  assertEquals(out.length, 1);
  assert(out[0] instanceof IrcLineError && out[0].code === "too_long");
  assert(!d.idle);
  assertEquals(d.push(encoder.encode("still junk\r\nPING\r\n")), [{ command: "PING", params: [] }]);
  assert(d.idle);
});

Deno.test("IrcLineDecoder refuses invalid UTF-8 and names the command", () => {
  const bad = new Uint8Array([...encoder.encode("PRIVMSG Yoda :caf"), 0xe9, 0x0d, 0x0a]);
  const [e, next] = decodeAll(bad, "PING\r\n");
  assert(e instanceof IrcLineError);
  assertEquals(e.code, "bad_utf8");
  assertEquals(e.command, "PRIVMSG");
  assertEquals(next, { command: "PING", params: [] });
});

Deno.test("IrcLineDecoder survives random garbage and keeps reading lines after it", () => {
  // A fixed seed: the same bytes every run.
  let seed = 12345;
  const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 256;
  const d = new IrcLineDecoder();
  for (let i = 0; i < 200; i++) {
    const chunk = new Uint8Array(1 + rand() * 4);
    for (let j = 0; j < chunk.length; j++) chunk[j] = rand();
    for (const item of d.push(chunk)) {
      assert(item instanceof IrcLineError || typeof item.command === "string");
    }
  }
  const out = d.push(encoder.encode("\r\nPING ok\r\n"));
  assertEquals(out.at(-1), { command: "PING", params: ["ok"] });
});

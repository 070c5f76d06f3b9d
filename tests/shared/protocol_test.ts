import { assert, assertEquals, assertThrows } from "../helpers/assert.ts";
import {
  encodeFrame,
  FrameDecoder,
  FrameError,
  parseClientFrame,
  parseServerFrame,
} from "../../shared/protocol.ts";

const enc = new TextEncoder();

Deno.test("encodeFrame() writes one JSON object and a newline", () => {
  const bytes = encodeFrame({ t: "req", id: 1, cmd: "msgto", args: ["Hans", "hi there"] });
  assertEquals(
    new TextDecoder().decode(bytes),
    '{"t":"req","id":1,"cmd":"msgto","args":["Hans","hi there"]}\n',
  );
});

Deno.test("FrameDecoder joins a frame split across chunks, even inside a UTF-8 character", () => {
  const d = new FrameDecoder();
  const bytes = enc.encode('{"t":"req","id":1,"cmd":"msgto","args":["Hans","héllo ✓"]}\n');
  const out: unknown[] = [];
  for (let i = 0; i < bytes.length; i += 3) out.push(...d.push(bytes.subarray(i, i + 3)));
  assertEquals(out, [{ t: "req", id: 1, cmd: "msgto", args: ["Hans", "héllo ✓"] }]);
  assertEquals(d.bufferedBytes, 0);
});

Deno.test("FrameDecoder returns several frames from one chunk and skips blank lines", () => {
  const d = new FrameDecoder();
  assertEquals(d.push(enc.encode('{"a":1}\n\n\r\n{"b":2}\r\n{"c"')), [{ a: 1 }, { b: 2 }]);
  assertEquals(d.push(enc.encode(":3}\n")), [{ c: 3 }]);
});

Deno.test("FrameDecoder rejects a line over the limit once and resynchronises at its newline", () => {
  const d = new FrameDecoder(32);
  const out = [
    ...d.push(enc.encode("x".repeat(20))),
    ...d.push(enc.encode("y".repeat(20))),
    ...d.push(enc.encode("z".repeat(20) + '\n{"ok":true}\n')),
  ];
  assertEquals(out.length, 2);
  assert(out[0] instanceof FrameError && out[0].code === "too_large");
  assertEquals(out[1], { ok: true });
});

Deno.test("FrameDecoder's limit counts the newline: a line of exactly the limit passes, one byte more does not", () => {
  const limit = 16;
  const fits = `"${"a".repeat(limit - 3)}"\n`; // quotes + text + newline = limit bytes
  const over = `"${"a".repeat(limit - 2)}"\n`;
  for (const split of [false, true]) {
    // Whole in one chunk (the fast path) and split in two (the held-bytes path).
    const feed = (text: string) => {
      const d = new FrameDecoder(limit);
      const bytes = enc.encode(text);
      return split
        ? [...d.push(bytes.subarray(0, 3)), ...d.push(bytes.subarray(3))]
        : d.push(bytes);
    };
    assertEquals(feed(fits), ["a".repeat(limit - 3)]);
    const [error] = feed(over);
    assert(error instanceof FrameError && error.code === "too_large", String(error));
  }
});

Deno.test("FrameDecoder reports bad UTF-8 and bad JSON as errors, not exceptions", () => {
  const d = new FrameDecoder();
  const out = d.push(new Uint8Array([0xc3, 0x28, 0x0a, ...enc.encode("{oops\n")]));
  assertEquals(out.map((e) => (e as FrameError).code), ["bad_utf8", "bad_json"]);
});

Deno.test("FrameDecoder decodes a chunk of many lines alike whether or not one is bad", () => {
  const good = ['{"n":1}', '{"n":"é ✓"}\r', "", "{oops", '{"n":3}'];
  const d = new FrameDecoder(64);
  const out = d.push(enc.encode(good.join("\n") + '\n{"n":'));
  assertEquals(out.length, 4);
  assertEquals([out[0], out[1], out[3]], [{ n: 1 }, { n: "é ✓" }, { n: 3 }]);
  assert(out[2] instanceof FrameError && out[2].code === "bad_json");
  assertEquals(d.push(enc.encode("4}\n")), [{ n: 4 }]);
  // One bad UTF-8 line among good ones is reported alone.
  const mixed = [...enc.encode('{"a":1}\n'), 0xff, 0x0a, ...enc.encode('{"b":2}\n')];
  const out2 = new FrameDecoder(64).push(new Uint8Array(mixed));
  assertEquals(out2.length, 3);
  assert(out2[1] instanceof FrameError && out2[1].code === "bad_utf8");
  assertEquals([out2[0], out2[2]], [{ a: 1 }, { b: 2 }]);
  // Longer than the limit in all: the line over it is still refused.
  const long = new FrameDecoder(16).push(enc.encode('{"a":1}\n{"b":"xxxxxxxxxxxx"}\n{"c":3}\n'));
  assertEquals(long.length, 3);
  assert(long[1] instanceof FrameError && long[1].code === "too_large");
  assertEquals([long[0], long[2]], [{ a: 1 }, { c: 3 }]);
});

Deno.test("parseClientFrame() accepts a well-formed request and defaults args", () => {
  assertEquals(parseClientFrame({ t: "req", id: 3, cmd: "activeuser" }), {
    t: "req",
    id: 3,
    cmd: "activeuser",
    args: [],
  });
});

Deno.test("parseClientFrame() rejects every malformed shape with a bad_frame error", () => {
  const bad: unknown[] = [
    null,
    [],
    "str",
    { t: "res", id: 1, cmd: "x" },
    { t: "req", id: -1, cmd: "x" },
    { t: "req", id: 1.5, cmd: "x" },
    { t: "req", id: "1", cmd: "x" },
    { t: "req", id: 1, cmd: "" },
    { t: "req", id: 1, cmd: "x".repeat(33) },
    { t: "req", id: 1, cmd: "x", args: "a" },
    { t: "req", id: 1, cmd: "x", args: [1] },
    { t: "req", id: 1, cmd: "x", args: new Array(65).fill("a") },
  ];
  for (const value of bad) {
    assertThrows(
      () => parseClientFrame(value),
      (e) => e instanceof FrameError && e.code === "bad_frame",
    );
  }
});

Deno.test("parseClientFrame() accepts acknowledgements and rejects malformed ones", () => {
  assertEquals(parseClientFrame({ t: "ack", inbox: 4, groups: { Jedi: 12 } }), {
    t: "ack",
    inbox: 4,
    groups: { Jedi: 12 },
  });
  assertEquals(parseClientFrame({ t: "ack" }), { t: "ack" });
  for (
    const value of [
      { t: "ack", inbox: -1 },
      { t: "ack", inbox: 1.5 },
      { t: "ack", inbox: "3" },
      { t: "ack", groups: [] },
      { t: "ack", groups: { Jedi: "x" } },
      {
        t: "ack",
        groups: Object.fromEntries(Array.from({ length: 1025 }, (_, i) => [`g${i}`, 1])),
      },
    ]
  ) {
    assertThrows(
      () => parseClientFrame(value),
      (e) => e instanceof FrameError && e.code === "bad_frame",
    );
  }
});

Deno.test("parseServerFrame() accepts responses, pushes, errors and byes", () => {
  assertEquals(parseServerFrame({ t: "res", id: 1, ok: true, code: "ok", lines: [] }).t, "res");
  assertEquals(parseServerFrame({ t: "push", ev: "msg" }).t, "push");
  assertEquals(parseServerFrame({ t: "bye", reason: "x" }).t, "bye");
  assertThrows(() => parseServerFrame({ t: "res", id: 1 }), FrameError);
  assertThrows(() => parseServerFrame({ t: "what" }), FrameError);
});

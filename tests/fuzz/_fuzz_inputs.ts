/**
 * Input generators for the fuzz tests, driven by the seeded {@link Random}, so
 * every run feeds the same inputs and a failure can be replayed.
 *
 * @module
 */

import type { Random } from "../helpers/random.ts";

const encoder = new TextEncoder();

const VERBS = [
  "hello",
  "user",
  "pass",
  "ping",
  "msgto",
  "activeuser",
  "creategroup",
  "joingroup",
  "groupmsg",
  "p2pvideo",
  "help",
  "logout",
  "",
  "HELLO",
  "../x",
  "\u0000",
  "x".repeat(40),
];

const STRINGS = [
  "",
  "1",
  "alice",
  "bob",
  "carol",
  "pw-carol",
  "crew",
  "0",
  "65536",
  "-1",
  "\n",
  "\r\n",
  "\u0000",
  "\u202e",
  "😀",
  "\ud800",
  "a b c",
  "../../etc/passwd",
  "x".repeat(5000),
  "%s%n",
];

/** A random JSON value, possibly deeply nested. */
function randomValue(r: Random, depth = 0): unknown {
  switch (r.int(depth > 3 ? 4 : 7)) {
    case 0:
      return r.pick(STRINGS);
    case 1:
      return r.pick([0, -1, 1.5, 2 ** 31, 2 ** 53, NaN, 1e308]);
    case 2:
      return r.pick([true, false, null]);
    case 3:
      return r.pick(VERBS);
    case 4:
      return Array.from({ length: r.int(4) }, () => randomValue(r, depth + 1));
    case 5:
      return { t: r.pick(["req", "res", "push", "x"]), id: randomValue(r, depth + 1) };
    default:
      return Object.fromEntries(
        Array.from(
          { length: r.int(4) },
          () => [r.pick(["t", "id", "cmd", "args", "__proto__"]), randomValue(r, depth + 1)],
        ),
      );
  }
}

/** A request that is well-formed on the wire, with random verb and arguments. */
export function randomRequest(r: Random, id: number): string {
  const args = Array.from({ length: r.int(5) }, () => r.pick(STRINGS));
  return JSON.stringify({ t: "req", id, cmd: r.pick(VERBS), args });
}

/** One line of hostile input: random bytes, broken JSON, odd frames, huge lines. */
export function randomLine(r: Random, id: number): Uint8Array {
  switch (r.int(9)) {
    case 0:
      return r.bytes(r.int(200));
    case 1:
      return encoder.encode(randomRequest(r, id));
    case 2: {
      // A valid request with bytes flipped, cut or duplicated.
      const b = encoder.encode(randomRequest(r, id));
      const kind = r.int(3);
      if (kind === 0 && b.length > 0) b[r.int(b.length)] ^= 1 << r.int(8);
      if (kind === 1) return b.subarray(0, r.int(b.length + 1));
      if (kind === 2) return new Uint8Array([...b, ...b]);
      return b;
    }
    case 3:
      return encoder.encode(JSON.stringify(randomValue(r)));
    case 4:
      // Deep nesting.
      return encoder.encode("[".repeat(1 + r.int(20_000)) + "]".repeat(r.int(3)));
    case 5:
      // Near and over the frame limit.
      return encoder.encode(
        `{"t":"req","id":1,"cmd":"msgto","args":["bob","${"y".repeat(60_000 + r.int(10_000))}"]}`,
      );
    case 6:
      // Invalid UTF-8 inside a string.
      return new Uint8Array([
        ...encoder.encode('{"t":"req","id":1,"cmd":"'),
        0xc3,
        0x28,
        0xff,
        ...encoder.encode('","args":[]}'),
      ]);
    case 7:
      return encoder.encode(r.pick(["", "\r", " ", "{}", "[]", "null", '"req"', '{"t":"req"}']));
    default:
      return encoder.encode(
        JSON.stringify({ t: "req", id, cmd: r.pick(VERBS), args: randomValue(r) }),
      );
  }
}

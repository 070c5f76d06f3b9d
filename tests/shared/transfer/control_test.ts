import { assert, assertEquals } from "../../helpers/assert.ts";
import {
  BIND_REQUEST_SIZE,
  ControlCodec,
  ControlType,
  formatIp,
  KeyExchange,
  parseIp,
} from "../../../shared/transfer/control.ts";

const ID = "0123456789abcdef";
const SECRET = "ab".repeat(32);

Deno.test("control packets round-trip and every flipped bit is refused", () => {
  const codec = new ControlCodec(ID, SECRET);
  const packets = [
    {
      type: ControlType.BindRequest,
      body: {
        role: "receiver" as const,
        seq: 3,
        candidates: [{ hostname: "10.0.0.1", port: 5 }, { hostname: "2001:db8::1", port: 6 }],
      },
    },
    {
      type: ControlType.BindResponse,
      body: {
        seq: 3,
        relay: true,
        reflexive: { hostname: "198.51.100.7", port: 61000 },
        peer: [{ hostname: "198.51.100.8", port: 1 }],
      },
    },
    {
      type: ControlType.Probe,
      body: {
        role: "sender" as const,
        txid: new Uint8Array(8).fill(7),
        publicKey: new Uint8Array(32).fill(9),
      },
    },
    { type: ControlType.RelayNotice, body: { code: 2 as const, limit: 32 } },
  ];
  for (const p of packets) {
    const bytes = codec.seal(p);
    assertEquals(codec.open(bytes), p);
    for (let i = 0; i < bytes.length; i++) {
      const bad = bytes.slice();
      bad[i] ^= 1;
      assertEquals(codec.open(bad), undefined, `bit flipped in byte ${i} of type ${p.type}`);
    }
    assertEquals(codec.open(bytes.subarray(0, bytes.length - 1)), undefined);
  }
  assertEquals(codec.seal(packets[0]).length, BIND_REQUEST_SIZE);
  // Another transfer's key opens nothing of this one.
  assertEquals(new ControlCodec(ID, "cd".repeat(32)).open(codec.seal(packets[2])), undefined);
});

Deno.test("addresses are written as sockets report them", () => {
  for (
    const [text, shown] of [
      ["::1", "::1"],
      ["2001:DB8::1", "2001:db8::1"],
      ["1:0:0:2:0:0:0:3", "1:0:0:2::3"],
      ["::ffff:192.0.2.1", "192.0.2.1"],
      ["192.0.2.1", "192.0.2.1"],
    ]
  ) {
    assertEquals(formatIp(parseIp(text)), shown);
  }
  let threw = false;
  try {
    parseIp("example.com");
  } catch (e) {
    threw = e instanceof RangeError;
  }
  assert(threw);
});

Deno.test("both peers derive the same transfer secret, which the transfer secret alone does not give", () => {
  const a = new KeyExchange();
  const b = new KeyExchange();
  const ab = a.deriveSecret(b.publicKey, SECRET, ID);
  assertEquals(ab, b.deriveSecret(a.publicKey, SECRET, ID));
  // The relay knows SECRET and sees both public keys; its own key pair gets it nowhere.
  const relay = new KeyExchange();
  assert(relay.deriveSecret(a.publicKey, SECRET, ID).some((x, i) => x !== ab[i]));
  assert(ab.some((x, i) => x !== a.deriveSecret(b.publicKey, "cd".repeat(32), ID)[i]));
});

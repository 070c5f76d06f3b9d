import { assert, assertEquals } from "../../helpers/assert.ts";
import type { Address } from "../../../shared/address.ts";
import {
  BIND_REQUEST_SIZE,
  ControlCodec,
  type ControlPacket,
  ControlType,
  RelayRefusal,
} from "../../../shared/transfer/control.ts";
import { REGISTRATION_IDLE_MS, Rendezvous } from "../../../server/udp/rendezvous.ts";
import type { Transmit } from "../../../shared/transfer/endpoint.ts";

const ID = "0123456789abcdef";
const SECRET = "ab".repeat(32);
const ALICE: Address = { hostname: "198.51.100.1", port: 4001 };
const BOB: Address = { hostname: "198.51.100.2", port: 4002 };
const STRANGER: Address = { hostname: "192.0.2.66", port: 6666 };

function drain(rv: Rendezvous): Transmit[] {
  const out: Transmit[] = [];
  for (let t = rv.pollTransmit(); t !== undefined; t = rv.pollTransmit()) out.push(t);
  return out;
}

const codec = new ControlCodec(ID, SECRET);

function bind(role: "sender" | "receiver", seq: number, candidates: Address[] = []): Uint8Array {
  return codec.seal({ type: ControlType.BindRequest, body: { role, seq, candidates } });
}

function opened(t: Transmit): ControlPacket {
  const p = codec.open(t.bytes);
  assert(p !== undefined, "the server's answer must authenticate");
  return p;
}

/** A transfer datagram (0xA1) of `size` bytes for ID; the relay never opens it. */
function datagram(size: number): Uint8Array {
  const d = new Uint8Array(size);
  d[0] = 0xa1;
  d[1] = 3;
  d.set(
    codec.seal({ type: ControlType.RelayNotice, body: { code: 1, limit: 0 } }).subarray(2, 10),
    2,
  );
  return d;
}

function boundPair(rv: Rendezvous): void {
  rv.register(ID, SECRET, 0);
  rv.handleDatagram(bind("sender", 1, [{ hostname: "10.0.0.5", port: 4001 }]), ALICE, 0);
  rv.handleDatagram(bind("receiver", 1), BOB, 0);
  drain(rv);
}

Deno.test("a binding request is answered with the address the server saw and the peer's candidates", () => {
  const rv = new Rendezvous();
  rv.register(ID, SECRET, 0);
  rv.handleDatagram(bind("sender", 1, [{ hostname: "10.0.0.5", port: 4001 }]), ALICE, 0);
  const [first] = drain(rv);
  assertEquals(first.to, ALICE);
  const a = opened(first);
  assert(a.type === ControlType.BindResponse);
  assertEquals(a.body, { seq: 1, relay: true, reflexive: ALICE, peer: [] });
  rv.handleDatagram(bind("receiver", 7), BOB, 1);
  const [second] = drain(rv);
  const b = opened(second);
  assert(b.type === ControlType.BindResponse);
  assertEquals(b.body.reflexive, BOB);
  assertEquals(b.body.peer, [ALICE, { hostname: "10.0.0.5", port: 4001 }]);
  // No answer is ever larger than the request: the port amplifies nothing.
  assert(first.bytes.length <= BIND_REQUEST_SIZE && second.bytes.length <= BIND_REQUEST_SIZE);
});

Deno.test("forged, replayed and unknown binding requests get no answer", () => {
  const rv = new Rendezvous();
  rv.register(ID, SECRET, 0);
  const request = bind("sender", 5);
  const forged = request.slice();
  forged[20] ^= 1;
  rv.handleDatagram(forged, STRANGER, 0);
  const other = new ControlCodec(ID, "cd".repeat(32)); // someone who does not know the secret
  rv.handleDatagram(
    other.seal({ type: ControlType.BindRequest, body: { role: "sender", seq: 9, candidates: [] } }),
    STRANGER,
    0,
  );
  assertEquals(drain(rv), []);
  rv.handleDatagram(request, ALICE, 0);
  assertEquals(drain(rv).length, 1);
  // The same request again, from anywhere (a replay aimed at a victim): dropped.
  rv.handleDatagram(request, STRANGER, 1);
  rv.handleDatagram(bind("sender", 4), STRANGER, 1);
  const unknown = new ControlCodec("fedcba9876543210", SECRET);
  rv.handleDatagram(
    unknown.seal({
      type: ControlType.BindRequest,
      body: { role: "sender", seq: 1, candidates: [] },
    }),
    ALICE,
    1,
  );
  assertEquals(drain(rv), []);
  assertEquals(rv.stats.droppedUnauthentic, 4);
  assertEquals(rv.stats.droppedUnknown, 1);
});

Deno.test("the relay forwards a brokered transfer's datagrams between its two bound peers only", () => {
  const rv = new Rendezvous();
  boundPair(rv);
  const d = datagram(1200);
  rv.handleDatagram(d, ALICE, 1);
  assertEquals(drain(rv), [{ bytes: d, to: BOB }]);
  rv.handleDatagram(d, BOB, 2);
  assertEquals(drain(rv), [{ bytes: d, to: ALICE }]);
  // From anyone else, or for a transfer it did not broker: nothing leaves.
  rv.handleDatagram(d, STRANGER, 3);
  const unknown = d.slice();
  unknown[2] ^= 0xff;
  rv.handleDatagram(unknown, ALICE, 3);
  assertEquals(drain(rv), []);
  assertEquals(rv.stats.droppedNotPeer, 1);
  assertEquals(rv.stats.droppedUnknown, 1);
  assertEquals(rv.stats.relayedBytes, 2400);
});

Deno.test("a peer that rebinds from a new address is relayed to there", () => {
  const rv = new Rendezvous();
  boundPair(rv);
  const moved = { hostname: "198.51.100.2", port: 5999 };
  rv.handleDatagram(bind("receiver", 2), moved, 1);
  drain(rv);
  rv.handleDatagram(datagram(100), ALICE, 2);
  assertEquals(drain(rv)[0].to, moved);
});

Deno.test("the per-transfer rate cap drops what is over it and tells both peers why, once a second", () => {
  const rv = new Rendezvous({ transferRateBps: 100_000 });
  boundPair(rv);
  let forwarded = 0;
  const notices: Transmit[] = [];
  // 200 datagrams of 1200 bytes at once: the bucket holds 64 KiB.
  for (let i = 0; i < 200; i++) {
    rv.handleDatagram(datagram(1200), ALICE, 10);
    for (const t of drain(rv)) {
      if (t.bytes[0] === 0xa1) forwarded++;
      else notices.push(t);
    }
  }
  assertEquals(forwarded, Math.floor(64 * 1024 / 1200));
  assertEquals(notices.map((n) => n.to), [ALICE, BOB]);
  const n = opened(notices[0]);
  assert(n.type === ControlType.RelayNotice);
  assertEquals(n.body, { code: RelayRefusal.TransferRate, limit: 100_000 });
  // A second later the bucket is full again (it holds at most 64 KiB).
  for (let i = 0; i < 200; i++) rv.handleDatagram(datagram(1200), ALICE, 1010);
  assertEquals(drain(rv).filter((t) => t.bytes[0] === 0xa1).length, forwarded);
});

Deno.test("the concurrency cap refuses a second relayed transfer until the first goes idle", () => {
  const rv = new Rendezvous({ maxTransfers: 1 });
  boundPair(rv);
  const ID2 = "1111111111111111";
  const codec2 = new ControlCodec(ID2, SECRET);
  rv.register(ID2, SECRET, 0);
  const carol = { hostname: "198.51.100.3", port: 1 };
  const dave = { hostname: "198.51.100.4", port: 1 };
  rv.handleDatagram(
    codec2.seal({
      type: ControlType.BindRequest,
      body: { role: "sender", seq: 1, candidates: [] },
    }),
    carol,
    0,
  );
  rv.handleDatagram(
    codec2.seal({
      type: ControlType.BindRequest,
      body: { role: "receiver", seq: 1, candidates: [] },
    }),
    dave,
    0,
  );
  drain(rv);
  rv.handleDatagram(datagram(500), ALICE, 1);
  assertEquals(drain(rv).length, 1);
  const second = codec2.seal({
    type: ControlType.Probe,
    body: { role: "sender", txid: new Uint8Array(8), publicKey: new Uint8Array(32) },
  });
  rv.handleDatagram(second, carol, 2);
  const refused = drain(rv);
  assertEquals(refused.map((t) => t.to), [carol, dave]);
  const n = codec2.open(refused[0].bytes);
  assert(n?.type === ControlType.RelayNotice);
  assertEquals(n.body.code, RelayRefusal.TooManyTransfers);
  // The first stops relaying; after the idle sweep the slot is free.
  rv.handleTimeout(11_000);
  rv.handleDatagram(second, carol, 11_001);
  assertEquals(drain(rv), [{ bytes: second, to: dave }]);
});

Deno.test("with the relay off, bindings are answered but nothing is relayed", () => {
  const rv = new Rendezvous({ relay: false });
  rv.register(ID, SECRET, 0);
  rv.handleDatagram(bind("sender", 1), ALICE, 0);
  const answer = opened(drain(rv)[0]);
  assert(answer.type === ControlType.BindResponse && answer.body.relay === false);
  rv.handleDatagram(bind("receiver", 1), BOB, 0);
  drain(rv);
  rv.handleDatagram(datagram(100), ALICE, 1);
  assertEquals(drain(rv).filter((t) => t.bytes[0] === 0xa1), []);
});

Deno.test("a brokered transfer is forgotten after two idle minutes", () => {
  const rv = new Rendezvous();
  boundPair(rv);
  rv.handleTimeout(REGISTRATION_IDLE_MS + 10_000);
  assertEquals(rv.registrations, 0);
  rv.handleDatagram(datagram(100), ALICE, REGISTRATION_IDLE_MS + 10_001);
  assertEquals(drain(rv), []);
});

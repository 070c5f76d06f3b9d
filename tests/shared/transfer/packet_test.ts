import { assert } from "../../helpers/assert.ts";
import {
  CancelCode,
  type CipherSuite,
  createPacketProtection,
  decodeAccept,
  decodeAck,
  decodeCancel,
  decodeData,
  decodeHello,
  encodeAccept,
  encodeAck,
  encodeCancel,
  encodeDataHeader,
  encodeHello,
  FAST_AEAD_MAX_BYTES,
  fromHex,
  HEADER_SIZE,
  loadFastAead,
  PacketCodec,
  PacketError,
  PacketType,
  parseSecret,
  peekTransferId,
  TAG_SIZE,
  TransferReceiver,
} from "../../../shared/transfer/mod.ts";
import { SECRET, TRANSFER_ID } from "./_sim.ts";

const ID = fromHex(TRANSFER_ID);
const KEY = parseSecret(SECRET);
const SUITES: CipherSuite[] = ["chacha20-poly1305", "aes-256-gcm", "poly1305"];

// Loaded for the whole file: each ChaCha20 suite runs below with libsodium and with
// node:crypto alone.
const LIBSODIUM_LOADED = await loadFastAead();

/** A suite and whether libsodium may protect its small datagrams. */
interface Variant {
  suite: CipherSuite;
  libsodium: boolean;
  name: string;
}

const VARIANTS: Variant[] = SUITES.flatMap((suite) =>
  (suite === "aes-256-gcm" ? [false] : [true, false]).map((libsodium) => ({
    suite,
    libsodium,
    name: `${suite} (${libsodium ? "libsodium" : "node:crypto"})`,
  }))
);

function codecs(suite: CipherSuite, libsodium = true) {
  const protection = createPacketProtection(KEY, suite, { libsodium });
  return {
    sender: new PacketCodec(ID, protection, 0),
    receiver: new PacketCodec(ID, protection, 1),
  };
}

function errorKind(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof PacketError, `not a PacketError: ${e}`);
    return e.kind;
  }
  return "none";
}

for (const { suite, libsodium, name } of VARIANTS) {
  Deno.test(`PacketCodec seals into a given buffer when it fits, with ${name}`, () => {
    const { sender, receiver } = codecs(suite, libsodium);
    const data = new Uint8Array(1000).map((_, i) => i * 7);
    const fresh = sender.seal(PacketType.Data, 9, encodeDataHeader(3), data);
    const out = new Uint8Array(2000).fill(0xee);
    const inOut = sender.seal(PacketType.Data, 9, encodeDataHeader(3), data, out);
    assert.equal(inOut.buffer, out.buffer);
    assert.deepEqual([...inOut], [...fresh]);
    assert.deepEqual([...decodeData(receiver.open(inOut).body).data], [...data]);
    // Too small: a new array, `out` untouched.
    const small = new Uint8Array(100);
    const other = sender.seal(PacketType.Data, 10, encodeDataHeader(3), data, small);
    assert.notEqual(other.buffer, small.buffer);
    assert.ok(small.every((b) => b === 0));
  });
}

for (const { suite, libsodium, name } of VARIANTS) {
  Deno.test(`PacketCodec round-trips a DATA packet with ${name}`, () => {
    const { sender, receiver } = codecs(suite, libsodium);
    const data = new Uint8Array(1000).map((_, i) => i);
    const datagram = sender.seal(PacketType.Data, 2 ** 40 + 5, encodeDataHeader(77), data);
    assert.equal(datagram.length, HEADER_SIZE + 4 + 1000 + TAG_SIZE);
    assert.equal(peekTransferId(datagram), TRANSFER_ID);
    const opened = receiver.open(datagram);
    assert.equal(opened.type, PacketType.Data);
    assert.equal(opened.pn, 2 ** 40 + 5);
    const { chunk, data: back } = decodeData(opened.body);
    assert.equal(chunk, 77);
    assert.deepEqual([...back], [...data]);
  });

  Deno.test(`PacketCodec rejects a flipped bit anywhere with ${name}`, () => {
    const { sender, receiver } = codecs(suite, libsodium);
    const datagram = sender.seal(PacketType.Ping, 3, new Uint8Array(0));
    for (let i = 0; i < datagram.length; i++) {
      if (i >= 2 && i < 10) continue; // transfer id: routed elsewhere, also rejected below
      const bad = datagram.slice();
      bad[i] ^= 0x10;
      assert.notEqual(errorKind(() => receiver.open(bad)), "none", `byte ${i} not covered`);
    }
    const otherId = datagram.slice();
    otherId[5] ^= 1;
    assert.equal(errorKind(() => receiver.open(otherId)), "malformed");
  });

  Deno.test(`PacketCodec refuses its own direction's packets with ${name}`, () => {
    const { sender } = codecs(suite, libsodium);
    const datagram = sender.seal(PacketType.Ping, 1, new Uint8Array(0));
    assert.equal(errorKind(() => sender.open(datagram)), "unauthentic");
  });
}

Deno.test("only poly1305 leaves the body in clear, and its tag covers every body byte", () => {
  const data = new Uint8Array(300).map((_, i) => (i * 7 + 1) & 0xff);
  const inClear = (d: Uint8Array) => d.subarray(HEADER_SIZE + 4, HEADER_SIZE + 4 + data.length);
  for (const suite of SUITES) {
    const { sender } = codecs(suite);
    const datagram = sender.seal(PacketType.Data, 9, encodeDataHeader(1), data);
    assert.equal(
      inClear(datagram).every((b, i) => b === data[i]),
      suite === "poly1305",
      `${suite}: body ${suite === "poly1305" ? "should" : "should not"} be in clear`,
    );
  }
  const { sender, receiver } = codecs("poly1305");
  const datagram = sender.seal(PacketType.Data, 9, encodeDataHeader(1), data);
  for (let i = HEADER_SIZE; i < datagram.length; i++) {
    const bad = datagram.slice();
    bad[i] ^= 0x01;
    assert.equal(errorKind(() => receiver.open(bad)), "unauthentic", `byte ${i} not covered`);
  }
});

Deno.test("libsodium loads here (without it node:crypto would do all the work, unnoticed)", () => {
  assert.equal(LIBSODIUM_LOADED, true);
});

Deno.test("libsodium and node:crypto make the same datagrams and open each other's", () => {
  // DATA bodies around the size where libsodium hands over to node:crypto.
  const largestFast = FAST_AEAD_MAX_BYTES - HEADER_SIZE - 4 - TAG_SIZE;
  for (const suite of ["chacha20-poly1305", "poly1305"] as const) {
    const fast = codecs(suite, true);
    const node = codecs(suite, false);
    for (const size of [0, 1, 1162, largestFast, largestFast + 1, 60_000]) {
      const data = new Uint8Array(size).map((_, i) => (i * 31 + size) & 0xff);
      const a = fast.sender.seal(PacketType.Data, size + 1, encodeDataHeader(5), data);
      const b = node.sender.seal(PacketType.Data, size + 1, encodeDataHeader(5), data);
      assert.deepEqual([...a], [...b], `${suite}, ${size} bytes: datagrams differ`);
      for (const [opener, datagram] of [[node, a], [fast, b]] as const) {
        const back = decodeData(opener.receiver.open(datagram.slice()).body).data;
        assert.deepEqual([...back], [...data], `${suite}, ${size} bytes: wrong body`);
      }
    }
  }
});

Deno.test("a datagram that does not open is left as it was (libsodium decrypts in place)", () => {
  const { sender, receiver } = codecs("chacha20-poly1305", true);
  const data = new Uint8Array(1000).map((_, i) => i & 0xff);
  const datagram = sender.seal(PacketType.Data, 4, encodeDataHeader(1), data);
  for (const at of [HEADER_SIZE + 10, datagram.length - 1]) {
    const bad = datagram.slice();
    bad[at] ^= 1;
    const before = bad.slice();
    assert.equal(errorKind(() => receiver.open(bad)), "unauthentic");
    assert.deepEqual([...bad], [...before], `byte ${at}: the datagram was changed`);
  }
  // An authentic one is opened in place: its body now reads as the plaintext.
  const body = receiver.open(datagram).body;
  assert.equal(body.buffer, datagram.buffer);
  assert.deepEqual([...decodeData(body).data], [...data]);
});

Deno.test("PacketCodec reports a bad tag as unauthentic and truncation as malformed", () => {
  const { sender, receiver } = codecs("chacha20-poly1305");
  const datagram = sender.seal(PacketType.Ping, 1, new Uint8Array(0));
  const badTag = datagram.slice();
  badTag[badTag.length - 1] ^= 1;
  assert.equal(errorKind(() => receiver.open(badTag)), "unauthentic");
  for (const n of [0, 1, 17, HEADER_SIZE + TAG_SIZE - 1]) {
    assert.equal(errorKind(() => receiver.open(datagram.subarray(0, n))), "malformed");
  }
  const wrongVersion = datagram.slice();
  wrongVersion[0] = 0x42;
  assert.equal(errorKind(() => receiver.open(wrongVersion)), "malformed");
  assert.equal(peekTransferId(wrongVersion), undefined);
  const wrongKey = new PacketCodec(
    ID,
    createPacketProtection(new Uint8Array(32), "chacha20-poly1305"),
    1,
  );
  assert.equal(errorKind(() => wrongKey.open(datagram)), "unauthentic");
});

Deno.test("ACCEPT port lists: bad counts and port 0 are refused both ways", () => {
  const base = { largestPn: 1, ackDelayUs: 0, limit: 4 };
  assert.throws(() => encodeAccept({ ...base, ports: [0] }), RangeError);
  assert.throws(() => encodeAccept({ ...base, ports: new Array(16).fill(9) }), RangeError);
  const body = encodeAccept({ ...base, ports: [7, 8] });
  const zeroCount = body.slice();
  zeroCount[16] = 0;
  const tooMany = body.slice();
  tooMany[16] = 16;
  const portZero = body.slice();
  portZero[17] = 0;
  portZero[18] = 0;
  for (
    const bad of [zeroCount, tooMany, portZero, body.subarray(0, 19), new Uint8Array([...body, 1])]
  ) {
    assert.throws(() => decodeAccept(bad), PacketError);
  }
});

Deno.test("frame codecs round-trip every body", () => {
  const sha256 = new Uint8Array(32).fill(7);
  assert.deepEqual(
    decodeHello(encodeHello({ size: 2 ** 40, chunkSize: 1162, sha256, fileName: "vidéo 1.mp4" })),
    { size: 2 ** 40, chunkSize: 1162, sha256, fileName: "vidéo 1.mp4" },
  );
  const accept = { largestPn: 9, ackDelayUs: 10, limit: 11, ports: [] };
  assert.deepEqual(decodeAccept(encodeAccept(accept)), accept);
  assert.equal(encodeAccept(accept).length, 16); // no port list on the wire when there is none
  const striped = { ...accept, ports: [40001, 1, 65535] };
  assert.deepEqual(decodeAccept(encodeAccept(striped)), striped);
  const ack = { largestPn: 1234, ackDelayUs: 99, cumAck: 5, limit: 900, ranges: [20, 30, 7, 9] };
  assert.deepEqual(decodeAck(encodeAck(ack)), ack);
  assert.deepEqual(decodeCancel(encodeCancel({ code: CancelCode.TooLarge, reason: "big" })), {
    code: CancelCode.TooLarge,
    reason: "big",
  });
  const long = decodeCancel(encodeCancel({ code: CancelCode.Cancelled, reason: "é".repeat(500) }));
  assert.ok(new TextEncoder().encode(long.reason).length <= 200);
});

Deno.test("frame decoders reject truncated and inconsistent bodies", () => {
  const hello = encodeHello({ size: 1, chunkSize: 1, sha256: new Uint8Array(32), fileName: "a" });
  for (let n = 0; n < hello.length; n++) {
    assert.equal(errorKind(() => decodeHello(hello.subarray(0, n))), "malformed");
  }
  const trailing = new Uint8Array(hello.length + 1);
  trailing.set(hello);
  assert.equal(errorKind(() => decodeHello(trailing)), "malformed");
  const badRange = encodeAck({
    largestPn: 1,
    ackDelayUs: 0,
    cumAck: 10,
    limit: 20,
    ranges: [5, 8],
  });
  assert.equal(errorKind(() => decodeAck(badRange)), "malformed");
  assert.equal(errorKind(() => decodeData(new Uint8Array(3))), "malformed");
  assert.equal(errorKind(() => decodeCancel(new Uint8Array([1, 0, 5, 65]))), "malformed");
});

Deno.test("handleDatagram() drops a replayed packet and counts it", () => {
  const receiver = new TransferReceiver({
    transferId: TRANSFER_ID,
    secret: SECRET,
    expected: { fileName: "a", size: 1, sha256: new Uint8Array(32) },
  }, 0);
  const { sender } = codecs("chacha20-poly1305");
  const hello = sender.seal(
    PacketType.Hello,
    0,
    encodeHello({ size: 1, chunkSize: 1162, sha256: new Uint8Array(32), fileName: "a" }),
  );
  assert.equal(receiver.handleDatagram(hello, 1), true);
  assert.equal(receiver.handleDatagram(hello, 2), false);
  assert.equal(receiver.stats.droppedReplayed, 1);
  assert.equal(receiver.handleDatagram(new Uint8Array([1, 2, 3]), 3), false);
  assert.equal(receiver.stats.droppedMalformed, 1);
  const forged = hello.slice();
  forged[forged.length - 2] ^= 4;
  forged[10 + 7] = 9; // a fresh packet number, so it reaches the tag check
  assert.equal(receiver.handleDatagram(forged, 4), false);
  assert.equal(receiver.stats.droppedUnauthentic, 1);
});

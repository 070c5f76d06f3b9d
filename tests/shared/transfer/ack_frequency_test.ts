/**
 * ACK frequency: the receiver acknowledges every 2 in-order DATA packets while a transfer
 * starts, then every DEFAULT_ACK_EVERY (8); at once on a gap or a filled hole; and at most
 * the ACK delay after an unacknowledged packet. A receiver is fed hand-made packets, one
 * at a time, and asked after each what it sends.
 */

import { assert } from "../../helpers/assert.ts";
import {
  createPacketProtection,
  DATA_OVERHEAD,
  DEFAULT_MAX_ACK_DELAY_MS,
  encodeDataHeader,
  encodeHello,
  FROM_SENDER,
  fromHex,
  PacketCodec,
  PacketType,
  TransferReceiver,
} from "../../../shared/transfer/mod.ts";
import { sha256Hex } from "./_sim.ts";

const ID = new Uint8Array(8).fill(7);
const SECRET = new Uint8Array(32).fill(9);
const CHUNK = 1200 - DATA_OVERHEAD;
const CHUNKS = 1000;

/** A receiver past its handshake, and a way to hand it chunk `c` at time `now`. */
function started() {
  const protection = createPacketProtection(SECRET, "poly1305");
  const codec = new PacketCodec(ID, protection, FROM_SENDER);
  const data = new Uint8Array(CHUNK).fill(1);
  const size = CHUNKS * CHUNK;
  const sha256 = sha256Hex(new Uint8Array(size).fill(1));
  const receiver = new TransferReceiver({
    transferId: ID,
    secret: SECRET,
    suite: "poly1305",
    payloadSize: CHUNK + DATA_OVERHEAD,
    expected: { fileName: "a.mp4", size, sha256 },
  }, 0);
  let pn = 0;
  const hello = encodeHello({ size, chunkSize: CHUNK, sha256: fromHex(sha256), fileName: "a.mp4" });
  receiver.handleDatagram(codec.seal(PacketType.Hello, pn++, hello), 0);
  /** Packets the receiver sends now, by type. */
  const sent = (now: number) => {
    const types: number[] = [];
    for (let d = receiver.pollTransmit(now); d !== undefined; d = receiver.pollTransmit(now)) {
      types.push(d[1]);
    }
    while (receiver.pollData() !== undefined) { /* the "disk" takes everything */ }
    return types;
  };
  assert.deepEqual(sent(0), [PacketType.Accept]);
  /** Delivers chunk `c`; returns how many ACKs that made the receiver send at once. */
  const deliver = (c: number, now: number) => {
    receiver.handleDatagram(codec.seal(PacketType.Data, pn++, encodeDataHeader(c), data), now);
    return sent(now).filter((t) => t === PacketType.Ack).length;
  };
  return { deliver, sent };
}

/** The chunk that completes each `step` chunks from `from` up to `to`: (0, 2, 6) → 1, 3, 5. */
function every(from: number, step: number, to: number): number[] {
  return Array.from(
    { length: Math.floor((to - from) / step) },
    (_, i) => from + step * (i + 1) - 1,
  );
}

Deno.test("ACKs: every 2 in-order DATA packets at first, then every 8", () => {
  const { deliver } = started();
  const acked: number[] = [];
  for (let c = 0; c < 300; c++) if (deliver(c, 1 + c * 0.01) > 0) acked.push(c);
  // Chunks 1, 3, …, 99 (the first 100: one ACK per 2), then 107, 115, …, 299 (one per 8).
  assert.deepEqual(acked, [...every(0, 2, 100), ...every(100, 8, 300)]);
});

Deno.test("ACKs: a gap and the hole filled are acknowledged at once, then every 2 again", () => {
  const { deliver } = started();
  for (let c = 0; c < 200; c++) deliver(c, 1);
  assert.equal(deliver(201, 2), 1, "a new gap (200 missing) is not acknowledged at once");
  assert.equal(deliver(202, 2), 0, "in order after the gap: counted, not acknowledged");
  assert.equal(deliver(200, 2), 1, "the filled hole is not acknowledged at once");
  // A loss may have shrunk the sender's window below 8 packets: back to one ACK per 2 for
  // the next 100 in order (203 … 302), then one per 8.
  const acked: number[] = [];
  for (let c = 203; c < 403; c++) if (deliver(c, 3) > 0) acked.push(c);
  assert.deepEqual(acked, [...every(203, 2, 303), ...every(303, 8, 403)]);
});

Deno.test("ACKs: a lone packet is acknowledged within the ACK delay", () => {
  const { deliver, sent } = started();
  for (let c = 0; c < 200; c++) deliver(c, 1);
  sent(5); // what is left over from those goes out
  assert.equal(deliver(200, 10), 0);
  assert.deepEqual(sent(10 + DEFAULT_MAX_ACK_DELAY_MS - 0.1), []);
  assert.deepEqual(sent(10 + DEFAULT_MAX_ACK_DELAY_MS), [PacketType.Ack]);
});

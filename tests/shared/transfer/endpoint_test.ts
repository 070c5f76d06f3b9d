import { assert, assertEquals } from "../../helpers/assert.ts";
import { Endpoint, type Transmit } from "../../../shared/transfer/endpoint.ts";
import { TransferReceiver, TransferSender } from "../../../shared/transfer/mod.ts";

const ID = "0123456789abcdef";
const SECRET = "ab".repeat(32);
const SHA = "00".repeat(32);

function machines(now: number) {
  const sender = new TransferSender(
    { transferId: ID, secret: SECRET, fileName: "f", size: 0, sha256: SHA },
    now,
  );
  const receiver = new TransferReceiver({
    transferId: ID,
    secret: SECRET,
    expected: { fileName: "f", size: 0, sha256: SHA },
  }, now);
  return { sender, receiver };
}

function drain(poll: () => Transmit | undefined): Transmit[] {
  const out: Transmit[] = [];
  for (let t = poll(); t !== undefined; t = poll()) out.push(t);
  return out;
}

Deno.test("the endpoint routes by transfer id and learns the sender's port from its first authentic datagram", () => {
  const { sender, receiver } = machines(0);
  const a = new Endpoint();
  const b = new Endpoint();
  const out = a.addSender(sender, { hostname: "::ffff:10.0.0.2", port: 7000 });
  const inn = b.addReceiver(receiver, "10.0.0.1");
  const hello = drain(() => out.pollTransmit(0));
  assertEquals(hello.length, 1);
  assertEquals(hello[0].to, { hostname: "10.0.0.2", port: 7000 });
  // Nothing to send before the receiver knows where the sender is.
  assertEquals(inn.pollTransmit(0), undefined);
  // From the wrong host: dropped before the machine sees it.
  assertEquals(
    b.handleDatagram(hello[0].bytes, { hostname: "10.0.0.9", port: 6000 }, 1),
    undefined,
  );
  assertEquals(b.stats.droppedWrongAddress, 1);
  assertEquals(b.handleDatagram(hello[0].bytes, { hostname: "10.0.0.1", port: 6000 }, 1), inn);
  assertEquals(inn.path?.address, { hostname: "10.0.0.1", port: 6000 });
  const replies = drain(() => inn.pollTransmit(1));
  assert(replies.length >= 1);
  assert(replies.every((r) => r.to.port === 6000));
  // Once the port is known, the same host from another port is refused.
  assertEquals(
    b.handleDatagram(hello[0].bytes, { hostname: "10.0.0.1", port: 6001 }, 2),
    undefined,
  );
  assertEquals(b.stats.droppedWrongAddress, 2);
});

Deno.test("the endpoint counts garbage and unknown transfer ids, and refuses a second use of an id", () => {
  const { sender, receiver } = machines(0);
  const a = new Endpoint();
  a.addSender(sender, { hostname: "10.0.0.2", port: 1 });
  assertEquals(
    a.handleDatagram(new Uint8Array([1, 2, 3]), { hostname: "x", port: 1 }, 0),
    undefined,
  );
  const other = new Uint8Array(40);
  other[0] = 0xa1;
  assertEquals(a.handleDatagram(other, { hostname: "10.0.0.2", port: 1 }, 0), undefined);
  assertEquals(a.stats, {
    datagramsReceived: 2,
    droppedMalformed: 1,
    droppedUnknownTransfer: 1,
    droppedWrongAddress: 0,
  });
  let threw = false;
  try {
    a.addReceiver(receiver, "10.0.0.2");
  } catch (e) {
    threw = e instanceof TypeError;
  }
  assert(threw);
  assertEquals(a.pollTimeout(), sender.pollTimeout());
});

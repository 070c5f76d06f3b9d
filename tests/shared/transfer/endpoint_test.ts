import { assert, assertEquals } from "../../helpers/assert.ts";
import { Endpoint } from "../../../shared/transfer/endpoint.ts";
import { TransferReceiver, TransferSender } from "../../../shared/transfer/mod.ts";

const ID = "0123456789abcdef";
const SECRET = "ab".repeat(32);

Deno.test("the endpoint counts garbage and unknown transfer ids, and refuses a second use of an id", () => {
  const sender = new TransferSender(
    { transferId: ID, secret: SECRET, fileName: "f", size: 0, sha256: "00".repeat(32) },
    0,
  );
  const receiver = new TransferReceiver({
    transferId: ID,
    secret: SECRET,
    expected: { fileName: "f", size: 0, sha256: "00".repeat(32) },
  }, 0);
  const a = new Endpoint();
  a.addSender(sender, { secret: SECRET, candidates: [{ hostname: "10.0.0.2", port: 1 }], now: 0 });
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
    droppedUnauthentic: 0,
  });
  let threw = false;
  try {
    a.addReceiver(receiver, { secret: SECRET, now: 0 });
  } catch (e) {
    threw = e instanceof TypeError;
  }
  assert(threw);
});

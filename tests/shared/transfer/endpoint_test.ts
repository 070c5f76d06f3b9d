import { assert, assertEquals } from "../../helpers/assert.ts";
import { Endpoint, MAX_UNANSWERED_PROBES } from "../../../shared/transfer/endpoint.ts";
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

function pair() {
  const sha256 = "00".repeat(32);
  const sender = new TransferSender({
    transferId: ID,
    secret: SECRET,
    fileName: "f",
    size: 0,
    sha256,
  }, 0);
  const receiver = new TransferReceiver({
    transferId: ID,
    secret: SECRET,
    expected: { fileName: "f", size: 0, sha256 },
  }, 0);
  const a = new Endpoint();
  const b = new Endpoint();
  const out = a.addSender(sender, { secret: SECRET, candidates: [B], now: 0 });
  const inn = b.addReceiver(receiver, { secret: SECRET, now: 0 });
  return { a, b, out, inn };
}

const A = { hostname: "198.51.100.1", port: 1000 };
const B = { hostname: "198.51.100.2", port: 2000 };

function sent(
  link: { pollTransmit(now: number): { bytes: Uint8Array; to: unknown } | undefined },
  now: number,
) {
  const out = [];
  for (let t = link.pollTransmit(now); t !== undefined; t = link.pollTransmit(now)) out.push(t);
  return out;
}

Deno.test("a replayed probe is not answered again, so it cannot aim the endpoint at someone", () => {
  const { b, out, inn } = pair();
  out.handleTimeout(0);
  const [probe] = sent(out, 0);
  assertEquals(probe.to, B);
  assertEquals(b.handleDatagram(probe.bytes, A, 1), inn);
  const answers = sent(inn, 1);
  assertEquals(answers.length, 1); // the PROBE_ACK
  // The same probe again, as if replayed from a victim's address: no answer goes there.
  const victim = { hostname: "192.0.2.99", port: 53 };
  b.handleDatagram(probe.bytes, victim, 2);
  assertEquals(
    sent(inn, 2).filter((t) => (t.to as typeof victim).hostname === victim.hostname),
    [],
  );
});

Deno.test("a transfer that finds no path gives up after the connect timeout and stops probing", () => {
  const { out } = pair();
  let probes = 0;
  let now = 0;
  for (; now < 10 * 60_000; now = out.pollTimeout() ?? Infinity) {
    out.handleTimeout(now);
    probes += sent(out, now).length;
  }
  // The schedule's ramp, then one a second, for the 10 s the transfer waits for a path.
  assert(probes > 10 && probes < 20, `${probes} probes`);
  assert(probes < MAX_UNANSWERED_PROBES);
  assertEquals(out.machine.isClosed, true);
  assertEquals(out.pollTimeout(), undefined);
});

Deno.test("a probe that arrives after the transfer was cancelled, before any path, is dropped quietly", () => {
  const { b, out, inn } = pair();
  inn.machine.cancel("changed my mind", 0);
  inn.handleTimeout(0);
  assertEquals(sent(inn, 0), []); // the CANCEL has nowhere to go
  out.handleTimeout(1);
  const [probe] = sent(out, 1);
  assertEquals(b.handleDatagram(probe.bytes, A, 2), undefined);
  assertEquals(b.stats.droppedUnauthentic, 1);
  assertEquals(inn.keyed, false);
});

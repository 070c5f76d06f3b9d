/**
 * The UDP transfer receiver under fuzzed datagrams: random bytes, and datagrams
 * that carry the right version byte and transfer id but a random type, packet
 * number, body and tag, sent from the sender's own host while a real transfer
 * runs. The transfer must finish byte-identical and every forgery be dropped.
 */

import { createHash } from "node:crypto";
import { join } from "node:path";
import {
  describeFile,
  TransferEndpoint,
  type TransferOffer,
} from "../../client/transfer_driver.ts";
import { HEADER_SIZE, TAG_SIZE, WIRE_VERSION } from "../../shared/transfer/mod.ts";
import { assert, assertEquals } from "../helpers/assert.ts";
import { Random } from "../helpers/random.ts";

const SEED = 2026;
const FORGED_DATAGRAMS = 3000;

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** One hostile datagram for the transfer `id` (8 bytes). */
function forge(r: Random, id: Uint8Array): Uint8Array {
  if (r.next() < 0.3) return r.bytes(r.int(200)); // noise of any length, often too short
  const body = r.bytes(r.int(1500));
  const d = new Uint8Array(HEADER_SIZE + body.length + TAG_SIZE);
  d[0] = r.next() < 0.9 ? WIRE_VERSION : r.int(256);
  d[1] = r.int(10); // every packet type, and some that do not exist
  d.set(r.next() < 0.8 ? id : r.bytes(8), 2);
  d.set(r.bytes(8), 10); // packet number
  d.set(body, HEADER_SIZE);
  d.set(r.bytes(TAG_SIZE), HEADER_SIZE + body.length); // a tag nobody can have made
  return d;
}

Deno.test("the UDP receiver drops fuzzed and forged datagrams while a real transfer completes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tessenger-udp-fuzz-" });
  const r = new Random(SEED);
  const source = join(dir, "clip.bin");
  await Deno.writeFile(source, r.bytes(512 * 1024 + 3));
  const downloads = join(dir, "downloads");
  await Deno.mkdir(downloads);
  const receiver = await TransferEndpoint.open({
    hostname: "127.0.0.1",
    port: 0,
    downloadsDir: downloads,
  });
  const sender = await TransferEndpoint.open({ hostname: "127.0.0.1", port: 0, downloadsDir: dir });
  const fuzzer = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    const id = r.bytes(8);
    const { size, sha256 } = await describeFile(source);
    const offer: TransferOffer = {
      id: hex(id),
      secret: hex(r.bytes(32)),
      from: "alice",
      to: "bob",
      fileName: "clip.bin",
      size,
      sha256,
    };
    const incoming = receiver.expect(offer, "127.0.0.1");
    // Forgeries first, so some reach the receiver before the sender's first packet.
    const target = { transport: "udp" as const, hostname: "127.0.0.1", port: receiver.port };
    const fuzzing = (async () => {
      for (let i = 0; i < FORGED_DATAGRAMS; i++) {
        await fuzzer.send(forge(r, id), target);
        if (i % 100 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
      }
    })();
    const outgoing = sender.send(offer, source, { hostname: "127.0.0.1", port: receiver.port });
    await fuzzing;
    const [sent, received] = await Promise.all([outgoing.done, incoming.done]);
    assert(sent.ok, JSON.stringify(sent));
    assert(received.ok, JSON.stringify(received));
    const saved = await Deno.readFile(join(downloads, "alice_clip.bin"));
    assertEquals(createHash("sha256").update(saved).digest("hex"), sha256);
    // Every forgery was dropped somewhere: by the endpoint (malformed, unknown id) or by the
    // transfer (unauthentic, replayed, unexpected). None of them was taken as data.
    const s = receiver.stats;
    const dropped = s.droppedMalformed + s.droppedUnknownTransfer + s.droppedWrongAddress +
      s.droppedByTransfers;
    assert(dropped > 0, `no forgery was counted: ${JSON.stringify(s)}`);
  } finally {
    fuzzer.close();
    await sender.close();
    await receiver.close();
    await Deno.remove(dir, { recursive: true });
  }
});

import { assert } from "../helpers/assert.ts";
import { createHash } from "node:crypto";
import { join } from "node:path";
import {
  describeFile,
  TransferEndpoint,
  type TransferEndpoint as Endpoint,
  type TransferHandle,
  type TransferOffer,
} from "../../client/transfer_driver.ts";
import {
  CancelCode,
  DATA_OVERHEAD,
  LOOPBACK_RECEIVE_SOCKETS,
  PacketType,
} from "../../shared/transfer/mod.ts";
import {
  CONTROL_HEADER_SIZE,
  CONTROL_TAG_SIZE,
  CONTROL_VERSION,
  ControlType,
} from "../../shared/transfer/control.ts";
import { PathEmulator } from "../../dev/path_emulator.ts";

const LOCAL = "127.0.0.1";

function randomHex(bytes: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(bytes)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}

async function writeRandomFile(path: string, size: number): Promise<void> {
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  const block = new Uint8Array(1 << 16);
  for (let written = 0; written < size;) {
    crypto.getRandomValues(block);
    const n = Math.min(block.length, size - written);
    for (let at = 0; at < n;) at += await file.write(block.subarray(at, n));
    written += n;
  }
}

async function sha256File(path: string): Promise<string> {
  return createHash("sha256").update(await Deno.readFile(path)).digest("hex");
}

async function offerFor(path: string, from: string, to: string, fileName?: string) {
  const d = await describeFile(path);
  const offer: TransferOffer = {
    id: randomHex(8),
    secret: btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32)))),
    from,
    to,
    fileName: fileName ?? d.baseName,
    size: d.size,
    sha256: d.sha256,
  };
  return offer;
}

/** Two endpoints with their own downloads dirs, closed and removed afterwards. */
/** Waits until `done()` holds, polling every `stepMs`, at most `tries` times. */
async function until(done: () => boolean, tries: number, stepMs = 5): Promise<void> {
  for (let i = 0; i < tries && !done(); i++) await new Promise((r) => setTimeout(r, stepMs));
}

/** Waits (up to 1 s) until `endpoint` has let go of every transfer (its files closed). */
function settled(endpoint: TransferEndpoint): Promise<void> {
  return until(() => endpoint.activeTransfers === 0, 100, 10);
}

async function withPeers(
  fn: (ctx: { a: Endpoint; b: Endpoint; dir: string; aDir: string; bDir: string }) => Promise<void>,
  // striping: false when the sender goes through the path emulator (see TransferEndpointOptions).
  options: {
    payloadSize?: number;
    maxFileSize?: number;
    striping?: boolean;
    syncEveryBytes?: number;
    congestionControl?: "bbr" | "newreno";
  } = {},
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tessenger_transfer_" });
  const aDir = join(dir, "alice");
  const bDir = join(dir, "bob");
  await Deno.mkdir(aDir);
  await Deno.mkdir(bDir);
  const a = await TransferEndpoint.open({
    hostname: LOCAL,
    port: 0,
    downloadsDir: aDir,
    ...options,
  });
  const b = await TransferEndpoint.open({
    hostname: LOCAL,
    port: 0,
    downloadsDir: bDir,
    ...options,
  });
  try {
    await fn({ a, b, dir, aDir, bDir });
  } finally {
    await a.close();
    await b.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Sends a random file of `size` bytes from a to b and checks that it arrived intact. */
async function moveFile(
  { a, b, dir, bDir }: { a: Endpoint; b: Endpoint; dir: string; bDir: string },
  size: number,
): Promise<TransferHandle> {
  const src = join(dir, "video.mp4");
  await writeRandomFile(src, size);
  const offer = await offerFor(src, "alice", "bob");
  const receiving = b.expect(offer, LOCAL);
  const sending = a.send(offer, src, { hostname: LOCAL, port: b.port });
  const [sent, received] = await Promise.all([sending.done, receiving.done]);
  assert.equal(sent.ok && received.ok, true, JSON.stringify([sent, received]));
  assert.equal(await sha256File(join(bDir, "alice_video.mp4")), offer.sha256);
  return sending;
}

Deno.test("two endpoints move a file over loopback UDP and the hash matches", async () => {
  await withPeers(async ({ a, b, dir, bDir }) => {
    const src = join(dir, "video.mp4");
    await writeRandomFile(src, 3_000_000);
    const offer = await offerFor(src, "alice", "bob");
    const receiving = b.expect(offer, LOCAL);
    const sending = a.send(offer, src, { hostname: LOCAL, port: b.port });
    const [sent, received] = await Promise.all([sending.done, receiving.done]);
    assert.equal(sent.ok, true, JSON.stringify(sent));
    assert.equal(received.ok, true, JSON.stringify(received));
    const saved = join(bDir, "alice_video.mp4");
    assert.equal(received.ok && received.path, saved);
    assert.equal(await sha256File(saved), offer.sha256);
    assert.deepEqual([...Deno.readDirSync(bDir)].map((e) => e.name), ["alice_video.mp4"]);
    const p = sending.progress();
    assert.equal(p.bytes, p.total);
  });
});

Deno.test("a loopback transfer is striped over the receiver's sockets, and not when turned off", async () => {
  for (const striping of [true, false]) {
    await withPeers(async (peers) => {
      const sending = await moveFile(peers, 4_000_000);
      assert.equal(sending.stats().stripes, striping ? LOOPBACK_RECEIVE_SOCKETS : 1);
      assert.equal(peers.b.stats.droppedWrongAddress, 0);
    }, { striping });
  }
});

// The resource sanitizer (deno.json) checks that the second handle of the .part file, used
// for the syncs, is closed.
Deno.test("a receiver syncs what it wrote in the background and still saves the exact file", async () => {
  await withPeers(async (peers) => {
    const { a, b } = peers;
    await moveFile(peers, 6_000_000);
    // One sync at a time, begun after each 512 KiB written while none runs.
    assert.ok(b.stats.backgroundSyncs >= 1, `${b.stats.backgroundSyncs} syncs`);
    assert.ok(b.stats.backgroundSyncs <= 11, `${b.stats.backgroundSyncs} syncs`);
    assert.equal(a.stats.backgroundSyncs, 0);
  }, { syncEveryBytes: 512 * 1024 });
});

Deno.test("between loopback peers data is authenticated in clear unless the offer asks to encrypt", async () => {
  const marker = new TextEncoder().encode("tessenger-marker:");
  const contains = (d: Uint8Array) => {
    outer: for (let i = 0; i + marker.length <= d.length; i++) {
      for (let j = 0; j < marker.length; j++) if (d[i + j] !== marker[j]) continue outer;
      return true;
    }
    return false;
  };
  for (const suite of [undefined, "chacha20-poly1305"] as const) {
    await withPeers(async ({ a, b, dir, bDir }) => {
      const src = join(dir, "clip.txt");
      await Deno.writeTextFile(src, "tessenger-marker:0123456789\n".repeat(20_000));
      const offer = { ...await offerFor(src, "alice", "bob"), suite };
      let seen = 0;
      const emulator = await PathEmulator.open({
        target: { hostname: LOCAL, port: b.port },
        drop: (d, toTarget) => {
          if (toTarget && d[1] === PacketType.Data && contains(d)) seen++;
          return false;
        },
      });
      try {
        const receiving = b.expect(offer, LOCAL);
        const sending = a.send(offer, src, { hostname: LOCAL, port: emulator.port });
        const [sent, received] = await Promise.all([sending.done, receiving.done]);
        assert.equal(sent.ok && received.ok, true, JSON.stringify([sent, received]));
        assert.equal(await sha256File(join(bDir, "alice_clip.txt")), offer.sha256);
        if (suite === undefined) assert.ok(seen > 0, "loopback default should send in clear");
        else assert.equal(seen, 0, "the file's text is visible on the wire");
      } finally {
        await emulator.close();
      }
    }, { striping: false });
  }
});

/**
 * Sends a random file of `size` bytes from a to b through the path emulator (loss, duplication,
 * reordering) and checks that it arrived intact and that something was dropped.
 */
async function moveThroughEmulator(
  { a, b, dir, bDir }: { a: Endpoint; b: Endpoint; dir: string; bDir: string },
  size: number,
  impairments: { loss: number; duplicate: number; reorder: number; seed: number },
): Promise<void> {
  const src = join(dir, "clip.bin");
  await writeRandomFile(src, size);
  const offer = await offerFor(src, "alice", "bob");
  const emulator = await PathEmulator.open({
    target: { hostname: LOCAL, port: b.port },
    ...impairments,
  });
  try {
    const receiving = b.expect(offer, LOCAL);
    const sending = a.send(offer, src, { hostname: LOCAL, port: emulator.port });
    const [sent, received] = await Promise.all([sending.done, receiving.done]);
    assert.equal(sent.ok && received.ok, true, JSON.stringify([sent, received]));
    assert.equal(await sha256File(join(bDir, "alice_clip.bin")), offer.sha256);
    assert.ok(emulator.stats.dropped > 0, "the path emulator dropped nothing");
  } finally {
    await emulator.close();
  }
}

Deno.test("a transfer over a path with loss, duplication and reordering arrives intact", async () => {
  await withPeers(async (peers) => {
    await moveThroughEmulator(peers, 2_000_000, {
      loss: 0.05,
      duplicate: 0.02,
      reorder: 0.02,
      seed: 42,
    });
  }, { payloadSize: 8192, striping: false });
});

Deno.test("1200-byte datagrams, as off loopback, arrive intact clean and over a lossy path", async () => {
  await withPeers(async (peers) => {
    // Clean (long in-order runs: ACKs in eights), then over the lossy path (every 2 after a
    // loss): neither may stall.
    const clean = await moveFile(peers, 1_500_000);
    assert.equal(clean.stats().stripes, 1);
    await moveThroughEmulator(peers, 1_500_000, {
      loss: 0.01,
      duplicate: 0.002,
      reorder: 0.002,
      seed: 7,
    });
  }, { payloadSize: 1200, striping: false });
});

Deno.test("a receiver closed right after saving still lets the sender succeed when its DONE is lost", async () => {
  await withPeers(async ({ a, b, dir, bDir }) => {
    const src = join(dir, "clip.bin");
    await writeRandomFile(src, 1_000_000);
    const offer = await offerFor(src, "alice", "bob");
    let donesDropped = 0;
    let cancels = 0;
    const emulator = await PathEmulator.open({
      target: { hostname: LOCAL, port: b.port },
      drop: (datagram, toTarget) => {
        if (!toTarget && datagram[1] === PacketType.Cancel) cancels++;
        if (toTarget || datagram[1] !== PacketType.Done || donesDropped > 0) return false;
        donesDropped++;
        return true;
      },
    });
    try {
      const receiving = b.expect(offer, LOCAL);
      const sending = a.send(offer, src, { hostname: LOCAL, port: emulator.port });
      const received = await receiving.done;
      assert.equal(received.ok, true, JSON.stringify(received));
      const started = performance.now();
      await b.close(); // as the chat client does when the user logs out at once
      const closeMs = performance.now() - started;
      const sent = await sending.done;
      assert.equal(sent.ok, true, JSON.stringify(sent));
      assert.equal(donesDropped, 1);
      assert.equal(cancels, 0, "the receiver sent CANCEL");
      assert.ok(closeMs < 2500, `close() took ${closeMs} ms`);
      assert.equal(await sha256File(join(bDir, "alice_clip.bin")), offer.sha256);
    } finally {
      await emulator.close();
    }
  }, { striping: false });
});

Deno.test("a sender endpoint closed while it waits for DONE still reports success", async () => {
  await withPeers(async ({ a, b, dir }) => {
    const src = join(dir, "clip.bin");
    await writeRandomFile(src, 500_000);
    const offer = await offerFor(src, "alice", "bob");
    let dropped!: () => void;
    const doneDropped = new Promise<void>((resolve) => (dropped = resolve));
    let donesDropped = 0;
    const emulator = await PathEmulator.open({
      target: { hostname: LOCAL, port: b.port },
      drop: (datagram, toTarget) => {
        if (toTarget || datagram[1] !== PacketType.Done || donesDropped > 0) return false;
        donesDropped++;
        dropped();
        return true;
      },
    });
    try {
      const receiving = b.expect(offer, LOCAL);
      const sending = a.send(offer, src, { hostname: LOCAL, port: emulator.port });
      await doneDropped;
      // Every byte is acknowledged (the last ACK precedes DONE); the sender waits for DONE.
      await until(() => sending.progress().bytes >= offer.size, 200);
      assert.equal(sending.progress().bytes, offer.size);
      const started = performance.now();
      await a.close();
      const closeMs = performance.now() - started;
      const [sent, received] = await Promise.all([sending.done, receiving.done]);
      assert.equal(sent.ok, true, JSON.stringify(sent));
      assert.equal(received.ok, true, JSON.stringify(received));
      assert.ok(closeMs < 2500, `close() took ${closeMs} ms`);
    } finally {
      await emulator.close();
    }
  }, { striping: false });
});

Deno.test("two transfers run at once in opposite directions", async () => {
  await withPeers(async ({ a, b, dir, aDir, bDir }) => {
    const one = join(dir, "one.bin");
    const two = join(dir, "two.bin");
    await writeRandomFile(one, 1_500_000);
    await writeRandomFile(two, 1_200_000);
    const toBob = await offerFor(one, "alice", "bob");
    const toAlice = await offerFor(two, "bob", "alice");
    const handles = [
      b.expect(toBob, LOCAL),
      a.expect(toAlice, LOCAL),
      a.send(toBob, one, { hostname: LOCAL, port: b.port }),
      b.send(toAlice, two, { hostname: LOCAL, port: a.port }),
    ];
    const results = await Promise.all(handles.map((h) => h.done));
    for (const r of results) assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal(await sha256File(join(bDir, "alice_one.bin")), toBob.sha256);
    assert.equal(await sha256File(join(aDir, "bob_two.bin")), toAlice.sha256);
  });
});

Deno.test("an existing file is never overwritten: the new one is numbered", async () => {
  await withPeers(async ({ a, b, dir, bDir }) => {
    const src = join(dir, "notes.txt");
    await Deno.writeTextFile(src, "new contents\n");
    await Deno.writeTextFile(join(bDir, "alice_notes.txt"), "precious\n");
    await Deno.writeTextFile(join(bDir, "alice_notes (1).txt"), "also precious\n");
    const offer = await offerFor(src, "alice", "bob");
    const receiving = b.expect(offer, LOCAL);
    a.send(offer, src, { hostname: LOCAL, port: b.port });
    const result = await receiving.done;
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.equal(await Deno.readTextFile(join(bDir, "alice_notes.txt")), "precious\n");
    assert.equal(await Deno.readTextFile(join(bDir, "alice_notes (1).txt")), "also precious\n");
    assert.equal(await Deno.readTextFile(join(bDir, "alice_notes (2).txt")), "new contents\n");
    assert.equal(result.ok && result.path, join(bDir, "alice_notes (2).txt"));
  });
});

Deno.test("a file name with path traversal is saved inside the downloads dir", async () => {
  await withPeers(async ({ a, b, dir, bDir }) => {
    const src = join(dir, "payload.txt");
    await Deno.writeTextFile(src, "gotcha\n");
    const offer = await offerFor(src, "../alice", "bob", "../../../tmp/.evil\u0007.sh");
    const receiving = b.expect(offer, LOCAL);
    a.send(offer, src, { hostname: LOCAL, port: b.port });
    const result = await receiving.done;
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.deepEqual([...Deno.readDirSync(bDir)].map((e) => e.name), ["alice_evil_.sh"]);
    const outside = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(outside, ["alice", "bob", "payload.txt"]);
  });
});

Deno.test("datagrams from a stranger are dropped and counted", async () => {
  await withPeers(async ({ a, b, dir, bDir }) => {
    const src = join(dir, "f.bin");
    await writeRandomFile(src, 500_000);
    const offer = await offerFor(src, "alice", "bob");
    const receiving = b.expect(offer, LOCAL);
    const stranger = Deno.listenDatagram({ transport: "udp", hostname: LOCAL, port: 0 });
    try {
      const to = { transport: "udp" as const, hostname: LOCAL, port: b.port };
      const id = offer.id.match(/../g)!.map((h) => parseInt(h, 16));
      // Garbage, a forged transfer packet for the real id, the same for an unknown id, and
      // a forged probe (a control packet with a bad tag) for the real id.
      await stranger.send(new Uint8Array([1, 2, 3]), to);
      const forged = new Uint8Array(60);
      forged[0] = 0xa1;
      forged[1] = PacketType.Hello;
      forged.set(id, 2);
      await stranger.send(forged, to);
      const unknown = forged.slice();
      unknown[2] ^= 0xff;
      await stranger.send(unknown, to);
      const probe = new Uint8Array(CONTROL_HEADER_SIZE + 41 + CONTROL_TAG_SIZE);
      probe[0] = CONTROL_VERSION;
      probe[1] = ControlType.Probe;
      probe.set(id, 2);
      await stranger.send(probe, to);
      const sending = a.send(offer, src, { hostname: LOCAL, port: b.port });
      const [sent, received] = await Promise.all([sending.done, receiving.done]);
      assert.equal(sent.ok && received.ok, true);
      assert.equal(await sha256File(join(bDir, "alice_f.bin")), offer.sha256);
      // Only the sender's authentic probes open a path: the stranger's transfer packet never
      // reached the machine, its probe failed authentication.
      assert.equal(b.stats.droppedMalformed, 1);
      assert.equal(b.stats.droppedUnknownTransfer, 1);
      assert.equal(b.stats.droppedWrongAddress, 1);
      assert.equal(b.stats.droppedUnauthentic, 1);
      assert.equal(b.stats.droppedByTransfers, 0);
      // The completed transfer is forgotten once the sender confirmed DONE (DONE_ACK); a
      // stranger's packets are then for an unknown transfer, before that from a wrong address.
      for (let i = 0; i < 20; i++) await stranger.send(forged, to);
      const dropped = () => b.stats.droppedWrongAddress + b.stats.droppedUnknownTransfer;
      for (let i = 0; i < 100 && dropped() < 22; i++) {
        await new Promise((r) => setTimeout(r, 5));
      }
      assert.equal(dropped(), 22);
      assert.equal(b.stats.droppedByTransfers, 0);
    } finally {
      stranger.close();
    }
  });
});

Deno.test("a peer that does not know the transfer secret opens no path", async () => {
  await withPeers(async ({ a, b, dir }) => {
    const src = join(dir, "g.bin");
    await writeRandomFile(src, 10_000);
    const offer = await offerFor(src, "alice", "bob");
    const receiving = b.expect(offer, LOCAL);
    const impostor = { ...offer, secret: "cd".repeat(32) };
    const sending = a.send(impostor, src, { hostname: LOCAL, port: b.port });
    for (let i = 0; i < 100 && b.stats.droppedUnauthentic < 2; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(b.stats.droppedUnauthentic >= 2, JSON.stringify(b.stats));
    assert.equal(receiving.progress().bytes, 0);
    assert.equal(receiving.progress().path, undefined);
    assert.equal(sending.progress().path, undefined);
    sending.cancel("test over");
    receiving.cancel("test over");
    const [s, r] = await Promise.all([sending.done, receiving.done]);
    assert.equal(s.ok || r.ok, false);
  });
});

Deno.test("a file over the size limit is refused and the sender is told why", async () => {
  await withPeers(async ({ a, b, dir, bDir }) => {
    const src = join(dir, "big.bin");
    await writeRandomFile(src, 200_000);
    const offer = await offerFor(src, "alice", "bob");
    const receiving = b.expect(offer, LOCAL);
    const sending = a.send(offer, src, { hostname: LOCAL, port: b.port });
    const [sent, received] = await Promise.all([sending.done, receiving.done]);
    assert.equal(sent.ok, false);
    assert.equal(!sent.ok && sent.code, CancelCode.TooLarge);
    assert.match(!sent.ok ? sent.reason : "", /exceeds the limit of 100000 bytes/);
    assert.equal(received.ok, false);
    assert.deepEqual([...Deno.readDirSync(bDir)], []);
  }, { maxFileSize: 100_000 });
});

/** A 20 MB transfer from `a` to `b`, once its first MB arrived. */
async function startLong(a: TransferEndpoint, b: TransferEndpoint, dir: string) {
  const src = join(dir, "long.bin");
  await writeRandomFile(src, 20_000_000);
  const offer = await offerFor(src, "alice", "bob");
  const receiving = b.expect(offer, LOCAL);
  const sending = a.send(offer, src, { hostname: LOCAL, port: b.port });
  await until(() => receiving.progress().bytes >= 1_000_000, 400);
  return { sending, receiving };
}

// No open handle of the part is left either (background syncs ran; the resource sanitizer
// checks).
Deno.test("a sender cancelling tells the receiver, which keeps its .part and state to resume", async () => {
  await withPeers(async ({ a, b, dir, bDir }) => {
    const { sending, receiving } = await startLong(a, b, dir);
    sending.cancel("changed my mind");
    const [sent, received] = await Promise.all([sending.done, receiving.done]);
    assert.equal(sent.ok, false);
    assert.equal(received.ok, false);
    assert.match(!received.ok ? received.reason : "", /peer cancelled \(changed my mind\)/);
    await settled(b);
    const left = [...Deno.readDirSync(bDir)].map((e) => e.name).sort();
    assert.equal(left.length, 2, JSON.stringify(left));
    assert.match(left[0], /^alice_long\.bin\.[0-9a-f]{16}\.part$/);
    assert.equal(left[1], `${left[0]}.state`);
    assert.ok(b.stats.backgroundSyncs > 0);
  }, { payloadSize: 1200, syncEveryBytes: 16 * 1024 });
});

Deno.test("a receiver that cancels a file it does not want leaves no .part file", async () => {
  await withPeers(async ({ a, b, dir, bDir }) => {
    const { sending, receiving } = await startLong(a, b, dir);
    receiving.cancel("not wanted", false);
    const [sent, received] = await Promise.all([sending.done, receiving.done]);
    assert.equal(received.ok, false);
    assert.match(!sent.ok ? sent.reason : "", /peer cancelled \(not wanted\)/);
    await settled(b);
    assert.deepEqual([...Deno.readDirSync(bDir)], []);
  }, { payloadSize: 1200 });
});

Deno.test("a receiver that cannot write its file says why locally and never sends its paths to the sender", async () => {
  await withPeers(async ({ a, b, dir, bDir }) => {
    const src = join(dir, "clip.bin");
    await writeRandomFile(src, 50_000);
    await Deno.remove(bDir);
    const offer = await offerFor(src, "alice", "bob");
    const receiving = b.expect(offer, LOCAL);
    const sending = a.send(offer, src, { hostname: LOCAL, port: b.port });
    const [sent, received] = await Promise.all([sending.done, receiving.done]);
    assert.equal(received.ok, false);
    assert.match(!received.ok ? received.reason : "", /file error: .*No such file/);
    assert.equal(sent.ok, false);
    const reason = !sent.ok ? sent.reason : "";
    assert.match(reason, /peer cancelled \(file error\)/);
    assert.ok(!reason.includes(dir), reason);
    await Deno.mkdir(bDir);
  });
});

Deno.test("over an emulated 20 Mbit/s, 30 ms path at 1% loss a transfer keeps the link busy and its queue short", async () => {
  // The simulator's shape on real sockets: most of rate × (1 − loss), even with random
  // loss each way (a loss-based controller gets a sixth), and a queue far below the
  // 50 ms drop-tail one (a loss-based controller fills it). Timers firing a millisecond
  // late make the pacer and the emulator send in bunches, so bounds are looser here.
  await withPeers(async ({ a, b, dir, bDir }) => {
    const src = join(dir, "clip.bin");
    const size = 4_000_000;
    await writeRandomFile(src, size);
    const offer = await offerFor(src, "alice", "bob");
    const emulator = await PathEmulator.open({
      target: { hostname: LOCAL, port: b.port },
      link: { mbps: 20, delayMs: 15, queueMs: 50, loss: 0.01 },
      seed: 3,
    });
    const queueDelays: number[] = [];
    const sampler = setInterval(
      () => queueDelays.push(emulator.link!.queueDelay(performance.now())),
      10,
    );
    try {
      const receiving = b.expect(offer, LOCAL);
      const sending = a.send(offer, src, { hostname: LOCAL, port: emulator.port });
      const [sent, received] = await Promise.all([sending.done, receiving.done]);
      assert.equal(sent.ok && received.ok, true, JSON.stringify([sent, received]));
      assert.equal(await sha256File(join(bDir, "alice_clip.bin")), offer.sha256);
      const limit = 20e6 / 8 * 0.99; // bytes per second
      const goodput = size / (received.ok ? received.elapsedMs / 1000 : Infinity);
      // Lenient against the machine's load (the simulator holds the tight bounds). The
      // controller is named: towards a loopback address (the emulator's) it would be
      // NewReno, and here the emulator stands for a real network.
      assert.ok(goodput >= 0.5 * limit, `goodput ${(goodput / limit).toFixed(2)} of the limit`);
      assert.ok(emulator.link!.stats.lost > 0, "the link lost nothing");
      const meanQueue = queueDelays.reduce((x, y) => x + y, 0) / queueDelays.length;
      assert.ok(meanQueue <= 0.5 * 30, `the queue held ${meanQueue.toFixed(1)} ms on average`);
    } finally {
      clearInterval(sampler);
      await emulator.close();
    }
  }, { payloadSize: 1200, striping: false, congestionControl: "bbr" });
});

Deno.test("sending the same file again after an interruption moves only what the receiver lacks", async () => {
  await withPeers(async ({ a, b, dir, bDir }) => {
    const size = 12_000_000;
    const src = join(dir, "movie.mp4");
    await writeRandomFile(src, size);
    const first = await offerFor(src, "alice", "bob");
    const receiving = b.expect(first, LOCAL);
    const sending = a.send(first, src, { hostname: LOCAL, port: b.port });
    await until(() => receiving.progress().bytes >= size / 2, 1000);
    sending.cancel("interrupted");
    await Promise.all([sending.done, receiving.done]);
    await settled(b);
    // The same file again: another transfer (id, secret) as the server would broker it.
    const again = await offerFor(src, "alice", "bob");
    const receiving2 = b.expect(again, LOCAL);
    const sending2 = a.send(again, src, { hostname: LOCAL, port: b.port });
    const [sent, received] = await Promise.all([sending2.done, receiving2.done]);
    assert.ok(sent.ok && received.ok, JSON.stringify([sent, received]));
    assert.equal(await sha256File(join(bDir, "alice_movie.mp4")), again.sha256);
    assert.deepEqual([...Deno.readDirSync(bDir)].map((e) => e.name), ["alice_movie.mp4"]);
    const resumed = received.ok ? received.resumedBytes ?? 0 : 0;
    assert.ok(resumed >= 0.4 * size, `only ${resumed} bytes kept`);
    assert.equal(sent.ok && sent.resumedBytes, resumed);
    const chunk = 1200 - DATA_OVERHEAD;
    const resent = sending2.stats().dataPacketsSent * chunk - (size - resumed);
    assert.ok(resent <= 0.1 * size, `${resent} bytes sent twice`);
  }, { payloadSize: 1200, striping: false });
});

/** A receiver in a child process (tests/helpers/receive_one.ts) and its output lines. */
function spawnReceiver(dir: string, offer: TransferOffer) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", RECEIVE_ONE, dir, JSON.stringify(offer)],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(
    new TransformStream<string, string>({
      transform(chunk, controller) {
        for (const line of chunk.split("\n")) if (line.trim() !== "") controller.enqueue(line);
      },
    }),
  ).getReader();
  const next = async () => {
    const { value, done } = await lines.read();
    if (done) throw new Error("the receiver process ended");
    return JSON.parse(value);
  };
  return { child, next, lines };
}

const RECEIVE_ONE = new URL("../helpers/receive_one.ts", import.meta.url).pathname;

Deno.test("a receiver killed halfway resumes when the file is sent again: at most a tenth is sent twice", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tessenger_resume_" });
  const downloads = join(dir, "bob");
  await Deno.mkdir(downloads);
  const sender = await TransferEndpoint.open({
    hostname: LOCAL,
    port: 0,
    downloadsDir: dir,
    payloadSize: 1200,
    striping: false,
    idleTimeoutMs: 2000, // the killed peer is given up in 2 s, not 10
  });
  try {
    const size = 24_000_000;
    const src = join(dir, "movie.mp4");
    await writeRandomFile(src, size);
    // First attempt: the receiving process is killed (SIGKILL) once half is acknowledged.
    const first = await offerFor(src, "alice", "bob");
    const r1 = spawnReceiver(downloads, first);
    const sending = sender.send(first, src, { hostname: LOCAL, port: (await r1.next()).port });
    await until(() => sending.progress().bytes >= size / 2, 4000);
    r1.child.kill("SIGKILL");
    await r1.child.status;
    await r1.lines.cancel();
    const acked = sending.progress().bytes;
    const failed = await sending.done;
    assert.equal(failed.ok, false);
    const kept = [...Deno.readDirSync(downloads)].map((e) => e.name).sort();
    assert.equal(kept.length, 2, JSON.stringify(kept)); // the part and its state
    // Second attempt: a new process, a new transfer (id, secret) of the same file.
    const again = await offerFor(src, "alice", "bob");
    const r2 = spawnReceiver(downloads, again);
    const sending2 = sender.send(again, src, { hostname: LOCAL, port: (await r2.next()).port });
    const [sent, { result }] = await Promise.all([sending2.done, r2.next()]);
    await r2.child.status;
    await r2.lines.cancel();
    assert.ok(sent.ok && result.ok, JSON.stringify([sent, result]));
    assert.equal(await sha256File(join(downloads, "alice_movie.mp4")), again.sha256);
    assert.deepEqual([...Deno.readDirSync(downloads)].map((e) => e.name), ["alice_movie.mp4"]);
    const chunk = 1200 - DATA_OVERHEAD;
    const sentAgain = sending2.stats().dataPacketsSent * chunk - (size - acked);
    assert.ok(sentAgain <= 0.1 * size, `${sentAgain} bytes of ${size} sent again`);
    assert.ok(result.resumedBytes >= acked - 0.1 * size, `resumed ${result.resumedBytes}`);
  } finally {
    await sender.close();
    await Deno.remove(dir, { recursive: true });
  }
});

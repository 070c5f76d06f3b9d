/**
 * Two real clients and a real server: file names with spaces, the receiver's consent
 * (`--accept ask|never`), the cap on incoming files, `/cancel` on either side, and Ctrl-C
 * during a transfer.
 */

import { assert, assertEquals } from "../helpers/assert.ts";
import { join } from "node:path";
import type { ClientOptions } from "../../client/app.ts";
import { describeFile } from "../../client/transfer_driver.ts";
import { type ScriptedClient, scriptedClient } from "../helpers/client_session.ts";
import { Random } from "../helpers/random.ts";
import { startTestServer, type TestServer } from "../helpers/test_server.ts";

/** A file of seeded random bytes (a failure can be replayed). */
async function makeFile(dir: string, name: string, size: number, seed = 3): Promise<string> {
  const path = join(dir, name);
  await Deno.writeFile(path, new Random(seed).bytes(size));
  return path;
}

async function sameBytes(a: string, b: string): Promise<boolean> {
  return (await describeFile(a)).sha256 === (await describeFile(b)).sha256;
}

/** A logged-in client and the directory its files are saved in. */
interface LoggedIn extends ScriptedClient {
  downloads: string;
}

async function login(
  t: TestServer,
  user: string,
  options: Partial<ClientOptions> = {},
): Promise<LoggedIn> {
  const downloads = await Deno.makeTempDir({ dir: t.dataDir, prefix: `${user}-` });
  return { ...await scriptedClient(t, user, { downloadsDir: downloads, ...options }), downloads };
}

async function logout(...clients: LoggedIn[]): Promise<void> {
  for (const c of clients) {
    c.t.type("/logout");
    assertEquals(await c.exit, 0);
  }
}

/** Runs `fn` with a server and Yoda (sender) and Hans (receiver, with `hans` options). */
async function withPair(
  fn: (t: TestServer, yoda: LoggedIn, hans: LoggedIn) => Promise<void>,
  hans: Partial<ClientOptions> = {},
  yoda: Partial<ClientOptions> = {},
): Promise<void> {
  const t = await startTestServer();
  try {
    const y = await login(t, "Yoda", yoda);
    const h = await login(t, "Hans", hans);
    await fn(t, y, h);
  } finally {
    await t.close();
  }
}

Deno.test("/p2pvideo sends files whose names have spaces and any Unicode, plain or quoted", async () => {
  await withPair(async (t, yoda, hans) => {
    const dir = await Deno.makeTempDir({ dir: t.dataDir });
    const spaced = await makeFile(dir, "my file.txt", 10_000, 1);
    const unicode = await makeFile(dir, "日本語 ファイル 🎬.mp4", 20_000, 2);
    yoda.t.type(`/p2pvideo Hans ${spaced}`);
    await hans.t.waitFor(/^Received my file\.txt from Yoda/, 20_000);
    yoda.t.type(`/p2pvideo Hans "${unicode}"`);
    await hans.t.waitFor(/^Received 日本語 ファイル 🎬\.mp4 from Yoda/, 20_000);
    assert(await sameBytes(spaced, join(hans.downloads, "Yoda_my file.txt")));
    assert(await sameBytes(unicode, join(hans.downloads, "Yoda_日本語 ファイル 🎬.mp4")));
    await yoda.t.waitFor(`${unicode} has been uploaded`, 20_000);
    await logout(yoda, hans);
  });
});

Deno.test("--accept ask holds the file until /accept; the sender waits meanwhile", async () => {
  await withPair(async (t, yoda, hans) => {
    const file = await makeFile(t.dataDir, "movie.mp4", 3 * 1024 * 1024);
    yoda.t.type(`/p2pvideo Hans ${file}`);
    await hans.t.waitFor("Yoda wants to send you movie.mp4 (3.0 MiB). /accept or /decline");
    // Longer than a handshake on loopback: nothing arrives until Hans says yes.
    await new Promise((r) => setTimeout(r, 700));
    hans.t.type("/transfers");
    await hans.t.waitFor(
      /^↓ [0-9a-f]{6} movie\.mp4 \(3\.0 MiB\) from Yoda, waiting for your answer$/,
    );
    yoda.t.type("/transfers");
    await yoda.t.waitFor(
      /^↑ [0-9a-f]{6} .*movie\.mp4 \(3\.0 MiB\) to Hans, waiting for Hans to accept$/,
    );
    assertEquals([...Deno.readDirSync(hans.downloads)], [], "no file was touched before /accept");
    hans.t.type("/accept");
    await hans.t.waitFor("Accepted movie.mp4 from Yoda.");
    await hans.t.waitFor(/^Received movie\.mp4 from Yoda/, 20_000);
    await yoda.t.waitFor(`${file} has been uploaded`, 20_000);
    assert(await sameBytes(file, join(hans.downloads, "Yoda_movie.mp4")));
    await logout(yoda, hans);
  }, { accept: "ask" });
});

Deno.test("/decline refuses a file that waits for an answer, and the sender is told", async () => {
  await withPair(async (t, yoda, hans) => {
    const file = await makeFile(t.dataDir, "movie.mp4", 100_000);
    yoda.t.type(`/p2pvideo Hans ${file}`);
    await hans.t.waitFor(/^Yoda wants to send you movie\.mp4/);
    hans.t.type("/decline movie.mp4");
    await hans.t.waitFor("Cannot receive movie.mp4 from Yoda: you declined it.");
    await yoda.t.waitFor(`Cannot send ${file} to Hans: Hans declined it.`);
    assertEquals([...Deno.readDirSync(hans.downloads)], []);
    hans.t.type("/accept");
    await hans.t.waitFor("No file waits for an answer.");
    await logout(yoda, hans);
  }, { accept: "ask" });
});

Deno.test("--accept never refuses every file at once, and says so to both", async () => {
  await withPair(async (t, yoda, hans) => {
    const file = await makeFile(t.dataDir, "movie.mp4", 100_000);
    yoda.t.type(`/p2pvideo Hans ${file}`);
    await hans.t.waitFor(
      "Refused movie.mp4 (97.7 KiB) from Yoda: files are not accepted (--accept never).",
    );
    await yoda.t.waitFor(`Cannot send ${file} to Hans: Hans does not accept files.`);
    assertEquals([...Deno.readDirSync(hans.downloads)], []);
    await logout(yoda, hans);
  }, { accept: "never" });
});

Deno.test("files beyond --max-incoming wait for a slot, then come in", async () => {
  await withPair(
    async (t, yoda, hans) => {
      const a = await makeFile(t.dataDir, "a.bin", 6 * 1024 * 1024, 4);
      const b = await makeFile(t.dataDir, "b.bin", 1024 * 1024, 5);
      yoda.t.type(`/p2pvideo Hans ${a}`, `/p2pvideo Hans ${b}`);
      await hans.t.waitFor("b.bin (1.0 MiB) waits: 1 file is coming in already.");
      await hans.t.waitFor(/^Received a\.bin from Yoda/, 20_000);
      await hans.t.waitFor(/^Received b\.bin from Yoda/, 20_000);
      const done = hans.t.output.filter((l) => l.startsWith("Received "));
      assertEquals(done.map((l) => l.split(" ")[1]), ["a.bin", "b.bin"], "b waited for a");
      assert(await sameBytes(b, join(hans.downloads, "Yoda_b.bin")));
      await logout(yoda, hans);
    },
    { maxIncoming: 1 },
    { payloadSize: 1200 },
  );
});

for (const side of ["sender", "receiver"] as const) {
  Deno.test(`/cancel on the ${side}'s side stops the transfer at once and both say so`, async () => {
    await withPair(
      async (t, yoda, hans) => {
        // 1200-byte datagrams: slow enough on loopback to be cancelled halfway.
        const file = await makeFile(t.dataDir, "big.bin", 40 * 1024 * 1024, 6);
        yoda.t.type(`/p2pvideo Hans ${file}`);
        await hans.t.waitFor("Yoda is sending you big.bin (40.0 MiB).");
        await new Promise((r) => setTimeout(r, 300));
        const canceller = side === "sender" ? yoda : hans;
        canceller.t.type("/cancel");
        const started = performance.now();
        const mine = side === "sender"
          ? `Cannot send ${file} to Hans: you cancelled it.`
          : "Cannot receive big.bin from Yoda: you cancelled it.";
        const theirs = side === "sender"
          ? "Cannot receive big.bin from Yoda: peer cancelled (Yoda cancelled it)."
          : `Cannot send ${file} to Hans: peer cancelled (Hans cancelled it).`;
        await canceller.t.waitFor(mine);
        await (side === "sender" ? hans : yoda).t.waitFor(theirs);
        assert(performance.now() - started < 3000, "cancelling took seconds");
        if (side === "receiver") {
          for (let i = 0; i < 100 && [...Deno.readDirSync(hans.downloads)].length > 0; i++) {
            await new Promise((r) => setTimeout(r, 20));
          }
          assertEquals([...Deno.readDirSync(hans.downloads)], [], "the unwanted part stayed");
        }
        canceller.t.type("/cancel");
        await canceller.t.waitFor("No file transfer to cancel.");
        await logout(yoda, hans);
      },
      {},
      { payloadSize: 1200 },
    );
  });
}

Deno.test("Ctrl-C during a transfer cancels it, tells the peer and ends the client at once", async () => {
  await withPair(
    async (t, yoda, hans) => {
      const file = await makeFile(t.dataDir, "big.bin", 40 * 1024 * 1024, 7);
      yoda.t.type(`/p2pvideo Hans ${file}`);
      await hans.t.waitFor("Yoda is sending you big.bin (40.0 MiB).");
      await new Promise((r) => setTimeout(r, 300));
      const started = performance.now();
      yoda.t.interrupt();
      assertEquals(await yoda.exit, 0);
      assert(performance.now() - started < 3000, "Ctrl-C took seconds");
      await yoda.t.waitFor(`Cannot send ${file} to Hans: you logged out.`);
      await hans.t.waitFor(
        "Cannot receive big.bin from Yoda: peer cancelled (Yoda logged out).",
      );
      // Hans keeps what came, to resume when Yoda sends it again: the part and its state.
      const left = () => [...Deno.readDirSync(hans.downloads)].map((e) => e.name).sort();
      for (let i = 0; i < 100 && left().length !== 2; i++) {
        await new Promise((r) => setTimeout(r, 20)); // its last state write may still run
      }
      assertEquals(left().map((n) => n.replace(/\.[0-9a-f]{16}\./, ".KEY.")), [
        "Yoda_big.bin.KEY.part",
        "Yoda_big.bin.KEY.part.state",
      ]);
      await logout(hans);
    },
    {},
    { payloadSize: 1200 },
  );
});

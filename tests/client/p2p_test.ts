import { assert, assertEquals } from "../helpers/assert.ts";
import { join } from "node:path";
import { runClient } from "../../client/app.ts";
import { describeFile, TransferEndpoint } from "../../client/transfer_driver.ts";
import { RawClient } from "../helpers/raw_client.ts";
import { ScriptedTerminal } from "../helpers/scripted_io.ts";
import { startTestServer, TEST_USERS, type TestServer } from "../helpers/test_server.ts";
import { PathEmulator } from "../../dev/path_emulator.ts";

/** A file of pseudo-random bytes (seeded, so a failure can be replayed). */
async function makeFile(dir: string, name: string, size: number, seed = 7): Promise<string> {
  const bytes = new Uint8Array(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    bytes[i] = x >>> 24;
  }
  const path = join(dir, name);
  await Deno.writeFile(path, bytes);
  return path;
}

async function sameBytes(a: string, b: string): Promise<boolean> {
  return (await describeFile(a)).sha256 === (await describeFile(b)).sha256;
}

interface LoggedIn {
  term: ScriptedTerminal;
  exit: Promise<number>;
  downloads: string;
}

async function login(t: TestServer, user: string): Promise<LoggedIn> {
  const downloads = await Deno.makeTempDir({ dir: t.dataDir, prefix: `${user}-` });
  const term = new ScriptedTerminal();
  const exit = runClient({
    host: "127.0.0.1",
    port: t.port,
    udpPort: 0,
    downloadsDir: downloads,
    io: term.io,
  });
  term.type(user, TEST_USERS[user]);
  await term.waitFor("Welcome to TESSENGER!");
  return { term, exit, downloads };
}

async function logout(c: LoggedIn): Promise<void> {
  c.term.type("/logout");
  assertEquals(await c.exit, 0);
}

Deno.test("/p2pvideo sends a file between two real clients over UDP, byte for byte", async () => {
  const t = await startTestServer();
  try {
    const file = await makeFile(t.dataDir, "clip.mp4", 3 * 1024 * 1024 + 17);
    const yoda = await login(t, "Yoda");
    const hans = await login(t, "Hans");
    yoda.term.type(`/p2pvideo Hans ${file}`, "/msgto Hans chat goes on");
    await hans.term.waitFor("Yoda is sending you clip.mp4 (3.0 MiB).");
    await hans.term.waitFor(/, Yoda: chat goes on$/);
    await yoda.term.waitFor(`${file} has been uploaded`, 20_000);
    await hans.term.waitFor(
      `Received clip.mp4 from Yoda (saved as ${join(hans.downloads, "Yoda_clip.mp4")})`,
      20_000,
    );
    assert(await sameBytes(file, join(hans.downloads, "Yoda_clip.mp4")));
    await logout(yoda);
    await logout(hans);
  } finally {
    await t.close();
  }
});

Deno.test("/p2pvideo transfers run both ways at once and never overwrite a file", async () => {
  const t = await startTestServer();
  try {
    const a = await makeFile(t.dataDir, "a.bin", 1024 * 1024, 1);
    const b = await makeFile(t.dataDir, "b.bin", 1024 * 1024 + 1, 2);
    const yoda = await login(t, "Yoda");
    const hans = await login(t, "Hans");
    await Deno.writeTextFile(join(hans.downloads, "Yoda_a.bin"), "already here");
    yoda.term.type(`/p2pvideo Hans ${a}`);
    hans.term.type(`/p2pvideo Yoda ${b}`);
    await hans.term.waitFor(
      `Received a.bin from Yoda (saved as ${join(hans.downloads, "Yoda_a (1).bin")})`,
      20_000,
    );
    await yoda.term.waitFor(/^Received b\.bin from Hans \(saved as /, 20_000);
    assertEquals(await Deno.readTextFile(join(hans.downloads, "Yoda_a.bin")), "already here");
    const saved = [...Deno.readDirSync(hans.downloads)].map((e) => e.name).filter((n) =>
      n !== "Yoda_a.bin"
    );
    assertEquals(saved.length, 1, `one new file beside the old one: ${saved}`);
    assert(await sameBytes(a, join(hans.downloads, saved[0])));
    assert(await sameBytes(b, join(yoda.downloads, "Hans_b.bin")));
    await logout(yoda);
    await logout(hans);
  } finally {
    await t.close();
  }
});

Deno.test("/p2pvideo errors: a missing file, an offline user, yourself", async () => {
  const t = await startTestServer();
  try {
    const file = await makeFile(t.dataDir, "x.bin", 10);
    const yoda = await login(t, "Yoda");
    yoda.term.type(`/p2pvideo Hans ${join(t.dataDir, "missing.mp4")}`);
    await yoda.term.waitFor(`Cannot send ${join(t.dataDir, "missing.mp4")}: no such file.`);
    yoda.term.type(`/p2pvideo Hans ${t.dataDir}`);
    await yoda.term.waitFor(`Cannot send ${t.dataDir}: not a regular file.`);
    yoda.term.type(`/p2pvideo Hans ${file}`);
    await yoda.term.waitFor("Hans is offline");
    yoda.term.type(`/p2pvideo Yoda ${file}`);
    await yoda.term.waitFor("You cannot send a file to yourself.");
    await logout(yoda);
  } finally {
    await t.close();
  }
});

Deno.test("/p2pvideo arrives intact over a path that drops, duplicates and reorders", async () => {
  const t = await startTestServer();
  try {
    const file = await makeFile(t.dataDir, "lossy.mp4", 2 * 1024 * 1024 + 5);
    const hans = await login(t, "Hans");
    // The sender is Yoda's protocol session plus a transfer endpoint aimed at the emulator.
    const yoda = await RawClient.login(t.port, "Yoda", TEST_USERS.Yoda);
    const sender = await TransferEndpoint.open({
      hostname: "127.0.0.1",
      port: 0,
      downloadsDir: t.dataDir,
      striping: false, // all through the emulator, none around it
    });
    const { size, sha256 } = await describeFile(file);
    const res = await yoda.expectOk("p2pvideo", ["Hans", "lossy.mp4", String(size), sha256]);
    const d = res.data as { id: string; secret: string; host: string; port: number };
    const emulator = await PathEmulator.open({
      target: { hostname: d.host, port: d.port },
      loss: 0.05,
      duplicate: 0.02,
      reorder: 0.05,
      seed: 42,
    });
    try {
      const handle = sender.send(
        {
          id: d.id,
          secret: d.secret,
          from: "Yoda",
          to: "Hans",
          fileName: "lossy.mp4",
          size,
          sha256,
        },
        file,
        { hostname: "127.0.0.1", port: emulator.port },
      );
      const result = await handle.done;
      assert(result.ok, JSON.stringify(result));
      await hans.term.waitFor(/^Received lossy\.mp4 from Yoda \(saved as /, 30_000);
      assert(await sameBytes(file, join(hans.downloads, "Yoda_lossy.mp4")));
      assert(emulator.stats.dropped > 0, "the path emulator did drop datagrams");
    } finally {
      await emulator.close();
      await sender.close();
      await yoda.close();
    }
    await logout(hans);
  } finally {
    await t.close();
  }
});

Deno.test("/p2pvideo goes through the server's relay when no direct path is taken, and says so", async () => {
  const t = await startTestServer();
  try {
    const file = await makeFile(t.dataDir, "relayed.mp4", 1024 * 1024 + 3);
    const hans = await login(t, "Hans");
    // Yoda's protocol session plus an endpoint that takes no direct path.
    const yoda = await RawClient.login(t.port, "Yoda", TEST_USERS.Yoda);
    const sender = await TransferEndpoint.open({
      hostname: "127.0.0.1",
      port: 0,
      downloadsDir: t.dataDir,
      relayOnly: true,
    });
    try {
      const { size, sha256 } = await describeFile(file);
      const res = await yoda.expectOk("p2pvideo", ["Hans", "relayed.mp4", String(size), sha256]);
      const d = res.data as {
        id: string;
        secret: string;
        host: string;
        port: number;
        serverUdpPort: number;
      };
      assertEquals(d.serverUdpPort, t.server.udpPort);
      const handle = sender.send(
        {
          id: d.id,
          secret: d.secret,
          from: "Yoda",
          to: "Hans",
          fileName: "relayed.mp4",
          size,
          sha256,
          server: { hostname: "127.0.0.1", port: d.serverUdpPort },
        },
        file,
        { hostname: d.host, port: d.port },
      );
      const result = await handle.done;
      assert(result.ok, JSON.stringify(result));
      assertEquals(result.via, "relay");
      await hans.term.waitFor(/^Received relayed\.mp4 from Yoda \(saved as /, 20_000);
      assert(await sameBytes(file, join(hans.downloads, "Yoda_relayed.mp4")));
    } finally {
      await sender.close();
      await yoda.close();
    }
    await logout(hans);
  } finally {
    await t.close();
  }
});

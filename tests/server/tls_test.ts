/**
 * TLS: the server serves TLS with `tls: { cert, key }` (`--tls-cert`,
 * `--tls-key`); clients verify it against a CA file. The certificate is
 * self-signed and made by `openssl` in the test; without openssl the tests are
 * skipped.
 */

import { assert, assertEquals, assertMatch, assertThrows } from "../helpers/assert.ts";
import { RawClient } from "../helpers/raw_client.ts";
import { RawIrcClient } from "../helpers/raw_irc_client.ts";
import { ManualClock, namedAccounts, sleep, startTestServer } from "../helpers/test_server.ts";
import { CLOSE_GRACE_MS } from "../../server/limits.ts";
import { ServerConnection } from "../../client/connection.ts";
import { parseServerArgs } from "../../server/cli.ts";
import { parseClientArgs } from "../../client/cli.ts";
import { readTlsFiles } from "../../server/tls.ts";
import { hasOpenssl, makeCertificate } from "../helpers/certificates.ts";

const ignore = !hasOpenssl();

Deno.test({
  name: "a TLS server chats with clients that verify its certificate",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "tessenger-tls-" });
    const { certPath, keyPath } = await makeCertificate(dir);
    const tls = await readTlsFiles(certPath, keyPath);
    const t = await startTestServer({
      ...namedAccounts(["alice", "bob"]),
      clock: "real",
      tls,
    });
    const alice = await RawClient.connect(t.port, { caCert: tls.cert });
    await alice.expectOk("hello", ["2"]);
    await alice.expectOk("user", ["alice"]);
    await alice.expectOk("pass", ["pw-alice", "0"]);
    // The real client code path: ServerConnection with the CA.
    const bob = await ServerConnection.connect({
      host: "127.0.0.1",
      port: t.port,
      tls: { caCerts: [tls.cert] },
    });
    const got = Promise.withResolvers<string>();
    bob.onPush = (p) => p.ev === "msg" && got.resolve(p.text);
    await bob.request("user", ["bob"]);
    assertEquals((await bob.request("pass", ["pw-bob", "0"])).ok, true);
    await alice.expectOk("msgto", ["bob", "over TLS"]);
    assertEquals(await got.promise, "over TLS");
    bob.close();
    await bob.closed;
    await alice.close();
    await t.close();
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "IRC clients log in over TLS on the IRC TLS port",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "tessenger-tls-" });
    const tls = await readTlsFiles(
      ...Object.values(await makeCertificate(dir)) as [string, string],
    );
    const t = await startTestServer({
      ...namedAccounts(["alice"]),
      clock: "real",
      tls,
      irc: { tlsPort: 0 },
    });
    assertEquals(t.server.ircPort, undefined);
    const c = await RawIrcClient.register(t.server.ircTlsPort!, "alice", "pw-alice", [], {
      caCert: tls.cert,
    });
    assertEquals(c.received[0].params, ["alice", "Welcome to TESSENGER!"]);
    await c.close();
    await t.close();
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "a TLS client refuses a server whose certificate it does not trust",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "tessenger-tls-" });
    const tls = await readTlsFiles(
      ...Object.values(await makeCertificate(dir)) as [string, string],
    );
    const t = await startTestServer({
      ...namedAccounts(["alice"]),
      clock: "real",
      tls,
    });
    let error: unknown;
    try {
      const c = await ServerConnection.connect({ host: "127.0.0.1", port: t.port, tls: {} });
      c.close();
    } catch (e) {
      error = e;
    }
    assert(error instanceof Error, "connected to an untrusted server");
    assertMatch(String(error), /certificate|UnknownIssuer|invalid peer/i);
    // A plain-TCP client gets nowhere, and the server keeps serving TLS clients.
    const plain = await RawClient.connect(t.port);
    await plain.tryWrite('{"t":"req","id":1,"cmd":"hello","args":["2"]}\n');
    await plain.waitClosed(3000);
    assertEquals(plain.frames.length, 0);
    const ok = await RawClient.connect(t.port, { caCert: tls.cert });
    await ok.expectOk("hello", ["2"]);
    await ok.close();
    await t.close();
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test("TLS flags: --tls-cert needs --tls-key; --ca implies --tls", () => {
  let threw = false;
  try {
    parseServerArgs(["--tls-cert", "c.pem"]);
  } catch (e) {
    threw = true;
    assertMatch(String(e), /--tls-cert and --tls-key go together/);
  }
  assert(threw);
  assertThrows(
    () => parseServerArgs(["--irc-tls-port", "6697"]),
    /--irc-tls-port needs --tls-cert/,
  );
  const irc = parseServerArgs(["--irc-port", "6667", "--tls-cert", "c", "--tls-key", "k"]);
  assertEquals(irc.irc, { port: 6667, tlsPort: undefined });
  assertEquals(parseServerArgs([]).irc, undefined);
  const s = parseServerArgs(["--tls-cert", "c.pem", "--tls-key", "k.pem"]);
  assertEquals([s.tlsCert, s.tlsKey], ["c.pem", "k.pem"]);
  assertEquals(parseClientArgs(["--ca", "ca.pem"]).tls, true);
  assertEquals(parseClientArgs(["--tls"]).caFile, undefined);
  assertEquals(parseClientArgs([]).tls, false);
});

Deno.test("readTlsFiles() reports a missing or non-PEM file clearly", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tessenger-tls-" });
  await Deno.writeTextFile(`${dir}/junk.pem`, "not a certificate");
  for (
    const [cert, key, pattern] of [
      [`${dir}/missing.pem`, `${dir}/junk.pem`, /Cannot read TLS certificate .*missing\.pem/],
      [`${dir}/junk.pem`, `${dir}/junk.pem`, /not a PEM file/],
    ] as const
  ) {
    let error = "";
    try {
      await readTlsFiles(cert, key);
    } catch (e) {
      error = String(e);
    }
    assertMatch(error, pattern);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test({
  name: "a TLS connection that never handshakes loses its slot after the login timeout and grace",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "tessenger-tls-" });
    const tls = await readTlsFiles(
      ...Object.values(await makeCertificate(dir)) as [string, string],
    );
    const time = new ManualClock();
    const t = await startTestServer({
      ...namedAccounts(["alice"]),
      tls,
      clock: time,
      sweepIntervalMs: 20,
      limits: { loginTimeoutMs: 5_000, maxConnections: 1 },
    });
    const silent = await RawClient.connect(t.port); // plain TCP: no ClientHello ever
    await sleep(100);
    // It holds the only slot.
    const refused = await RawClient.connect(t.port, { caCert: tls.cert });
    await refused.tryWrite('{"t":"req","id":1,"cmd":"ping","args":[]}\n');
    assertMatch((await refused.waitClosed()) ?? "", /server full/);
    // The login deadline asks it to close; the bye cannot be written before a
    // handshake, so the grace period ends it. (Deno's TlsConn.close() still
    // waits for the handshake before it closes the TCP socket: see
    // docs/security.md. The slot is free either way.)
    time.advance(5_000);
    await sleep(100);
    time.advance(CLOSE_GRACE_MS);
    await sleep(100);
    const admitted = await RawClient.connect(t.port, { caCert: tls.cert });
    await admitted.expectOk("hello", ["2"]);
    await admitted.close();
    await silent.close();
    await t.close();
    await Deno.remove(dir, { recursive: true });
  },
});

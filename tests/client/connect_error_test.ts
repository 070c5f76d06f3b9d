/**
 * Connection failures in words a user can act on: a plain client against a
 * TLS server, certificates the client refuses, and the unit rules behind them.
 */

import { runClient } from "../../client/app.ts";
import { explainConnectError } from "../../client/connect_error.ts";
import { readTlsFiles } from "../../server/tls.ts";
import { assertEquals, assertMatch } from "../helpers/assert.ts";
import { hasOpenssl, makeCertificate } from "../helpers/certificates.ts";
import { ScriptedTerminal } from "../helpers/scripted_io.ts";
import { startTestServer } from "../helpers/test_server.ts";

const ignore = !hasOpenssl();

/** Runs the client against a TLS server whose certificate is made with `ca`, and returns its output. */
async function connectTo(ca: boolean, client: { tls?: { caCerts?: string[] } }, trust: boolean) {
  const dir = await Deno.makeTempDir({ prefix: "tessenger-tls-" });
  const tls = await readTlsFiles(
    ...Object.values(await makeCertificate(dir, { ca })) as [string, string],
  );
  const s = await startTestServer({ tls, clock: "real" });
  try {
    const term = new ScriptedTerminal();
    const code = await runClient({
      host: "127.0.0.1",
      port: s.port,
      udpPort: 0,
      downloadsDir: dir,
      io: term.io,
      tls: client.tls && (trust ? { caCerts: [tls.cert] } : {}),
    });
    term.end();
    return { code, output: term.output, port: s.port };
  } finally {
    await s.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "a plain client against a TLS server is told to connect with --tls",
  ignore,
  async fn() {
    const { code, output, port } = await connectTo(false, {}, false);
    assertEquals(code, 1);
    assertEquals(output, [
      `Cannot connect to 127.0.0.1:${port}: the server speaks TLS; connect with --tls (and ` +
      "--ca FILE if its certificate is self-signed or from your own CA).",
    ]);
  },
});

Deno.test({
  name: "a CA certificate used as the server's own is explained in a sentence",
  ignore,
  async fn() {
    const { code, output } = await connectTo(true, { tls: {} }, true);
    assertEquals(code, 1);
    assertEquals(output.length, 1);
    assertMatch(
      output[0],
      /^Cannot connect to 127\.0\.0\.1:\d+: the server presents a CA certificate \(basicConstraints CA:TRUE\) as its own; /,
    );
  },
});

Deno.test({
  name: "an untrusted certificate says to pass --ca",
  ignore,
  async fn() {
    const { output } = await connectTo(false, { tls: {} }, false);
    assertMatch(output[0], /not signed by a CA this client trusts; pass that CA .* --ca FILE\.$/);
  },
});

Deno.test("explainConnectError() keeps messages it has no better words for", () => {
  const plain = { host: "127.0.0.1", tls: false };
  assertEquals(
    explainConnectError("Connection refused (os error 111)", plain),
    "Connection refused (os error 111)",
  );
  assertEquals(
    explainConnectError("The server closed the connection.", plain),
    "The server closed the connection. If the server uses TLS, connect with --tls.",
  );
  assertEquals(
    explainConnectError("invalid peer certificate: NotValidForName", { host: "::1", tls: true }),
    "the server's certificate is not valid for ::1; connect by a name or address it lists.",
  );
  assertEquals(
    explainConnectError("Connection to the server lost: invalid peer certificate: Odd", {
      host: "h",
      tls: true,
    }),
    "the server's certificate was refused (Odd).",
  );
});

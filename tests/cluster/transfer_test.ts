/**
 * `/p2pvideo` between users on different nodes: the sending node brokers the
 * transfer and relays it; the receiver, a real client on another node (on
 * another address: 127.0.0.2), is told where that relay is (`serverUdpHost`)
 * and gets the file through it.
 */

import { join } from "node:path";
import { runClient } from "../../client/app.ts";
import { describeFile, TransferEndpoint } from "../../client/transfer_driver.ts";
import { assert, assertEquals } from "../helpers/assert.ts";
import { RawClient } from "../helpers/raw_client.ts";
import { ScriptedTerminal } from "../helpers/scripted_io.ts";
import { TEST_USERS } from "../helpers/test_server.ts";
import { skip, startCluster } from "./_cluster.ts";

Deno.test({
  name: skip
    ? `a file to a user on another node goes through the sending node's relay (skipped: ${skip})`
    : "a file to a user on another node goes through the sending node's relay",
  ignore: skip !== undefined,
  async fn() {
    const cluster = await startCluster(2, { hosts: ["127.0.0.1", "127.0.0.2"] });
    const [a, b] = cluster.nodes;
    const file = join(a.dataDir, "relayed.mp4");
    await Deno.writeFile(file, crypto.getRandomValues(new Uint8Array(65536)));
    const downloads = await Deno.makeTempDir({ dir: b.dataDir, prefix: "Hans-" });
    const term = new ScriptedTerminal();
    const hansExit = runClient({
      host: "127.0.0.2",
      port: b.port,
      udpPort: 0,
      downloadsDir: downloads,
      io: term.io,
    });
    term.type("Hans", TEST_USERS.Hans);
    await term.waitFor("Welcome to TESSENGER!");
    // Yoda, on the other node: a protocol session and an endpoint that takes no direct path.
    const yoda = await RawClient.login(a.port, "Yoda", TEST_USERS.Yoda);
    const sender = await TransferEndpoint.open({
      hostname: "127.0.0.1",
      port: 0,
      downloadsDir: a.dataDir,
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
      assertEquals(d.serverUdpPort, a.server.udpPort, "the sending node's UDP port");
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
      await term.waitFor(/^Received relayed\.mp4 from Yoda \(saved as /, 20_000);
      const got = await describeFile(join(downloads, "Yoda_relayed.mp4"));
      assertEquals(got.sha256, sha256);
      term.type("/logout");
      assertEquals(await hansExit, 0);
    } finally {
      await sender.close();
      await yoda.close();
      await cluster.close();
    }
  },
});

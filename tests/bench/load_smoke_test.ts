/**
 * Keeps `bench/load.ts` from rotting: its TESSENGER driver and each workload
 * run for about a second against a server started in-process on port 0.
 */

import { assert, assertEquals } from "../helpers/assert.ts";
import { join } from "node:path";
import { hashPassword } from "../../server/passwords.ts";
import { startServer } from "../../server/server.ts";
import { connectMany, tessengerDriver } from "../../bench/load/clients.ts";
import { seedGroups } from "../../bench/load/servers.ts";
import { fanoutRun, idleRamp, loginStorm, talkersRun } from "../../bench/load/workloads.ts";

const PASSWORD = "smoke-pw";
const USERS = Array.from({ length: 15 }, (_, i) => `u${i}`);

Deno.test("bench:load's TESSENGER driver runs every workload without loss", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "tessenger-load-smoke-" });
  const credentialsPath = join(dataDir, "credentials.txt");
  // A cheap hash keeps the test fast; the server checks it with its own cost.
  const hash = await hashPassword(PASSWORD, { N: 16, r: 1, p: 1 });
  await Deno.writeTextFile(credentialsPath, USERS.map((u) => `${u} ${hash}\n`).join(""));
  seedGroups(dataDir, [{ name: "load", members: USERS.slice(0, 9) }]);
  const server = await startServer({
    host: "127.0.0.1",
    port: 0,
    dataDir,
    credentialsPath,
    // Throttles off, as the benchmark runs the server.
    limits: { commandsPerSecond: 0, connectionsPerIpPerMinute: 0 },
  });
  const driver = tessengerDriver({ hostname: "127.0.0.1", port: server.port }, PASSWORD);
  try {
    const [sender, ...receivers] = await connectMany(driver, USERS.slice(0, 9));
    try {
      const fan = await fanoutRun(sender, receivers, { group: "load", messages: 300, tag: 1 });
      assertEquals([fan.lost, fan.duplicated, fan.errors], [0, 0, 0]);
      assertEquals(fan.receivers, 8);
      assert(fan.deliveriesPerSec > 0 && fan.p99Ms >= fan.p50Ms);

      const talk = await talkersRun([sender, ...receivers], {
        ratePerSec: 20,
        durationMs: 600,
        tag: 2,
        drainMs: 3000,
      });
      assert(talk.messages > 0, "talkers sent nothing");
      assertEquals(
        [talk.lost, talk.duplicated, talk.misdelivered, talk.errors],
        [0, 0, 0, 0],
      );
    } finally {
      for (const c of [sender, ...receivers]) c.close();
    }

    const idle = await idleRamp(
      driver,
      USERS.slice(9, 12),
      () => Promise.resolve(Deno.memoryUsage().rss),
      { steps: [1, 3], settleMs: 10 },
    );
    assertEquals(idle.steps.map((s) => s.clients), [1, 3]);
    for (const c of idle.clients) c.close();
    await Promise.all(idle.clients.map((c) => c.closed));

    const storm = await loginStorm(driver, USERS.slice(12), 2);
    assertEquals([storm.logins, storm.failures], [3, 0]);
  } finally {
    await server.close();
    await Deno.remove(dataDir, { recursive: true });
  }
});

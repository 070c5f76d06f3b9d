/**
 * Keeps `bench/load.ts` from rotting: its TESSENGER driver and each workload
 * run for about a second against a server started in-process on port 0, and
 * its IRC driver against the Deno relay (the bench's Deno floor) and against
 * TESSENGER's own IRC door.
 */

import { assert, assertEquals } from "../helpers/assert.ts";
import { startTestServer, writeCredentials } from "../helpers/test_server.ts";
import { testEngineUrls } from "../../dev/engines.ts";
import { startCluster } from "../../bench/load/cluster.ts";
import { connectMany, ircDriver, tessengerDriver } from "../../bench/load/clients.ts";
import { cpuSeconds, seedGroups, startServer } from "../../bench/load/servers.ts";
import { fanoutRun, idleRamp, loginStorm, talkersRun } from "../../bench/load/workloads.ts";

const PASSWORD = "smoke-pw";
const USERS = Array.from({ length: 15 }, (_, i) => `u${i}`);

Deno.test("bench:load's TESSENGER driver runs every workload without loss", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "tessenger-load-smoke-" });
  await seedGroups(dataDir, [{ name: "load", members: USERS.slice(0, 9) }]);
  // Pre-hashed (cheaply) to keep the test fast; the server checks with the stored cost.
  const t = await startTestServer({
    dataDir,
    users: Object.fromEntries(USERS.map((u) => [u, PASSWORD])),
    hashPasswords: true,
    clock: "real",
    // Throttles off, as the benchmark runs the server.
    limits: { commandsPerSecond: 0, connectionsPerIpPerMinute: 0 },
  });
  const driver = tessengerDriver({ hostname: "127.0.0.1", port: t.port }, PASSWORD);
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
    await t.close();
  }
});

Deno.test("bench:load's Deno relay carries the IRC driver's fan-out without loss", async () => {
  const runDir = await Deno.makeTempDir({ prefix: "tessenger-relay-smoke-" });
  const relay = await startServer("deno-relay", {
    runDir,
    credentialsPath: "unused",
    password: "unused",
  });
  try {
    const clients = await connectMany(relay.driver, USERS.slice(0, 9));
    try {
      for (const c of clients) await c.join("load");
      const [sender, ...receivers] = clients;
      const fan = await fanoutRun(sender, receivers, { group: "load", messages: 300, tag: 1 });
      assertEquals([fan.lost, fan.duplicated, fan.errors], [0, 0, 0]);
      assertEquals(fan.receivers, 8);
      const talk = await talkersRun(clients, { ratePerSec: 20, durationMs: 300, tag: 2 });
      assert(talk.messages > 0, "talkers sent nothing");
      assertEquals(
        [talk.lost, talk.duplicated, talk.misdelivered, talk.errors],
        [0, 0, 0, 0],
      );
    } finally {
      for (const c of clients) c.close();
      await Promise.all(clients.map((c) => c.closed));
    }
  } finally {
    await relay.stop();
    await Deno.remove(runDir, { recursive: true });
  }
});

Deno.test("bench:load's IRC driver runs fan-out and talkers through TESSENGER's IRC door", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "tessenger-load-irc-smoke-" });
  await seedGroups(dataDir, [{ name: "load", members: USERS.slice(0, 9) }]);
  const t = await startTestServer({
    dataDir,
    users: Object.fromEntries(USERS.map((u) => [u, PASSWORD])),
    hashPasswords: true,
    clock: "real",
    limits: { commandsPerSecond: 0, connectionsPerIpPerMinute: 0 },
    irc: { port: 0 },
  });
  const driver = ircDriver({ hostname: "127.0.0.1", port: t.server.ircPort! }, PASSWORD);
  try {
    const clients = await connectMany(driver, USERS.slice(0, 9));
    try {
      for (const c of clients) await c.join("load");
      const [sender, ...receivers] = clients;
      const fan = await fanoutRun(sender, receivers, { group: "load", messages: 300, tag: 1 });
      assertEquals([fan.lost, fan.duplicated, fan.errors], [0, 0, 0]);
      assertEquals(fan.receivers, 8);
      const talk = await talkersRun(clients, {
        ratePerSec: 20,
        durationMs: 300,
        tag: 2,
        drainMs: 3000,
      });
      assert(talk.messages > 0, "talkers sent nothing");
      assertEquals(
        [talk.lost, talk.duplicated, talk.misdelivered, talk.errors],
        [0, 0, 0, 0],
      );
    } finally {
      for (const c of clients) c.close();
      await Promise.all(clients.map((c) => c.closed));
    }
  } finally {
    await t.close();
  }
});

const engines = testEngineUrls();

Deno.test({
  name: engines.ok
    ? "bench:load --cluster runs the fan-out over three nodes without loss"
    : `bench:load --cluster runs the fan-out over three nodes without loss (skipped: ${engines.reason})`,
  ignore: !engines.ok,
  async fn() {
    const runDir = await Deno.makeTempDir({ prefix: "tessenger-load-cluster-" });
    const credentialsPath = `${runDir}/credentials.txt`;
    const members = USERS.slice(0, 10);
    await writeCredentials(
      credentialsPath,
      Object.fromEntries(members.map((u) => [u, PASSWORD])),
      true,
    );
    const cluster = await startCluster(3, {
      runDir,
      credentialsPath,
      password: PASSWORD,
      groups: [{ name: "load", members }],
    });
    try {
      const [sender, ...receivers] = await connectMany(cluster.driver, members);
      try {
        const fan = await fanoutRun(sender, receivers, { group: "load", messages: 100, tag: 1 });
        assertEquals([fan.lost, fan.duplicated, fan.errors], [0, 0, 0]);
        assertEquals(fan.receivers, 9);
        const cpu = await Promise.all(cluster.processes!.map(cpuSeconds));
        assertEquals(cluster.processes!.map((p) => p.name), [
          "node1",
          "node2",
          "node3",
          "postgres",
          "redis",
        ]);
        assert(cpu.every((s) => s >= 0));
      } finally {
        for (const c of [sender, ...receivers]) c.close();
      }
    } finally {
      await cluster.stop();
      await Deno.remove(runDir, { recursive: true });
    }
  },
});

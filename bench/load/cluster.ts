/**
 * `bench:load --cluster K`: TESSENGER as K nodes on one PostgreSQL and one
 * Redis, all started here on loopback (dev/engines.ts, PostgreSQL with its
 * durable defaults: fsync and synchronous_commit on), the fan-out group's
 * members spread over the nodes round-robin, the sender on the first. Loaded
 * only with `--cluster`: the engines' drivers read their environment.
 *
 * @module
 */

import { NODE_PERMISSIONS } from "../../dev/cluster.ts";
import { MAIN_PATH } from "../../dev/main_process.ts";
import { createDatabase, startPostgres, startRedis } from "../../dev/engines.ts";
import { PgStore } from "../../server/cluster/pg_store.ts";
import { SERVER_V8_FLAGS_ARG } from "../../server/v8_flags.ts";
import { type Driver, tessengerDriver } from "./clients.ts";
import {
  drain,
  freePort,
  QUIET_UNTHROTTLED,
  readRss,
  type ServerUnderTest,
  type StartOptions,
  waitListening,
} from "./servers.ts";

/** Connects each new client to the next node in turn. */
function roundRobin(drivers: Driver[]): Driver {
  let next = 0;
  return {
    protocol: drivers[0].protocol,
    connect: (name, options) => drivers[next++ % drivers.length].connect(name, options),
  };
}

/** Starts the engines, seeds the groups in PostgreSQL and starts `k` nodes. */
export async function startCluster(k: number, options: StartOptions): Promise<ServerUnderTest> {
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.splice(0).reverse()) await s().catch(() => {});
  };
  try {
    // The engines run as their own users (dev/engines.ts) and must reach their directories.
    await Deno.chmod(options.runDir, 0o755);
    const [pg, redis] = await Promise.all([
      startPostgres({ parent: options.runDir, durable: true }),
      startRedis({ parent: options.runDir }),
    ]);
    stops.push(() => pg.stop(), () => redis.stop());
    const db = await createDatabase(pg.url);
    const store = await PgStore.open(db.url);
    try {
      for (const g of options.groups ?? []) {
        const [creator, ...rest] = g.members;
        for (const u of g.members) await store.setPasswordHash(u, "unused", Date.now());
        await store.createGroup(g.name, creator, rest, Date.now());
        for (const u of rest) await store.join(g.name, u);
      }
    } finally {
      await store.close();
    }
    const nodes: { name: string; port: number; child: Deno.ChildProcess }[] = [];
    for (let i = 0; i < k; i++) {
      const name = `node${i + 1}`;
      const port = freePort();
      const dataDir = await Deno.makeTempDir({ dir: options.runDir, prefix: `${name}-` });
      const child = new Deno.Command("deno", {
        args: [
          "run",
          "--quiet",
          ...NODE_PERMISSIONS,
          // As `deno task server:cluster` runs it.
          SERVER_V8_FLAGS_ARG,
          ...options.denoFlags ?? [],
          MAIN_PATH,
          "server",
          "--port",
          String(port),
          "--data-dir",
          dataDir,
          "--credentials",
          options.credentialsPath,
          "--database",
          db.url,
          "--redis",
          redis.url,
          "--node-name",
          name,
          // As the single node is run.
          ...QUIET_UNTHROTTLED,
        ],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const out = [drain(child.stdout), drain(child.stderr)];
      stops.push(async () => {
        try {
          child.kill("SIGTERM");
        } catch {
          // already gone
        }
        await child.status;
      });
      try {
        await waitListening(port, child);
      } catch (e) {
        throw new Error(`${(e as Error).message}\n${out.map((o) => o.tail()).join("")}`);
      }
      nodes.push({ name, port, child });
    }
    const processes = [
      ...nodes.map((n) => ({ name: n.name, pid: n.child.pid })),
      { name: "postgres", pid: await pg.pid(), withChildren: true },
      { name: "redis", pid: await redis.pid() },
    ];
    return {
      kind: "tessenger-cluster",
      pid: nodes[0].child.pid,
      driver: roundRobin(
        nodes.map((n) =>
          tessengerDriver({ hostname: "127.0.0.1", port: n.port }, options.password)
        ),
      ),
      processes,
      rss: async () => {
        let total = 0;
        for (const n of nodes) total += await readRss(n.child.pid);
        return total;
      },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/**
 * A cluster for tests: N real servers in this process (`startServer` with
 * `cluster`), each with its own data dir and port, on one fresh database of
 * the test PostgreSQL and one fresh namespace of the test Redis
 * (dev/engines.ts). Clients talk to them over real sockets.
 *
 * @module
 */

import { createDatabase, dropNamespace, testEngineUrls, testNamespace } from "../../dev/engines.ts";
import type { ClusterSettings } from "../../server/cluster/flags.ts";
import {
  startTestServer,
  type TestServer,
  type TestServerOptions,
} from "../helpers/test_server.ts";

/** The engines, or why the cluster's tests are skipped. */
export const engines = testEngineUrls();
/** Set when the cluster's tests cannot run here. */
export const skip = engines.ok ? undefined : engines.reason;

/** A running test cluster. */
export interface TestCluster {
  nodes: TestServer[];
  settings: ClusterSettings[];
  database: string;
  namespace: string;
  /** Stops every node and drops the database and the namespace. */
  close(): Promise<void>;
}

/** Starts `n` nodes (`node1`..`nodeN`) of a fresh cluster. */
export async function startCluster(
  n: number,
  options: TestServerOptions & {
    /** The PostgreSQL server to make the database on; default the test one. */
    databaseServer?: string;
    /** Node i listens on `hosts[i]` (a loopback address); default 127.0.0.1. */
    hosts?: string[];
  } = {},
): Promise<TestCluster> {
  if (!engines.ok) throw new Error(engines.reason);
  const { databaseServer = engines.database, hosts = [], ...serverOptions } = options;
  const db = await createDatabase(databaseServer);
  const namespace = testNamespace();
  const settings = Array.from({ length: n }, (_, i): ClusterSettings => ({
    database: db.url,
    redis: engines.redis,
    nodeName: `node${i + 1}`,
    namespace,
  }));
  const nodes: TestServer[] = [];
  const close = async () => {
    await Promise.all(nodes.map((t) => t.close()));
    await dropNamespace(engines.redis, namespace);
    await db.drop();
  };
  try {
    // One after the other: the first migrates the schema.
    for (const [i, cluster] of settings.entries()) {
      nodes.push(
        await startTestServer({
          hashPasswords: true,
          ...serverOptions,
          ...(hosts[i] ? { host: hosts[i] } : {}),
          cluster,
        }),
      );
    }
  } catch (e) {
    await close();
    throw e;
  }
  return { nodes, settings, database: db.url, namespace, close };
}

/** Waits until `check` holds, at most `ms`. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
  ms = 5000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

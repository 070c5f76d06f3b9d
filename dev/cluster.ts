/**
 * Cluster nodes as child processes (`main.ts server --database ... --redis ...`), for the
 * fault tests and `bench:load --cluster`: each with its own data dir, on loopback, with
 * the permissions `deno task server:cluster` grants (the drivers read their environment).
 *
 * ```ts
 * import { spawnNode } from "./cluster.ts";
 *
 * declare const database: string, redis: string, credentials: string;
 * const node = await spawnNode({ database, redis, nodeName: "node1", credentials });
 * node.process.child.kill("SIGKILL"); // a crash
 * await node.stop();
 * ```
 *
 * @module
 */

import { type ServerProcess, spawnServer, type SpawnServerOptions } from "./server_process.ts";

/** The permissions of `deno task server:cluster`, net limited to loopback. */
export const NODE_PERMISSIONS: readonly string[] = [
  "--allow-net=127.0.0.1",
  "--allow-read",
  "--allow-write",
  "--allow-env",
];

/** Settings of {@link spawnNode}. */
export interface NodeOptions {
  database: string;
  redis: string;
  nodeName: string;
  /** The credentials file every node imports. */
  credentials: string;
  /** The node's data dir; a fresh temporary one by default (removed by `stop`). */
  dataDir?: string;
  /** More `tessenger server` flags. */
  args?: string[];
  /** How the process is run (`deno`, output lines). */
  spawn?: SpawnServerOptions;
}

/** A running node. */
export interface NodeProcess {
  name: string;
  port: number;
  dataDir: string;
  process: ServerProcess;
  /** Stops it (SIGTERM, a clean shutdown) and removes a data dir it made. */
  stop(): Promise<void>;
}

/** Starts one node and waits until it listens. */
export async function spawnNode(options: NodeOptions): Promise<NodeProcess> {
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ??
    await Deno.makeTempDir({ prefix: `tessenger-${options.nodeName}-` });
  const process = await spawnServer([
    "--data-dir",
    dataDir,
    "--credentials",
    options.credentials,
    "--database",
    options.database,
    "--redis",
    options.redis,
    "--node-name",
    options.nodeName,
    ...options.args ?? [],
  ], { denoFlags: NODE_PERMISSIONS, ...options.spawn });
  let stopped: Promise<void> | undefined;
  return {
    name: options.nodeName,
    port: process.port,
    dataDir,
    process,
    stop() {
      stopped ??= (async () => {
        try {
          process.child.kill("SIGTERM");
        } catch {
          // already gone (killed by the test)
        }
        await process.child.status;
        await process.drained;
        if (ownDir) await Deno.remove(dataDir, { recursive: true }).catch(() => {});
      })();
      return stopped;
    },
  };
}

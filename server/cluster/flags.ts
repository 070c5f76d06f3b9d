/**
 * The cluster flags of `tessenger server` (`--database`, `--redis`,
 * `--node-name`, `--public-host`): their parse spec, help lines and parsing.
 * No driver is loaded here: a single node parses them too.
 *
 * @module
 */

import { parseHost, UsageError } from "../../shared/cli_args.ts";

/** How a node joins a cluster (docs/cluster.md). */
export interface ClusterSettings {
  /** `postgres://USER[:PASSWORD]@HOST:PORT/DB`. */
  database: string;
  /** `redis://[:PASSWORD@]HOST:PORT[/DB]`. */
  redis: string;
  /** This node's name, unique in the cluster. */
  nodeName: string;
  /** Keeps clusters apart in one Redis. Default `tessenger`. */
  namespace?: string;
  /** The host clients of other nodes reach this node's UDP port at. Default: the listen host. */
  publicHost?: string;
  /** Heartbeat period and time to live (`node.ts`); tests shorten them. */
  heartbeatMs?: number;
  ttlMs?: number;
}

/** parseArgs options of the cluster flags. */
export const CLUSTER_FLAGS = {
  database: { type: "string" },
  redis: { type: "string" },
  "node-name": { type: "string" },
  "public-host": { type: "string" },
} as const;

/** Usage fragment of the cluster flags. */
export const CLUSTER_USAGE = "[--database URL] [--redis URL] [--node-name NAME] [--public-host IP]";

/** Help lines of the cluster flags. */
export const CLUSTER_HELP = `Cluster (several nodes share PostgreSQL and Redis; docs/cluster.md):
  --database URL              postgres://USER[:PASSWORD]@HOST:PORT/DB, with --redis
                                                               (default none: a single node)
  --redis URL                 redis://[:PASSWORD@]HOST:PORT[/DB], with --database
                                                               (default none: a single node)
  --node-name NAME            this node's name, unique in the cluster
                                                               (default HOSTNAME-PORT)
  --public-host IP            where other nodes' clients reach this node's UDP relay
                                                               (default --host)`;

const NODE_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * The cluster settings of parsed flags; undefined for a single node.
 *
 * @throws {UsageError} with a one-line reason.
 */
export function parseClusterFlags(
  v: { database?: string; redis?: string; "node-name"?: string; "public-host"?: string },
  port: number,
): ClusterSettings | undefined {
  const { database, redis } = v;
  if (database === undefined && redis === undefined) {
    if (v["node-name"] !== undefined || v["public-host"] !== undefined) {
      throw new UsageError("--node-name and --public-host need --database and --redis");
    }
    return undefined;
  }
  if (database === undefined || redis === undefined) {
    throw new UsageError("--database and --redis go together: give both or neither");
  }
  if (!/^postgres(ql)?:\/\/[^/]+/.test(database)) {
    throw new UsageError(
      `Invalid --database ${JSON.stringify(database)}: expected postgres://USER@HOST:PORT/DB`,
    );
  }
  if (!/^rediss?:\/\/[^/]+/.test(redis)) {
    throw new UsageError(`Invalid --redis ${JSON.stringify(redis)}: expected redis://HOST:PORT`);
  }
  const nodeName = v["node-name"] ?? `${hostname()}-${port}`;
  if (!NODE_NAME.test(nodeName)) {
    throw new UsageError(
      `Invalid node name ${JSON.stringify(nodeName)}: 1-64 letters, digits, _ . - (--node-name)`,
    );
  }
  const publicHost = v["public-host"];
  return {
    database,
    redis,
    nodeName,
    ...(publicHost !== undefined ? { publicHost: parseHost(publicHost, "public host") } : {}),
  };
}

/** This machine's name, as a node name may hold it. */
function hostname(): string {
  try {
    return Deno.hostname().replace(/[^A-Za-z0-9_.-]/g, "-").slice(0, 50);
  } catch {
    throw new UsageError("Give --node-name: the host name cannot be read (--allow-sys=hostname)");
  }
}

/**
 * A cluster node's {@link ServerPorts}: what `startServer` runs on when it is
 * given `--database` and `--redis` (docs/cluster.md). Loaded with a dynamic
 * import, so that a single node never loads the engines' drivers.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import type { Clock } from "../../shared/time.ts";
import type { OnlineLog } from "../context.ts";
import { loadCredentials } from "../credentials.ts";
import type { LocalThrottleOptions } from "../local/throttle.ts";
import type { ServerPorts } from "../server.ts";
import type { ClusterSettings } from "./flags.ts";
import { ClusterLogs } from "./text_logs.ts";
import { openPresence, type Presence } from "./mod.ts";
import { PgStore } from "./pg_store.ts";

/** What a node's ports need from the server's own settings. */
export interface NodeContext {
  dataDir: string;
  credentialsPath: string;
  throttle: Omit<LocalThrottleOptions, "clock">;
  clock: Clock;
  log: Logger;
  /** The address the server listens on (the default public host). */
  host: string;
}

/** `userlog.txt` is written by the node that writes the logs, for the whole cluster. */
const NO_USERLOG: OnlineLog = { add() {}, remove() {} };

/**
 * Opens the engines, imports the credentials file into the shared database
 * and joins the cluster.
 *
 * @throws {UnavailableError} when an engine cannot be reached; {@link Error}
 * when the node name is in use or the database's schema is newer.
 */
export async function openClusterPorts(
  settings: ClusterSettings,
  context: NodeContext,
): Promise<ServerPorts> {
  const { log } = context;
  const logError = (e: unknown) =>
    log.warn("Cluster: {error}", { error: e instanceof Error ? e.message : String(e) });
  const store = await PgStore.open(settings.database, {
    applicationName: `tessenger:${settings.nodeName}`,
  });
  let presence: Presence;
  try {
    await loadCredentials(store, context.credentialsPath, context.clock, log);
    presence = await openPresence({
      ...settings,
      throttle: context.throttle,
      clock: context.clock,
      onError: logError,
    });
  } catch (e) {
    await store.close();
    throw e;
  }
  const cluster = { ...presence, store };
  let logs: ClusterLogs | undefined;
  try {
    logs = new ClusterLogs({
      url: settings.database,
      dataDir: context.dataDir,
      directory: cluster.directory,
      log,
    });
    logs.start();
  } catch (e) {
    await presence.close();
    await store.close();
    throw e;
  }
  const { node } = cluster;
  log.info("Node {node} joined the cluster (heartbeat every {beat} ms, dead after {ttl} ms)", {
    node: node.name,
    beat: node.heartbeatMs,
    ttl: node.ttlMs,
  });
  node.onReaped((users) =>
    log.warn("Took {n} users of dead nodes offline: {users}", {
      n: users.length,
      users: users.join(" "),
    })
  );
  const host = settings.publicHost ?? context.host;
  return {
    store: cluster.store,
    directory: cluster.directory,
    router: cluster.router,
    throttle: cluster.throttle,
    node: node.name,
    userLog: NO_USERLOG,
    udpHost: host === "0.0.0.0" || host === "::" ? undefined : host,
    bind(server) {
      cluster.directory.onLost((user) => {
        log.warn("{user} was claimed by another node while Redis had lost them", { user });
        server.closeUser(user, "logged in elsewhere");
      });
      cluster.router.onReconnect(() => {
        log.info("The bus is back: the sessions of this node catch up from the database");
        server.resyncAll();
      });
    },
    async close() {
      await logs?.close();
      // The store itself is closed by the server, after its sessions.
      await presence.close();
    },
  };
}

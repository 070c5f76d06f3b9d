/**
 * A node of a TESSENGER cluster: the ports of `server/ports.ts` on shared
 * engines, PostgreSQL for what must last ({@link PgStore}) and Redis for what
 * is shared and short-lived ({@link RedisDirectory}, {@link RedisRouter},
 * {@link RedisThrottle}, held together by the node's heartbeat,
 * {@link ClusterNode}). docs/cluster.md describes the deployment.
 *
 * ```ts
 * const cluster = await openCluster({
 *   database: "postgres://tessenger@db:5432/tessenger",
 *   redis: "redis://cache:6379",
 *   nodeName: "chat1",
 *   throttle: { maxAttempts: 3, blockMs: 10_000 },
 * });
 * // cluster.store, cluster.directory, cluster.router, cluster.throttle
 * await cluster.close();
 * ```
 *
 * This module loads the engines' drivers, which read their environment
 * variables: a node runs with `--allow-env`. A single node never imports it.
 *
 * @module
 */

import { type Clock, systemClock } from "../../shared/time.ts";
import { RedisDirectory } from "./directory.ts";
import { ClusterNode, type ClusterNodeOptions } from "./node.ts";
import { PgStore } from "./pg_store.ts";
import { connectRedis, keyPrefix, type Redis } from "./redis.ts";
import { RedisRouter } from "./router.ts";
import { RedisThrottle, type ThrottleOptions } from "./throttle.ts";

export { UnavailableError } from "../ports.ts";
export { ClusterNode, PgStore, RedisDirectory, RedisRouter, RedisThrottle };
export type { ThrottleOptions };

/** Settings of {@link openPresence}. */
export interface PresenceOptions extends ClusterNodeOptions {
  /** `redis://[:PASSWORD@]HOST:PORT[/DB]`. */
  redis: string;
  /** This node's name, unique in the cluster. */
  nodeName: string;
  /** Keeps several clusters apart in one Redis. Default `tessenger`. */
  namespace?: string;
  throttle: Omit<ThrottleOptions, "clock">;
  clock?: Clock;
  /** Where background failures go (a heartbeat or publish that Redis did not take). */
  onError?: (e: unknown) => void;
}

/** A node's Redis side: directory, router and throttle. */
export interface Presence {
  node: ClusterNode;
  directory: RedisDirectory;
  router: RedisRouter;
  throttle: RedisThrottle;
  /** Takes this node's users offline and closes the connections. */
  close(): Promise<void>;
}

/** Joins the cluster in Redis (without the database). */
export async function openPresence(options: PresenceOptions): Promise<Presence> {
  const prefix = keyPrefix(options.namespace ?? "tessenger");
  const connections: Redis[] = [];
  const close = () => Promise.all(connections.map((r) => r.quit().catch(() => r.disconnect())));
  try {
    connections.push(await connectRedis(options.redis, `tessenger:${options.nodeName}`));
    connections.push(await connectRedis(options.redis, `tessenger:${options.nodeName}:bus`));
    const [commands, subscriber] = connections;
    const node = new ClusterNode(commands, prefix, options.nodeName, options);
    const onError = options.onError ?? (() => {});
    node.onError(onError);
    const directory = new RedisDirectory(node);
    const router = new RedisRouter(node, subscriber);
    router.onError(onError);
    const throttle = new RedisThrottle(commands, prefix, {
      ...options.throttle,
      clock: options.clock ?? systemClock,
    });
    await router.listen();
    await node.join();
    return {
      node,
      directory,
      router,
      throttle,
      async close() {
        await node.leave();
        await router.close();
        await close();
      },
    };
  } catch (e) {
    await close();
    throw e;
  }
}

/** Settings of {@link openCluster}. */
export interface ClusterOptions extends PresenceOptions {
  /** `postgres://USER[:PASSWORD]@HOST:PORT/DB`. */
  database: string;
}

/** A node's ports on the shared engines. */
export interface Cluster extends Presence {
  store: PgStore;
}

/**
 * Opens the database (migrating it) and joins the cluster.
 *
 * @throws {UnavailableError} when an engine cannot be reached; {@link Error}
 * when the database's schema is newer or the node name is in use.
 */
export async function openCluster(options: ClusterOptions): Promise<Cluster> {
  const store = await PgStore.open(options.database, {
    applicationName: `tessenger:${options.nodeName}`,
  });
  let presence: Presence;
  try {
    presence = await openPresence(options);
  } catch (e) {
    await store.close();
    throw e;
  }
  return {
    ...presence,
    store,
    async close() {
      await presence.close();
      await store.close();
    },
  };
}

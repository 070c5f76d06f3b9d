/**
 * Redis connections of a node (the `ioredis` driver): one for commands and
 * scripts, one subscribed to the node's bus channel. Both reconnect by
 * themselves, forever, at most a second apart; while one is down its commands
 * fail at once (no offline queue), so a request gets a clear error instead of
 * waiting.
 *
 * Every key and channel of a cluster starts with `{NAMESPACE}:` (default
 * `{tessenger}:`): one hash slot, so the scripts may touch any of them, and
 * several clusters (or test runs) can share one Redis.
 *
 * @module
 */

import { Redis } from "ioredis";
import { UnavailableError } from "../ports.ts";

export type { Redis };

/** Opens a connection and waits until it is ready. */
export async function connectRedis(url: string, name: string): Promise<Redis> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectionName: name,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 5000,
    retryStrategy: (times) => Math.min(times * 100, 1000),
  });
  // Errors are reported through the commands that fail; the connection
  // retries by itself. Without a listener ioredis prints every one.
  redis.on("error", () => {});
  try {
    await redis.connect();
  } catch (e) {
    redis.disconnect();
    throw new UnavailableError("presence", e);
  }
  return redis;
}

/** Runs a Redis call; a connection that is down becomes an {@link UnavailableError}. */
export async function redisCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    if (e instanceof Error && /ReplyError/.test(e.name)) throw e;
    throw new UnavailableError("presence", e);
  }
}

/** The prefix of every key and channel of the cluster `namespace`. */
export function keyPrefix(namespace: string): string {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(namespace)) {
    throw new Error(
      `Invalid cluster namespace ${JSON.stringify(namespace)}: 1-64 letters, digits, _ . -`,
    );
  }
  return `{${namespace}}:`;
}

/** A Lua script run with EVALSHA (ioredis loads it again after a Redis restart). */
export type Script = (...args: (string | number)[]) => Promise<unknown>;

/** Defines `lua` on `redis` under `name`; the script gets no KEYS, only ARGV. */
export function defineScript(redis: Redis, name: string, lua: string): Script {
  redis.defineCommand(name, { numberOfKeys: 0, lua });
  const commands = redis as unknown as Record<string, Script>;
  return (...args) => redisCall(() => commands[name](...args));
}

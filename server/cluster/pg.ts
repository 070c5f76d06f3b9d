/**
 * The PostgreSQL connection pool of a node (the `postgres` driver) and the
 * errors that mean the database cannot be reached.
 *
 * @module
 */

import postgres from "postgres";

/** A pool of connections; BIGINT columns are read as numbers (they stay below 2^53). */
export type Sql = postgres.Sql<{ bigint: number }>;

/** Settings of {@link connectPostgres}. */
export interface PostgresOptions {
  /** Most connections this node opens. Default 8. */
  max?: number;
  /** Seconds to wait for a connection before a query fails. Default 5. */
  connectTimeoutSeconds?: number;
  /** The name the node shows in `pg_stat_activity`. */
  applicationName?: string;
}

/**
 * Opens a pool on `url` (`postgres://USER[:PASSWORD]@HOST:PORT/DB`). Nothing
 * connects until the first query; a connection lost later is opened again by
 * the next query, so service resumes by itself when the database returns.
 */
export function connectPostgres(url: string, options: PostgresOptions = {}): Sql {
  return postgres(url, {
    max: options.max ?? 8,
    connect_timeout: options.connectTimeoutSeconds ?? 5,
    idle_timeout: 60,
    onnotice: () => {},
    connection: { application_name: options.applicationName ?? "tessenger" },
    types: {
      bigint: {
        to: 20,
        from: [20],
        serialize: (n: number) => String(n),
        parse: (text: string) => Number(text),
      },
    },
  });
}

/** SQLSTATE classes and driver codes that mean "the database is not there", not "bad request". */
const UNAVAILABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENOTFOUND",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now
  "08000",
  "08003",
  "08006",
  "08001",
  "08004",
]);

/** True when `e` says the database could not be reached (as opposed to a failed statement). */
export function isUnavailable(e: unknown): boolean {
  if (typeof e !== "object" || e === null) return false;
  const code = (e as { code?: unknown }).code;
  if (typeof code === "string" && UNAVAILABLE_CODES.has(code)) return true;
  const errno = (e as { errno?: unknown }).errno;
  return typeof errno === "string" && UNAVAILABLE_CODES.has(errno);
}

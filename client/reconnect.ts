/**
 * Logging back in after the connection to the server is lost: when to try
 * (never after a logout or a refusal that would only repeat), how long to
 * wait between attempts (doubling, with jitter, up to a cap), and one attempt
 * at logging in again with the username and password kept in memory.
 *
 * @module
 */

import { ConnectionClosedError, type ServerConnection } from "./connection.ts";

/** Waits between attempts, in ms: the first, and the longest (each wait doubles up to it). */
export interface ReconnectDelays {
  first: number;
  max: number;
}

/** 1 s, 2 s, 4 s, ... up to 30 s. */
export const DEFAULT_RECONNECT_DELAYS: ReconnectDelays = { first: 1000, max: 30_000 };

/**
 * Why the server ended a session when trying again would only repeat it: the
 * user logged out, or the server refused the session for good.
 */
const FINAL_REASONS = new Set([
  "logout",
  "blocked",
  "too many failed logins",
  "protocol version mismatch",
  "too many malformed frames",
  "too many requests",
]);

/** Whether a connection that ended for `reason` is worth logging back in after. */
export function shouldReconnect(reason: string): boolean {
  return !FINAL_REASONS.has(reason);
}

/**
 * The wait before attempt `attempt` (from 1): `first` doubled each time up to
 * `max`, less up to a fifth at random so that many clients spread out.
 *
 * @example
 * ```ts
 * reconnectDelay(1, { first: 1000, max: 30_000 }, () => 0); // 1000
 * reconnectDelay(9, { first: 1000, max: 30_000 }, () => 0); // 30000
 * ```
 */
export function reconnectDelay(
  attempt: number,
  delays: ReconnectDelays,
  random: () => number = Math.random,
): number {
  const full = Math.min(delays.max, delays.first * 2 ** Math.min(attempt - 1, 30));
  return Math.round(full * (1 - 0.2 * random()));
}

/** What one attempt at logging in again came to. */
export type ReloginOutcome =
  | { kind: "ok" }
  /** Worth another attempt later (not after `minWaitMs`, when the server said how long). */
  | { kind: "retry"; why: string; minWaitMs?: number }
  /** Trying again would not help: the account or the password is no longer accepted. */
  | { kind: "final"; why: string };

/** Logs `conn` in as `user`, as the first login did; the password never leaves memory. */
export async function relogin(
  conn: ServerConnection,
  user: string,
  password: string,
  udpPort: number,
): Promise<ReloginOutcome> {
  try {
    const named = await conn.request("user", [user]);
    if (!named.ok) return refusal(named.code, named.lines, named.data);
    const res = await conn.request("pass", [password, String(udpPort)]);
    return res.ok ? { kind: "ok" } : refusal(res.code, res.lines, res.data);
  } catch (e) {
    if (e instanceof ConnectionClosedError) return { kind: "retry", why: e.message };
    throw e;
  }
}

function refusal(
  code: string,
  lines: string[],
  data: Record<string, unknown> | undefined,
): ReloginOutcome {
  const why = lines.join(" ") || code;
  switch (code) {
    case "unknown_user":
    case "bad_password":
    case "now_blocked":
      return { kind: "final", why };
    case "blocked":
    case "address_limited": {
      const seconds = Number(data?.retryAfterSeconds);
      return { kind: "retry", why, ...(seconds > 0 ? { minWaitMs: seconds * 1000 } : {}) };
    }
    default:
      // already_online (the old session is not gone yet), busy, unavailable, ...
      return { kind: "retry", why };
  }
}

/**
 * Starts a TESSENGER server: opens the store, imports the credentials file,
 * listens, and runs one {@link Session} per connection.
 *
 * @module
 */

import { getLogger, type Logger } from "@logtape/logtape";
import { join } from "node:path";
import { encodeFrame, frameLine, type PushFrame } from "../shared/protocol.ts";
import { type Clock, systemClock } from "../shared/time.ts";
import type { ServerServices } from "./context.ts";
import { loadCredentials } from "./credentials.ts";
import {
  CLOSE_GRACE_MS,
  ConnectionGate,
  DEFAULT_LIMITS,
  keepAliveIntervalMs,
  type LimitSettings,
  type Refusal,
  SessionGuard,
  SWEEP_INTERVAL_MS,
} from "./limits.ts";
import { KEEPALIVE_INTERVAL_MS } from "../shared/limits.ts";
import { LoginThrottle } from "./login_throttle.ts";
import { LocalPresence } from "./presence.ts";
import { Session } from "./session.ts";
import { SqliteStore } from "./store.ts";
import { MessageLogs, UserLog } from "./text_logs.ts";
import { listenChat, type TlsServerOptions } from "./tls.ts";
import { VERSION } from "../shared/version.ts";

/** Settings of {@link startServer}. */
export interface ServerOptions {
  /** Address to listen on. Default `127.0.0.1`. */
  host?: string;
  /** TCP port; 0 lets the OS pick. Default 5000. */
  port?: number;
  /** Failed logins in a row that block a username (1–5). Default 3. */
  maxAttempts?: number;
  /** How long a block lasts. Default 10. */
  blockSeconds?: number;
  /** Where the database and text logs live. Default the current directory. */
  dataDir?: string;
  /** The credentials file; a missing file is reported and skipped. Default `credentials.txt`. */
  credentialsPath?: string;
  /** Time source; tests inject one. */
  clock?: Clock;
  /** Logger; defaults to the `tessenger.server` category. */
  log?: Logger;
  /** Connection and session limits; each missing field takes its default (`limits.ts`). */
  limits?: Partial<LimitSettings>;
  /** Serve TLS with this certificate and key instead of plain TCP. */
  tls?: TlsServerOptions;
  /** How often deadlines are checked. Default {@link SWEEP_INTERVAL_MS}; tests shorten it. */
  sweepIntervalMs?: number;
}

/** A running server. */
export interface RunningServer {
  readonly hostname: string;
  readonly port: number;
  /** Stops listening, says bye to every client and closes the store. */
  close(): Promise<void>;
}

/**
 * Starts a server and resolves once it is listening.
 *
 * @throws {Deno.errors.AddrInUse} and other listen errors; store errors.
 */
export async function startServer(options: ServerOptions = {}): Promise<RunningServer> {
  const dataDir = options.dataDir ?? ".";
  const clock = options.clock ?? systemClock;
  const log = options.log ?? getLogger(["tessenger", "server"]);
  const maxAttempts = options.maxAttempts ?? 3;
  const blockSeconds = options.blockSeconds ?? 10;
  const limits: LimitSettings = { ...DEFAULT_LIMITS, ...options.limits };

  await Deno.mkdir(dataDir, { recursive: true });
  const store = new SqliteStore(join(dataDir, "tessenger.db"));
  try {
    await loadCredentials(store, options.credentialsPath ?? "credentials.txt", clock, log);
  } catch (e) {
    store.close();
    throw e;
  }
  store.checkpointInBackground();
  const messageLogs = new MessageLogs(dataDir);
  for (const path of messageLogs.reconcile(store)) {
    log.warn("Rewrote {path} from the database to match it", { path });
  }
  const userLog = new UserLog(dataDir);
  const presence = new LocalPresence();
  const services: ServerServices = {
    store,
    presence,
    userLog,
    messageLogs,
    throttle: new LoginThrottle({ maxAttempts, blockMs: blockSeconds * 1000, clock }),
    clock,
    log,
    settings: {
      maxAttempts,
      blockSeconds,
      serverName: `tessenger/${VERSION}`,
      keepAliveMs: keepAliveIntervalMs(limits.idleTimeoutMs, KEEPALIVE_INTERVAL_MS),
    },
    push(users: readonly string[], frame: PushFrame, except?: string) {
      // Encoded once, the same bytes queued for every recipient.
      presence.deliverAll(users, frameLine(frame), except);
    },
  };

  let listener: Deno.Listener;
  try {
    listener = listenChat(options.host ?? "127.0.0.1", options.port ?? 5000, options.tls);
  } catch (e) {
    store.close();
    throw e;
  }
  const addr = listener.addr as Deno.NetAddr;
  const sessions = new Set<Session>();
  log.info("TESSENGER {version} listening on {host}:{port}{tls}, data in {dir}", {
    version: VERSION,
    host: addr.hostname,
    port: addr.port,
    tls: options.tls ? " (TLS)" : "",
    dir: dataDir,
  });

  const gate = new ConnectionGate(limits, clock);
  // Refused connections get a bye frame and are closed; one that does not take
  // it (a TLS client that never finishes its handshake) is closed by the sweep.
  const turningAway = new Map<Deno.Conn, number>();
  const turnAway = (conn: Deno.Conn, refusal: Refusal) => {
    turningAway.set(conn, clock());
    const reason = refusal === "server_full"
      ? "server full: too many connections, try again later"
      : "too many new connections from your address, try again later";
    const done = () => {
      if (!turningAway.delete(conn)) return;
      try {
        conn.close();
      } catch {
        // already closed
      }
    };
    conn.write(encodeFrame({ t: "bye", reason })).then(done, done);
  };

  const ended = (session: Session) => sessions.delete(session);
  let stopping = false;
  const acceptLoop = (async () => {
    while (!stopping) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (e) {
        if (stopping || e instanceof Deno.errors.BadResource) break;
        // Out of file descriptors and the like: keep serving the sessions we
        // have, and try again shortly rather than stop accepting for good.
        log.error("Cannot accept a connection: {error}", { error: String(e) });
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      const ip = (conn.remoteAddr as Deno.NetAddr).hostname;
      const refusal = gate.admit(ip, sessions.size);
      if (refusal) {
        turnAway(conn, refusal);
        continue;
      }
      if ("setNoDelay" in conn) {
        try {
          (conn as Deno.TcpConn).setNoDelay(true);
        } catch {
          // not every platform supports it
        }
      }
      const session = new Session(conn, services, new SessionGuard(limits, clock), ended);
      sessions.add(session);
      session.run();
    }
  })();

  // One timer for every deadline of every session.
  const sweep = () => {
    for (const s of sessions) s.sweep();
    const now = clock();
    for (const [conn, since] of turningAway) {
      if (now - since < CLOSE_GRACE_MS) continue;
      turningAway.delete(conn);
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
    const refused = gate.sweep();
    if (refused.server_full + refused.ip_rate > 0) {
      log.warn(
        "Refused {n} new connections: {full} with the server full ({max}), " +
          "{rate} over the per-IP rate ({perMinute}/min)",
        {
          n: refused.server_full + refused.ip_rate,
          full: refused.server_full,
          max: limits.maxConnections,
          rate: refused.ip_rate,
          perMinute: limits.connectionsPerIpPerMinute,
        },
      );
    }
  };
  const sweepTimer = setInterval(sweep, options.sweepIntervalMs ?? SWEEP_INTERVAL_MS);

  let closing: Promise<void> | undefined;
  return {
    hostname: addr.hostname,
    port: addr.port,
    close() {
      closing ??= (async () => {
        stopping = true;
        clearInterval(sweepTimer);
        try {
          listener.close();
        } catch {
          // already closed
        }
        await acceptLoop;
        for (const conn of turningAway.keys()) {
          try {
            conn.close();
          } catch {
            // already closed
          }
        }
        turningAway.clear();
        const done = Promise.all([...sessions].map((s) => s.done));
        for (const s of sessions) s.close("server shutting down");
        // A client that does not read its bye must not hold the shutdown up.
        let graceTimer: ReturnType<typeof setTimeout> | undefined;
        const grace = new Promise<void>((r) => graceTimer = setTimeout(r, CLOSE_GRACE_MS));
        await Promise.race([done, grace]);
        clearTimeout(graceTimer);
        for (const s of sessions) s.abort();
        await done;
        userLog.flush();
        messageLogs.close();
        store.close();
        log.info("Server stopped");
      })();
      return closing;
    },
  };
}

/**
 * Starts a TESSENGER server: opens the store, imports the credentials file,
 * listens, and runs one {@link Session} per connection.
 *
 * @module
 */

import { getLogger, type Logger } from "@logtape/logtape";
import { join } from "node:path";
import { encodeFrame, type PushFrame } from "../shared/protocol.ts";
import { type Clock, systemClock } from "../shared/time.ts";
import type { ServerServices } from "./context.ts";
import { importCredentials, parseCredentials } from "./credentials.ts";
import { LoginThrottle } from "./login_throttle.ts";
import { LocalPresence } from "./presence.ts";
import { Session } from "./session.ts";
import { SqliteStore } from "./store.ts";
import { MessageLogs, UserLog } from "./text_logs.ts";
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

  await Deno.mkdir(dataDir, { recursive: true });
  const store = new SqliteStore(join(dataDir, "tessenger.db"));
  try {
    await loadCredentials(store, options.credentialsPath ?? "credentials.txt", clock, log);
  } catch (e) {
    store.close();
    throw e;
  }
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
    settings: { maxAttempts, blockSeconds, serverName: `tessenger/${VERSION}` },
    push(users: Iterable<string>, frame: PushFrame) {
      let bytes: Uint8Array | undefined;
      for (const user of users) {
        if (!presence.get(user)) continue;
        bytes ??= encodeFrame(frame);
        presence.deliver(user, bytes);
      }
    },
  };

  let listener: Deno.TcpListener;
  try {
    listener = Deno.listen({ hostname: options.host ?? "127.0.0.1", port: options.port ?? 5000 });
  } catch (e) {
    store.close();
    throw e;
  }
  const addr = listener.addr as Deno.NetAddr;
  const sessions = new Set<Session>();
  log.info("TESSENGER {version} listening on {host}:{port}, data in {dir}", {
    version: VERSION,
    host: addr.hostname,
    port: addr.port,
    dir: dataDir,
  });

  const acceptLoop = (async () => {
    try {
      for await (const conn of listener) {
        try {
          conn.setNoDelay(true);
        } catch {
          // not every platform supports it
        }
        const session = new Session(conn, services);
        sessions.add(session);
        session.run().finally(() => sessions.delete(session));
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.BadResource)) {
        log.error("Accept loop stopped: {error}", { error: String(e) });
      }
    }
  })();

  let closing: Promise<void> | undefined;
  return {
    hostname: addr.hostname,
    port: addr.port,
    close() {
      closing ??= (async () => {
        try {
          listener.close();
        } catch {
          // already closed
        }
        await acceptLoop;
        const done = [...sessions].map((s) => s.done);
        for (const s of sessions) s.close("server shutting down");
        await Promise.all(done);
        userLog.flush();
        messageLogs.close();
        store.close();
        log.info("Server stopped");
      })();
      return closing;
    },
  };
}

async function loadCredentials(
  store: SqliteStore,
  path: string,
  clock: Clock,
  log: Logger,
): Promise<void> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    log.warn("No credentials file at {path}; using the accounts in the database", { path });
    return;
  }
  const { entries, problems } = parseCredentials(text, path);
  for (const p of problems) log.warn("Skipped {problem}", { problem: p });
  const changed = await importCredentials(store, entries, clock());
  log.info("Loaded {n} accounts from {path} ({changed} new or changed)", {
    n: entries.length,
    path,
    changed,
  });
}

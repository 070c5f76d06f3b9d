/**
 * Starts a TESSENGER server: opens the store, imports the credentials file,
 * listens, and runs one {@link Session} per connection.
 *
 * @module
 */

import { getLogger, type Logger } from "@logtape/logtape";
import { dirname, join, resolve } from "node:path";
import { encodeFrame } from "../shared/protocol.ts";
import { type Clock, systemClock } from "../shared/time.ts";
import type { ClusterSettings } from "./cluster/flags.ts";
import type { OnlineLog, ServerServices } from "./context.ts";
import { loadCredentials } from "./credentials.ts";
import { CursorSaver } from "./delivery.ts";
import { IrcFrontend, type IrcServerInfo } from "./frontends/irc/frontend.ts";
import { JsonLinesFrontend } from "./frontends/json_lines.ts";
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
import { LocalDirectory, LocalRouter } from "./local/presence.ts";
import { SqliteStore } from "./local/sqlite_store.ts";
import { LocalThrottle, type LocalThrottleOptions } from "./local/throttle.ts";
import type { ChatStore, Directory, Router, Throttle } from "./ports.ts";
import { Session } from "./session.ts";
import { MessageLogs, UserLog } from "./text_logs.ts";
import { listenChat, type TlsServerOptions } from "./tls.ts";
import type { UdpSettings } from "./udp/flags.ts";
import { openServerUdp, type UdpService } from "./udp/service.ts";
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
  /** The per-address failure budget of the login throttle (`local/throttle.ts`). */
  addressLimits?: Pick<LocalThrottleOptions, "addressFailureBurst" | "addressFailuresPerMinute">;
  /** Run on these ports instead of the embedded ones. */
  ports?: ServerPorts;
  /** Join a cluster: PostgreSQL and Redis instead of the data dir (docs/cluster.md). */
  cluster?: ClusterSettings;
  /** The UDP port for transfers (bindings, relay); false: none. Default: the TCP port's number, relay on. */
  udp?: UdpSettings | false;
  /** The IRC front door (docs/irc.md); off unless given. */
  irc?: IrcOptions;
}

/** Settings of the IRC front door. */
export interface IrcOptions {
  /** Plain IRC port; 0 lets the OS pick. */
  port?: number;
  /** IRC over TLS with the server's certificate ({@link ServerOptions.tls}); 0 lets the OS pick. */
  tlsPort?: number;
  /** The message of the day, one entry a line. Default {@link DEFAULT_MOTD}. */
  motd?: readonly string[];
}

/** The IRC door's message of the day unless the operator gives one. */
export const DEFAULT_MOTD: readonly string[] = [
  "This is TESSENGER's IRC door: the same accounts, groups and history as the TESSENGER client.",
  "Your nick is your username. Groups are channels: /join #name joins one you were invited to,",
  "or creates it; /invite nick #name invites. /msg nick reaches users on either door.",
];

/** The ports a server runs on (see `ports.ts`); the default is the embedded, local set. */
export interface ServerPorts {
  store: ChatStore;
  directory: Directory;
  router: Router;
  throttle: Throttle;
  /** This node's name. */
  node: string;
  /** Keeps `userlog.txt` instead of this node's own (a cluster writes one for all nodes). */
  userLog?: OnlineLog;
  /** The host other nodes' clients reach this node's UDP port at (a cluster node). */
  udpHost?: string;
  /** Called once the server runs, with what the ports may ask of its sessions. */
  bind?(server: ServerHooks): void;
  /** Closes what the ports hold (after the store). */
  close?(): Promise<void>;
}

/** What ports may ask of a running server's sessions. */
export interface ServerHooks {
  /** Ends the session of `user` on this node, if there is one. */
  closeUser(user: string, reason: string): void;
  /** Every session fetches from the store what it may have missed (events were lost). */
  resyncAll(): void;
}

/** A running server. */
export interface RunningServer {
  readonly hostname: string;
  readonly port: number;
  /** The UDP port for transfers, if it has one. */
  readonly udpPort: number | undefined;
  /** The plain IRC port, when the IRC door is on. */
  readonly ircPort?: number;
  /** The IRC-over-TLS port, when it is on. */
  readonly ircTlsPort?: number;
  /**
   * Resolves with the error if the server hits one it cannot recover from
   * (its database is damaged); the caller should close it and exit non-zero.
   */
  readonly failed: Promise<Error>;
  /** Stops listening, says bye to every client and closes the store. */
  close(): Promise<void>;
}

/**
 * The most connections the open-file limit allows, keeping room for the
 * database, the log files and the listeners, when that is fewer than
 * `wanted`; undefined when the limit is no obstacle or cannot be probed.
 * Deno reads no process limits without full permissions, so this counts how
 * many more files can be opened now (at most `wanted` plus the reserve), and
 * closes them again.
 */
export function connectionsAllowedByFileLimit(wanted: number): number | undefined {
  if (Deno.build.os === "windows") return undefined;
  const files: Deno.FsFile[] = [];
  const most = wanted + FILE_DESCRIPTOR_RESERVE;
  let full = false;
  try {
    while (files.length < most) files.push(Deno.openSync("/dev/null"));
  } catch (e) {
    // Out of descriptors: what was opened is the room left. Anything else
    // (no /dev/null, no permission to read it) says nothing about the limit.
    full = /too many open files|os error 24/i.test(e instanceof Error ? e.message : String(e));
  } finally {
    for (const f of files) f.close();
  }
  if (!full) return undefined;
  return Math.max(1, files.length - FILE_DESCRIPTOR_RESERVE);
}

/** File descriptors kept for everything but connections: database, logs, listeners, workers. */
const FILE_DESCRIPTOR_RESERVE = 128;

/**
 * Makes sure the data dir exists: creates its last component if needed, but
 * never a whole missing path (a mistyped `--data-dir` is refused, not created).
 *
 * @throws {Error} naming the missing parent.
 */
export async function ensureDataDir(dataDir: string): Promise<void> {
  try {
    if ((await Deno.stat(dataDir)).isDirectory) return;
    throw new Error(`Cannot use data dir ${dataDir}: it is not a directory`);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  try {
    await Deno.mkdir(dataDir);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(
        `Cannot create data dir ${dataDir}: its parent ${dirname(resolve(dataDir))} does not exist`,
      );
    }
    throw e;
  }
}

/** The embedded ports: SQLite in the data dir (with the text logs) and in-process maps. */
async function openLocalPorts(
  dataDir: string,
  options: ServerOptions,
  clock: Clock,
  log: Logger,
  fatal: (e: Error) => void,
): Promise<ServerPorts> {
  const dbPath = join(dataDir, "tessenger.db");
  const messageLogs = new MessageLogs(dataDir, log);
  const store = new SqliteStore(dbPath, {
    textLogs: messageLogs,
    onFatal: fatal,
    onLost: (e) =>
      log.error("Cannot save: {error}; the requests of this moment were refused", {
        error: e.message,
      }),
  });
  try {
    await loadCredentials(store, options.credentialsPath ?? "credentials.txt", clock, log);
    store.barrier();
    for (const path of await messageLogs.reconcile(store)) {
      log.warn("Repaired {path} from the database", { path });
    }
  } catch (e) {
    store.closeSync();
    throw e;
  }
  store.checkpointInBackground();
  return {
    store,
    directory: new LocalDirectory(),
    router: new LocalRouter(store),
    throttle: new LocalThrottle({
      maxAttempts: options.maxAttempts ?? 3,
      blockMs: (options.blockSeconds ?? 10) * 1000,
      clock,
      ...options.addressLimits,
    }),
    node: "local",
    close: () => Promise.resolve(messageLogs.close()),
  };
}

/** A cluster node's ports; the engines' drivers are loaded only here. */
async function openClusterPorts(
  cluster: ClusterSettings,
  options: ServerOptions,
  dataDir: string,
  clock: Clock,
  log: Logger,
): Promise<ServerPorts> {
  const { openClusterPorts } = await import("./cluster/ports.ts");
  return await openClusterPorts(cluster, {
    dataDir,
    credentialsPath: options.credentialsPath ?? "credentials.txt",
    throttle: {
      maxAttempts: options.maxAttempts ?? 3,
      blockMs: (options.blockSeconds ?? 10) * 1000,
      ...options.addressLimits,
    },
    clock,
    log,
    host: options.host ?? "127.0.0.1",
  });
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
  const allowed = connectionsAllowedByFileLimit(limits.maxConnections);
  if (allowed !== undefined) {
    log.warn(
      "The open-file limit allows {allowed} connections: accepting at most that many " +
        "(--max-connections is {asked}; raise the limit with ulimit -n)",
      { allowed, asked: limits.maxConnections },
    );
    limits.maxConnections = allowed;
  }

  const failure = Promise.withResolvers<Error>();
  const fatal = (e: Error) => {
    log.fatal("The database failed and cannot recover: {error}", { error: e.message });
    failure.resolve(e);
  };
  await ensureDataDir(dataDir);
  const ports = options.ports ??
    (options.cluster
      ? await openClusterPorts(options.cluster, options, dataDir, clock, log)
      : await openLocalPorts(dataDir, options, clock, log, fatal));
  const { store } = ports;
  let userLog: OnlineLog & { flush?(): void };
  try {
    userLog = ports.userLog ?? new UserLog(dataDir, log);
  } catch (e) {
    await store.close();
    throw e;
  }
  const saver = new CursorSaver(store, log);
  const services: ServerServices = {
    store,
    directory: ports.directory,
    router: ports.router,
    throttle: ports.throttle,
    userLog,
    clock,
    log,
    settings: {
      maxAttempts,
      blockSeconds,
      serverName: `tessenger/${VERSION}`,
      keepAliveMs: keepAliveIntervalMs(limits.idleTimeoutMs, KEEPALIVE_INTERVAL_MS),
      node: ports.node,
      udpHost: ports.udpHost,
    },
  };

  let listener: Deno.Listener;
  try {
    listener = listenChat(options.host ?? "127.0.0.1", options.port ?? 5000, options.tls);
  } catch (e) {
    await store.close();
    await ports.close?.();
    throw e;
  }
  const addr = listener.addr as Deno.NetAddr;
  let udp: UdpService | undefined;
  try {
    if (options.udp !== false) {
      udp = openServerUdp(options.udp ?? {}, addr.hostname, addr.port, log);
    }
  } catch (e) {
    listener.close();
    await store.close();
    await ports.close?.();
    throw e;
  }
  services.udp = udp;
  // The IRC door: plain and/or TLS, each a listener of its own.
  const ircListeners: { listener: Deno.Listener; tls: boolean }[] = [];
  try {
    const irc = options.irc;
    if (irc?.tlsPort !== undefined && !options.tls) {
      throw new Error("Cannot serve IRC over TLS: the server has no certificate (--tls-cert)");
    }
    if (irc?.port !== undefined) {
      ircListeners.push({ listener: listenChat(addr.hostname, irc.port), tls: false });
    }
    if (irc?.tlsPort !== undefined) {
      ircListeners.push({
        listener: listenChat(addr.hostname, irc.tlsPort, options.tls),
        tls: true,
      });
    }
  } catch (e) {
    for (const l of [listener, ...ircListeners.map((l) => l.listener)]) l.close();
    await udp?.close();
    await store.close();
    await ports.close?.();
    throw e;
  }
  const ircPortOf = (tls: boolean) =>
    (ircListeners.find((l) => l.tls === tls)?.listener.addr as Deno.NetAddr | undefined)?.port;
  const ircInfo: IrcServerInfo = {
    serverName: "tessenger",
    version: `tessenger/${VERSION}`,
    started: clock(),
    motd: options.irc?.motd ?? DEFAULT_MOTD,
    keepAliveMs: keepAliveIntervalMs(limits.idleTimeoutMs, KEEPALIVE_INTERVAL_MS),
    fakeLagMs: limits.commandsPerSecond > 0 ? Math.ceil(1000 / limits.commandsPerSecond) : 0,
  };
  const sessions = new Set<Session>();
  ports.bind?.({
    closeUser(user, reason) {
      for (const s of sessions) if (s.state.user === user) s.close(reason);
    },
    resyncAll() {
      for (const s of sessions) s.delivery?.resync();
    },
  });
  log.info("TESSENGER {version} listening on {host}:{port}{tls}, data in {dir}", {
    version: VERSION,
    host: addr.hostname,
    port: addr.port,
    tls: options.tls ? " (TLS)" : "",
    dir: dataDir,
  });
  for (const l of ircListeners) {
    log.info("IRC door listening on {host}:{port}{tls}", {
      host: addr.hostname,
      port: (l.listener.addr as Deno.NetAddr).port,
      tls: l.tls ? " (TLS)" : "",
    });
  }

  const gate = new ConnectionGate(limits, clock);
  // Refused connections get a bye frame and are closed; one that does not take
  // it (a TLS client that never finishes its handshake) is closed by the sweep.
  const turningAway = new Map<Deno.Conn, number>();
  const turnAway = (conn: Deno.Conn, refusal: Refusal, kind: "native" | "irc") => {
    turningAway.set(conn, clock());
    const reason = refusal === "server_full"
      ? "server full: too many connections, try again later"
      : "too many new connections from your address, try again later";
    const bye = kind === "irc"
      ? new TextEncoder().encode(`ERROR :Closing link: ${reason}\r\n`)
      : encodeFrame({ t: "bye", reason });
    const done = () => {
      if (!turningAway.delete(conn)) return;
      try {
        conn.close();
      } catch {
        // already closed
      }
    };
    conn.write(bye).then(done, done);
  };

  const ended = (session: Session) => sessions.delete(session);
  let stopping = false;
  const acceptLoop = (listener: Deno.Listener, kind: "native" | "irc") =>
    (async () => {
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
          turnAway(conn, refusal, kind);
          continue;
        }
        if ("setNoDelay" in conn) {
          try {
            (conn as Deno.TcpConn).setNoDelay(true);
          } catch {
            // not every platform supports it
          }
        }
        const session = new Session(conn, services, {
          frontend: kind === "irc"
            ? (s) => new IrcFrontend(s, ircInfo)
            : (s) => new JsonLinesFrontend(s),
          kind,
          guard: new SessionGuard(limits, clock),
          saver,
          onEnd: ended,
        });
        sessions.add(session);
        session.start();
      }
    })();
  const accepting = Promise.all([
    acceptLoop(listener, "native"),
    ...ircListeners.map((l) => acceptLoop(l.listener, "irc")),
  ]);

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
    udpPort: udp?.port,
    ircPort: ircPortOf(false),
    ircTlsPort: ircPortOf(true),
    failed: failure.promise,
    close() {
      closing ??= (async () => {
        stopping = true;
        clearInterval(sweepTimer);
        for (const l of [listener, ...ircListeners.map((l) => l.listener)]) {
          try {
            l.close();
          } catch {
            // already closed
          }
        }
        await accepting;
        await udp?.close();
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
        userLog.flush?.();
        await saver.close();
        try {
          await store.close();
        } finally {
          await ports.close?.();
        }
        log.info("Server stopped");
      })();
      return closing;
    },
  };
}

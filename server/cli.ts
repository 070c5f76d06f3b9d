/**
 * `tessenger server`: parses its arguments and runs the server until a signal.
 *
 * @module
 */

import { configure, getConsoleSink, getTextFormatter, type LogLevel } from "@logtape/logtape";
import { parseFlags, parseHost, parseIntIn, parsePort, UsageError } from "../shared/cli_args.ts";
import { formatTimestamp } from "../shared/time.ts";
import {
  DEFAULT_COMMANDS_PER_SECOND,
  DEFAULT_CONNECTIONS_PER_IP_PER_MINUTE,
  DEFAULT_IDLE_TIMEOUT_SECONDS,
  DEFAULT_LOGIN_TIMEOUT_SECONDS,
  DEFAULT_MAX_CONNECTIONS,
  type LimitSettings,
} from "./limits.ts";
import { startServer } from "./server.ts";
import { readTlsFiles } from "./tls.ts";
import { parseUdpFlags, UDP_FLAGS, UDP_HELP, UDP_USAGE, type UdpSettings } from "./udp/flags.ts";
import {
  CLUSTER_FLAGS,
  CLUSTER_HELP,
  CLUSTER_USAGE,
  type ClusterSettings,
  parseClusterFlags,
} from "./cluster/flags.ts";

export const SERVER_USAGE =
  "Usage: tessenger server [SERVER_IP] [TCP_PORT] [MAX_ATTEMPTS] [--host IP] [--port N] " +
  "[--max-attempts N] [--credentials FILE] [--data-dir DIR] [--block-seconds N] [--log-level LEVEL] " +
  "[--tls-cert FILE] [--tls-key FILE] [--max-connections N] [--conn-rate N] [--login-timeout S] " +
  "[--idle-timeout S] [--command-rate N] [--irc-port N] [--irc-tls-port N] " + UDP_USAGE + " " +
  CLUSTER_USAGE;

export const SERVER_HELP = `${SERVER_USAGE}

Runs the TESSENGER chat server.

Arguments (the original positional form; flags are the long form of the same):
  SERVER_IP, --host IP        address to listen on             (default 127.0.0.1)
  TCP_PORT, --port N          TCP port, 0 lets the OS pick     (default 5000)
  MAX_ATTEMPTS, --max-attempts N
                              failed logins in a row that block a user, 1-5 (default 3)
  --block-seconds N           how long a block lasts           (default 10)
  --credentials FILE          accounts file, "username password" per line
                                                               (default credentials.txt)
  --data-dir DIR              database and text logs           (default .)
  --log-level LEVEL           trace, debug, info, warning, error, fatal (default info)
  --tls-cert FILE             serve TLS with this PEM certificate chain, with --tls-key
                                                               (default plain TCP)
  --tls-key FILE              the PEM private key of --tls-cert (default plain TCP)
  --irc-port N                also accept IRC clients on this port (docs/irc.md); 0 lets
                              the OS pick                      (default off)
  --irc-tls-port N            IRC over TLS with --tls-cert     (default off)

Limits (SPEC §6; hitting one gets a clear error or a clean disconnect):
  --max-connections N         open connections at once         (default ${DEFAULT_MAX_CONNECTIONS})
  --conn-rate N               new connections per IP per minute, 0 = no limit (default ${DEFAULT_CONNECTIONS_PER_IP_PER_MINUTE})
  --login-timeout S           seconds to log in after connecting (default ${DEFAULT_LOGIN_TIMEOUT_SECONDS})
  --idle-timeout S            seconds a session may stay silent; clients ping (default ${DEFAULT_IDLE_TIMEOUT_SECONDS})
  --command-rate N            requests per second per session, 0 = no limit (default ${DEFAULT_COMMANDS_PER_SECOND})

${UDP_HELP}

${CLUSTER_HELP}
  -h, --help                  show this help`;

const LEVELS: LogLevel[] = ["trace", "debug", "info", "warning", "error", "fatal"];

/** The settings a command line asks for. */
export interface ServerCommand {
  host: string;
  port: number;
  maxAttempts: number;
  blockSeconds: number;
  credentialsPath: string;
  dataDir: string;
  logLevel: LogLevel;
  /** PEM files; both or neither. */
  tlsCert?: string;
  tlsKey?: string;
  limits: LimitSettings;
  udp: UdpSettings;
  /** Set when the node joins a cluster. */
  cluster?: ClusterSettings;
  /** The IRC door, when --irc-port or --irc-tls-port is given. */
  irc?: { port?: number; tlsPort?: number };
  help: boolean;
}

/**
 * Parses `tessenger server` arguments.
 *
 * @throws {UsageError} with a one-line reason.
 */
export function parseServerArgs(argv: string[]): ServerCommand {
  const parsed = parseFlags(argv, {
    host: { type: "string" },
    port: { type: "string" },
    "max-attempts": { type: "string" },
    "block-seconds": { type: "string" },
    credentials: { type: "string" },
    "data-dir": { type: "string" },
    "log-level": { type: "string" },
    "tls-cert": { type: "string" },
    "tls-key": { type: "string" },
    "max-connections": { type: "string" },
    "conn-rate": { type: "string" },
    "login-timeout": { type: "string" },
    "idle-timeout": { type: "string" },
    "command-rate": { type: "string" },
    "irc-port": { type: "string" },
    "irc-tls-port": { type: "string" },
    ...UDP_FLAGS,
    ...CLUSTER_FLAGS,
    help: { type: "boolean", short: "h" },
  }, SERVER_USAGE);
  const { values: v, positionals: p } = parsed;
  if (p.length > 3) {
    throw new UsageError(`Too many arguments: ${p.slice(3).join(" ")}`, SERVER_USAGE);
  }
  const attemptsText = v["max-attempts"] ?? p[2] ?? "3";
  const attempts = /^\d+$/.test(attemptsText) ? Number(attemptsText) : NaN;
  if (!(attempts >= 1 && attempts <= 5)) {
    throw new UsageError(
      `Invalid number of allowed failed consecutive attempt: ${attemptsText}. ` +
        "The valid value of argument number is an integer between 1 and 5",
      SERVER_USAGE,
    );
  }
  const logLevel = (v["log-level"] ?? "info") as LogLevel;
  if (!LEVELS.includes(logLevel)) {
    throw new UsageError(
      `Invalid log level: ${JSON.stringify(logLevel)}. Expected one of ${LEVELS.join(", ")}`,
      SERVER_USAGE,
    );
  }
  if ((v["tls-cert"] === undefined) !== (v["tls-key"] === undefined)) {
    throw new UsageError(
      "--tls-cert and --tls-key go together: give both or neither",
      SERVER_USAGE,
    );
  }
  if (v["irc-tls-port"] !== undefined && v["tls-cert"] === undefined) {
    throw new UsageError("--irc-tls-port needs --tls-cert and --tls-key", SERVER_USAGE);
  }
  try {
    const ircPort = v["irc-port"] === undefined
      ? undefined
      : parsePort(v["irc-port"], "IRC port", true);
    const ircTlsPort = v["irc-tls-port"] === undefined
      ? undefined
      : parsePort(v["irc-tls-port"], "IRC TLS port", true);
    const seconds = (flag: string, fallback: number, min: number) =>
      parseIntIn(
        v[flag as "idle-timeout"] ?? String(fallback),
        flag.replace("-", " "),
        min,
        86400,
      ) *
      1000;
    const port = parsePort(v.port ?? p[1] ?? "5000", "TCP port", true);
    return {
      tlsCert: v["tls-cert"],
      tlsKey: v["tls-key"],
      limits: {
        maxConnections: parseIntIn(
          v["max-connections"] ?? String(DEFAULT_MAX_CONNECTIONS),
          "max connections",
          1,
          1_000_000,
        ),
        connectionsPerIpPerMinute: parseIntIn(
          v["conn-rate"] ?? String(DEFAULT_CONNECTIONS_PER_IP_PER_MINUTE),
          "connection rate",
          0,
          1_000_000,
        ),
        loginTimeoutMs: seconds("login-timeout", DEFAULT_LOGIN_TIMEOUT_SECONDS, 1),
        idleTimeoutMs: seconds("idle-timeout", DEFAULT_IDLE_TIMEOUT_SECONDS, 5),
        commandsPerSecond: parseIntIn(
          v["command-rate"] ?? String(DEFAULT_COMMANDS_PER_SECOND),
          "command rate",
          0,
          1_000_000,
        ),
      },
      host: parseHost(v.host ?? p[0] ?? "127.0.0.1", "server IP"),
      port,
      maxAttempts: attempts,
      udp: parseUdpFlags(v),
      cluster: parseClusterFlags(v, port),
      ...(ircPort !== undefined || ircTlsPort !== undefined
        ? { irc: { port: ircPort, tlsPort: ircTlsPort } }
        : {}),
      blockSeconds: parseIntIn(v["block-seconds"] ?? "10", "block seconds", 1, 86400),
      credentialsPath: v.credentials ?? "credentials.txt",
      dataDir: v["data-dir"] ?? ".",
      logLevel,
      help: v.help ?? false,
    };
  } catch (e) {
    throw e instanceof UsageError ? new UsageError(e.message, SERVER_USAGE) : e;
  }
}

/** Sends server log lines to the terminal: `TS LEVEL message`. */
export async function configureServerLogging(level: LogLevel): Promise<void> {
  await configure({
    reset: true,
    sinks: {
      console: getConsoleSink({
        formatter: getTextFormatter({
          timestamp: (ts) => formatTimestamp(ts),
          value: "bare",
          format: ({ timestamp, level, message }) => `${timestamp} ${level.padEnd(7)} ${message}`,
          level: "FULL",
        }),
      }),
    },
    loggers: [
      { category: ["tessenger"], lowestLevel: level, sinks: ["console"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["console"] },
    ],
  });
}

/** Runs `tessenger server ARGS` until SIGINT or SIGTERM. */
export async function serverMain(argv: string[]): Promise<number> {
  const cmd = parseServerArgs(argv);
  if (cmd.help) {
    console.log(SERVER_HELP);
    return 0;
  }
  await configureServerLogging(cmd.logLevel);
  let server;
  try {
    const tls = cmd.tlsCert !== undefined && cmd.tlsKey !== undefined
      ? await readTlsFiles(cmd.tlsCert, cmd.tlsKey)
      : undefined;
    server = await startServer({ ...cmd, tls });
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    console.error(`tessenger server: cannot start: ${why}`);
    return 1;
  }
  const stopped = Promise.withResolvers<void>();
  const stop = () => stopped.resolve();
  Deno.addSignalListener("SIGINT", stop);
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", stop);
  // A database that cannot recover ends the process non-zero, so a supervisor restarts it.
  const failed = await Promise.race([
    stopped.promise.then(() => false),
    server.failed.then(() => true),
  ]);
  try {
    await server.close();
  } catch (e) {
    console.error(`tessenger server: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
  return failed ? 1 : 0;
}

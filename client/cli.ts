/**
 * `tessenger client`: parses its arguments and runs the chat client.
 *
 * @module
 */

import { X509Certificate } from "node:crypto";
import {
  parseByteSize,
  parseFlags,
  parseHost,
  parseIntIn,
  parsePort,
  UsageError,
} from "../shared/cli_args.ts";
import { runClient } from "./app.ts";
import { completeLine } from "./completion.ts";
import { type ClientIO, LineIO, linesOf, TerminalIO } from "./io.ts";
import { Roster } from "./roster.ts";
import { ansiStyle, plainStyle, readEnv, shouldUseColor } from "./style.ts";
import { ACCEPT_POLICIES, type AcceptPolicy } from "./transfers.ts";

export const CLIENT_USAGE =
  "Usage: tessenger client [SERVER_IP] [TCP_PORT] [UDP_PORT] [--host IP] [--port N] " +
  "[--udp-port N] [--downloads DIR] [--accept always|ask|never] [--max-file-size SIZE] " +
  "[--max-incoming N] [--payload-size BYTES] [--json] [--tls [--ca FILE]] [--reconnect|--no-reconnect]";

export const CLIENT_HELP = `${CLIENT_USAGE}

Runs the TESSENGER chat client.

Arguments (the original positional form; flags are the long form of the same):
  SERVER_IP, --host IP        server address                   (default 127.0.0.1)
  TCP_PORT, --port N          server TCP port                  (default 5000)
  UDP_PORT, --udp-port N      UDP port for incoming files, 0 lets the OS pick (default 0)
  --downloads DIR             where received files are saved   (default .)
  --tls                       connect with TLS and verify the server's certificate
                                                               (default plain TCP)
  --ca FILE                   also trust this PEM CA certificate, implies --tls
                                                               (default system roots only)
  --accept always|ask|never   incoming files: taken at once, asked about (/accept or
                              /decline), or refused                (default always)
  --max-file-size SIZE        refuse larger incoming files, e.g. 2G (default 4G)
  --max-incoming N            files that come in at once; more wait  (default 4)
  --payload-size BYTES        UDP datagram size of files you send, 256-65507
                              (default 1200, or 60000 to a peer on loopback)
  --json                      print one JSON object per event, no prompts (default off)
  --reconnect, --no-reconnect
                              when the connection is lost, log back in once the
                              server is back (the password is kept in memory only)
                              (default on a terminal; off for pipes and --json)
  -h, --help                  show this help

When standard input is not a terminal (or with --json), the client reads the
username, the password and then commands as lines, so it can be scripted.
On a terminal, Tab completes commands, usernames and group names. Colours are
used only on a terminal, and never when NO_COLOR is set or TERM is "dumb".`;

/** The settings a command line asks for. */
export interface ClientCommand {
  host: string;
  port: number;
  udpPort: number;
  downloadsDir: string;
  /** Connect with TLS (`--tls`, or implied by `--ca`). */
  tls: boolean;
  /** A PEM file of extra trusted certificates. */
  caFile?: string;
  maxFileSize?: number;
  accept: AcceptPolicy;
  maxIncoming?: number;
  payloadSize?: number;
  /** One JSON object per event on stdout. */
  json: boolean;
  /** `--reconnect` (true), `--no-reconnect` (false), or neither. */
  reconnect?: boolean;
  help: boolean;
}

/**
 * Parses `tessenger client` arguments.
 *
 * @throws {UsageError} with a one-line reason.
 */
export function parseClientArgs(argv: string[]): ClientCommand {
  const parsed = parseFlags(argv, {
    host: { type: "string" },
    port: { type: "string" },
    "udp-port": { type: "string" },
    downloads: { type: "string" },
    tls: { type: "boolean" },
    ca: { type: "string" },
    "max-file-size": { type: "string" },
    accept: { type: "string" },
    "max-incoming": { type: "string" },
    "payload-size": { type: "string" },
    json: { type: "boolean" },
    reconnect: { type: "boolean" },
    "no-reconnect": { type: "boolean" },
    help: { type: "boolean", short: "h" },
  }, CLIENT_USAGE);
  const { values: v, positionals: p } = parsed;
  try {
    if (p.length > 3) throw new UsageError(`Too many arguments: ${p.slice(3).join(" ")}`);
    return {
      host: parseHost(v.host ?? p[0] ?? "127.0.0.1", "server IP"),
      port: parsePort(v.port ?? p[1] ?? "5000", "TCP port"),
      udpPort: parsePort(v["udp-port"] ?? p[2] ?? "0", "UDP port", true),
      downloadsDir: v.downloads ?? ".",
      tls: (v.tls ?? false) || v.ca !== undefined,
      caFile: v.ca,
      maxFileSize: v["max-file-size"] === undefined
        ? undefined
        : parseByteSize(v["max-file-size"], "maximum file size"),
      accept: parseAcceptPolicy(v.accept ?? "always"),
      maxIncoming: v["max-incoming"] === undefined
        ? undefined
        : parseIntIn(v["max-incoming"], "incoming files at once", 1, 64),
      payloadSize: v["payload-size"] === undefined
        ? undefined
        : parseIntIn(v["payload-size"], "payload size", 256, 65507),
      json: v.json ?? false,
      reconnect: reconnectFlag(v.reconnect, v["no-reconnect"]),
      help: v.help ?? false,
    };
  } catch (e) {
    throw e instanceof UsageError ? new UsageError(e.message, CLIENT_USAGE) : e;
  }
}

/** `--accept POLICY`. @throws {UsageError} on another word. */
function parseAcceptPolicy(text: string): AcceptPolicy {
  const policy = ACCEPT_POLICIES.find((p) => p === text);
  if (policy === undefined) {
    throw new UsageError(
      `--accept takes ${ACCEPT_POLICIES.join(", ")}, not ${JSON.stringify(text)}`,
    );
  }
  return policy;
}

/** Why a `--ca` file is not a PEM certificate (or a bundle of them), or undefined. */
function certificateProblem(pem: string): string | undefined {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[^-]*-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) {
    return 'holds no PEM certificate (a "-----BEGIN CERTIFICATE-----" block); ' +
      "give the CA's certificate, or the server's own if it is self-signed.";
  }
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch (e) {
      return `holds a certificate that cannot be read: ${e instanceof Error ? e.message : e}`;
    }
  }
  return undefined;
}

/** Why `dir` cannot take received files, or undefined when it can. */
async function checkDownloadsDir(dir: string): Promise<string | undefined> {
  try {
    if ((await Deno.stat(dir)).isDirectory) return undefined;
    return `--downloads ${dir} is not a directory.`;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      return `the downloads directory ${dir} does not exist; create it, or pass another with ` +
        "--downloads DIR.";
    }
    return `cannot use the downloads directory ${dir}: ${e instanceof Error ? e.message : e}`;
  }
}

/** `--reconnect` and `--no-reconnect` together are a contradiction. */
function reconnectFlag(on: boolean | undefined, off: boolean | undefined): boolean | undefined {
  if (on && off) throw new UsageError("--reconnect and --no-reconnect contradict each other");
  return on ? true : off ? false : undefined;
}

/** Runs `tessenger client ARGS`; returns the exit code. */
export async function clientMain(argv: string[]): Promise<number> {
  const cmd = parseClientArgs(argv);
  if (cmd.help) {
    console.log(CLIENT_HELP);
    return 0;
  }
  const downloads = await checkDownloadsDir(cmd.downloadsDir);
  if (downloads !== undefined) {
    console.error(`tessenger client: ${downloads}`);
    return 1;
  }
  let tls: { caCerts?: string[] } | undefined;
  if (cmd.tls) {
    tls = {};
    if (cmd.caFile !== undefined) {
      let pem: string;
      try {
        pem = await Deno.readTextFile(cmd.caFile);
      } catch (e) {
        console.error(
          `tessenger client: cannot read CA file ${JSON.stringify(cmd.caFile)}: ${
            e instanceof Error ? e.message : e
          }`,
        );
        return 1;
      }
      const problem = certificateProblem(pem);
      if (problem !== undefined) {
        console.error(`tessenger client: --ca ${cmd.caFile} ${problem}`);
        return 1;
      }
      tls.caCerts = [pem];
    }
  }
  const roster = new Roster();
  const interactive = Deno.stdin.isTerminal() && !cmd.json;
  const io: ClientIO = interactive
    ? new TerminalIO({ completer: (line) => completeLine(line, roster.completionSource()) })
    : new LineIO(
      linesOf(Deno.stdin.readable),
      (t) => console.log(t),
      // In --json mode every event, errors included, goes to stdout.
      cmd.json ? (t) => console.log(t) : (t) => console.error(t),
    );
  // Ctrl-C with input from a pipe ends it as an interrupt: transfers are cancelled (each
  // peer told) and the client logs out, within a second. A terminal's Ctrl-C is readline's.
  const interrupt = () => (io as LineIO).interrupt();
  if (!interactive) Deno.addSignalListener("SIGINT", interrupt);
  const colour = !cmd.json && shouldUseColor({
    noColor: readEnv("NO_COLOR"),
    term: readEnv("TERM"),
    isTerminal: Deno.stdout.isTerminal() && (interactive || Deno.stderr.isTerminal()),
  });
  try {
    return await runClient({
      ...cmd,
      tls,
      io,
      roster,
      style: colour ? ansiStyle : plainStyle,
      reconnect: cmd.reconnect ?? interactive,
    });
  } finally {
    if (!interactive) Deno.removeSignalListener("SIGINT", interrupt);
    io.close();
  }
}

/**
 * Starts and stops the servers under test: TESSENGER and the Deno relay as
 * child `deno run`s, ngIRCd and InspIRCd with the reference configs. Each is stopped by its PID,
 * and its memory is read from `/proc/PID/status`.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { SqliteStore } from "../../server/local/sqlite_store.ts";
import { SERVER_V8_FLAGS_ARG } from "../../server/v8_flags.ts";
import { type Driver, ircDriver, tessengerDriver } from "./clients.ts";

/**
 * The servers the bench knows: ours, the two reference daemons, and the Deno
 * floor (`deno_relay.ts`, an IRC relay that does nothing else).
 */
export type ServerKind =
  | "tessenger"
  | "tessenger-irc"
  | "ngircd"
  | "inspircd"
  | "deno-relay"
  | "tessenger-cluster";

export const SERVER_KINDS: readonly ServerKind[] = [
  "tessenger",
  "tessenger-irc",
  "ngircd",
  "inspircd",
  "deno-relay",
];

/** The reference daemons; the targets are measured against the best of them. */
export const REFERENCE_KINDS: readonly ServerKind[] = ["ngircd", "inspircd"];

/** A process whose CPU time a run reports. */
export interface MeasuredProcess {
  name: string;
  pid: number;
  /** Count its children too (PostgreSQL's backends). */
  withChildren?: boolean;
}

/**
 * The flags every TESSENGER process under test gets: quiet, and its throttles
 * off, as for the reference daemons (every client comes from 127.0.0.1).
 */
export const QUIET_UNTHROTTLED: readonly string[] = [
  "--log-level",
  "warning",
  "--conn-rate",
  "0",
  "--command-rate",
  "0",
  "--max-connections",
  "100000",
];

/** A server process under test. */
export interface ServerUnderTest {
  readonly kind: ServerKind;
  readonly pid: number;
  readonly driver: Driver;
  /** The processes of a server of several (a cluster's nodes and engines). */
  readonly processes?: MeasuredProcess[];
  /** Resident memory now, in bytes. */
  rss(): Promise<number>;
  /** SIGTERM, then SIGKILL if it has not exited within 5 s. */
  stop(): Promise<void>;
}

const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
/**
 * Where the reference configs live unless `--anchors` says otherwise: `shared/anchors`
 * beside the repository's folder (`../shared/anchors` from its root).
 */
export const DEFAULT_ANCHORS = join(REPO, "..", "shared", "anchors");

/**
 * Reads VmRSS of a process, in bytes. Deno asks for --allow-all to read /proc
 * directly, so a shell reads it (builtins only).
 *
 * @throws {Error} when the process is gone.
 */
export async function readRss(pid: number): Promise<number> {
  const script = 'while read -r k v u; do [ "$k" = VmRSS: ] && echo "$v"; done < "/proc/$1/status"';
  const out = await new Deno.Command("sh", { args: ["-c", script, "sh", String(pid)] }).output();
  const kib = Number(new TextDecoder().decode(out.stdout).trim());
  if (!Number.isInteger(kib) || kib <= 0) {
    throw new Error(`Cannot read memory of process ${pid}: no VmRSS`);
  }
  return kib * 1024;
}

/** The soft limit on open files, which the servers and clients inherit (`ulimit -n`). */
export async function openFileLimit(): Promise<number> {
  // Deno denies reading this process's own /proc entry; a shell reports the same limit.
  const out = await new Deno.Command("sh", { args: ["-c", "ulimit -n"], stderr: "null" }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  return text === "unlimited" ? Infinity : Number(text);
}

/** Finds an executable in PATH or the sbin directories; undefined when absent. */
export async function findExecutable(name: string): Promise<string | undefined> {
  const dirs = [...(Deno.env.get("PATH") ?? "").split(":"), "/usr/sbin", "/sbin"];
  for (const dir of dirs) {
    if (!dir) continue;
    const path = join(dir, name);
    try {
      const info = await Deno.stat(path);
      if (info.isFile && (info.mode ?? 0o111) & 0o111) return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Why a server cannot run here, with how to fix it; undefined when it can. */
export async function missingReason(
  kind: ServerKind,
  anchorsDir = DEFAULT_ANCHORS,
): Promise<string | undefined> {
  if (kind === "tessenger" || kind === "tessenger-irc" || kind === "deno-relay") return undefined;
  const exe = await findExecutable(kind);
  if (!exe) {
    return `${kind} is not installed (Debian: apt-get install ${kind}); skipped`;
  }
  try {
    await Deno.stat(join(anchorsDir, `${kind}.conf`));
  } catch {
    return `${join(anchorsDir, `${kind}.conf`)} is missing; skipped`;
  }
  if (kind === "ngircd" && Deno.uid() === 0 && !(await findExecutable("setpriv"))) {
    return "ngIRCd refuses to run as root and setpriv (util-linux) is missing; skipped";
  }
  return undefined;
}

/** Settings of {@link startServer}. */
export interface StartOptions {
  /** Scratch directory for this server's files. */
  runDir: string;
  /** TESSENGER: the credentials file. */
  credentialsPath: string;
  /** TESSENGER: the password every account has. */
  password: string;
  /** Where `ngircd.conf` and `inspircd.conf` are. Default {@link DEFAULT_ANCHORS}. */
  anchorsDir?: string;
  /** TESSENGER: extra `deno run` flags, e.g. `--cpu-prof`. */
  denoFlags?: string[];
  /** TESSENGER: groups to create (all members joined) before the server starts. */
  groups?: { name: string; members: string[] }[];
}

/**
 * CPU seconds (user + system) a process has used, its children too when asked,
 * read through a shell as {@link readRss} does; 0 when it is gone.
 */
export async function cpuSeconds(p: MeasuredProcess): Promise<number> {
  const script = 'for p in "$@"; do cat "/proc/$p/stat" 2>/dev/null; echo; done';
  const pids = [String(p.pid)];
  if (p.withChildren) {
    try {
      pids.push(
        ...(await Deno.readTextFile(`/proc/${p.pid}/task/${p.pid}/children`)).trim()
          .split(/\s+/).filter((x) => x !== ""),
      );
    } catch {
      // gone, or no children
    }
  }
  const out = await new Deno.Command("sh", { args: ["-c", script, "sh", ...pids] }).output();
  let ticks = 0;
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = line.slice(line.lastIndexOf(")") + 2).split(" ");
    if (fields.length > 13) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / 100; // USER_HZ
}

/** Picks a free loopback TCP port. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Tries to connect every 50 ms until the port answers or `timeoutMs` passes. */
export async function waitListening(
  port: number,
  child: Deno.ChildProcess,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let exited = false;
  child.status.then(() => exited = true);
  while (performance.now() < deadline && !exited) {
    try {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      c.close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(
    exited
      ? `Cannot start server on port ${port}: it exited`
      : `Cannot start server: port ${port} not open after ${timeoutMs} ms`,
  );
}

/** Keeps the last few KiB a child writes, so a failure can be explained. */
export function drain(stream: ReadableStream<Uint8Array>): { tail(): string } {
  let tail = "";
  const dec = new TextDecoder();
  (async () => {
    try {
      for await (const chunk of stream) tail = (tail + dec.decode(chunk)).slice(-4096);
    } catch {
      // the child went away
    }
  })();
  return { tail: () => tail };
}

/**
 * Creates groups in a fresh TESSENGER data dir, every member joined, through
 * the server's own store. The wire protocol cannot build a 500-member group:
 * `creategroup` takes at most 63 invitees and there is no invite command.
 */
export async function seedGroups(
  dataDir: string,
  groups: { name: string; members: string[] }[],
): Promise<void> {
  const store = new SqliteStore(join(dataDir, "tessenger.db"));
  try {
    for (const g of groups) {
      const [creator, ...rest] = g.members;
      await store.createGroup(g.name, creator, rest, Date.now());
      for (const u of rest) await store.join(g.name, u);
    }
  } finally {
    store.closeSync();
  }
}

/**
 * Starts one server and resolves once it accepts connections.
 *
 * @throws {Error} when it exits or does not listen within 20 s.
 */
export async function startServer(
  kind: ServerKind,
  options: StartOptions,
): Promise<ServerUnderTest> {
  await Deno.mkdir(options.runDir, { recursive: true });
  let cmd: Deno.Command;
  let port: number;
  // TESSENGER's IRC door: the same server, driven through --irc-port.
  let ircPort: number | undefined;
  if (kind === "tessenger" || kind === "tessenger-irc") {
    port = freePort();
    if (kind === "tessenger-irc") ircPort = freePort();
    const dataDir = join(options.runDir, "data");
    await Deno.mkdir(dataDir, { recursive: true });
    if (options.groups?.length) await seedGroups(dataDir, options.groups);
    cmd = new Deno.Command("deno", {
      args: [
        "run",
        "--quiet",
        "--allow-net=127.0.0.1",
        `--allow-read=${REPO},${options.runDir},${options.credentialsPath}`,
        `--allow-write=${options.runDir}`,
        "--allow-env=NO_COLOR,TERM",
        // As `deno task server` and the binary run it.
        SERVER_V8_FLAGS_ARG,
        ...(options.denoFlags ?? []),
        join(REPO, "main.ts"),
        "server",
        "--port",
        String(port),
        "--data-dir",
        dataDir,
        "--credentials",
        options.credentialsPath,
        ...QUIET_UNTHROTTLED,
        ...(ircPort !== undefined ? ["--irc-port", String(ircPort)] : []),
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    });
  } else if (kind === "deno-relay") {
    port = freePort();
    cmd = new Deno.Command("deno", {
      args: [
        "run",
        "--quiet",
        "--allow-net=127.0.0.1",
        SERVER_V8_FLAGS_ARG,
        join(REPO, "bench", "load", "deno_relay.ts"),
        String(port),
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    });
  } else {
    const template = await Deno.readTextFile(
      join(options.anchorsDir ?? DEFAULT_ANCHORS, `${kind}.conf`),
    );
    const conf = template.replaceAll("@RUNDIR@", options.runDir);
    port = Number(
      (kind === "ngircd" ? /Ports\s*=\s*(\d+)/ : /port="(\d+)"/).exec(conf)?.[1] ?? NaN,
    );
    const confPath = join(options.runDir, `${kind}.conf`);
    await Deno.writeTextFile(confPath, conf);
    await Deno.writeTextFile(join(options.runDir, "motd"), "load bench\n");
    const exe = (await findExecutable(kind))!;
    if (kind === "ngircd") {
      // ngIRCd refuses to run as root: drop to nobody, who must read the config
      // and write the pid file.
      await Deno.chmod(options.runDir, 0o777);
      for (const f of [confPath, join(options.runDir, "motd")]) await Deno.chmod(f, 0o644);
      const args = ["--nodaemon", "--config", confPath];
      cmd = Deno.uid() === 0
        ? new Deno.Command("setpriv", {
          args: ["--reuid=nobody", "--regid=nogroup", "--clear-groups", exe, ...args],
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        })
        : new Deno.Command(exe, { args, stdin: "null", stdout: "piped", stderr: "piped" });
    } else {
      const args = ["--nofork", "--config", confPath];
      if (Deno.uid() === 0) args.push("--runasroot");
      cmd = new Deno.Command(exe, { args, stdin: "null", stdout: "piped", stderr: "piped" });
    }
  }
  const child = cmd.spawn();
  const out = drain(child.stdout);
  const err = drain(child.stderr);
  const pid = child.pid;
  let stopped: Promise<void> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // already gone
      }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // already gone
        }
      }, 5000);
      await child.status;
      clearTimeout(timer);
    })();
  try {
    await waitListening(port, child);
    if (ircPort !== undefined) await waitListening(ircPort, child);
  } catch (e) {
    await stop();
    throw new Error(`${(e as Error).message}\n${out.tail()}${err.tail()}`);
  }
  const endpoint = { hostname: "127.0.0.1", port };
  return {
    kind,
    pid,
    driver: kind === "tessenger"
      ? tessengerDriver(endpoint, options.password)
      : ircPort !== undefined
      ? ircDriver({ hostname: "127.0.0.1", port: ircPort }, options.password)
      : ircDriver(endpoint),
    rss: () => readRss(pid),
    stop,
  };
}

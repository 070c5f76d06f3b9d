/**
 * Throwaway PostgreSQL and Redis servers on loopback, for the cluster's tests
 * and benchmarks. Each lives in its own temporary directory, listens on
 * 127.0.0.1 on a free port, keeps nothing worth keeping (PostgreSQL without
 * fsync unless asked, Redis without persistence) and runs as an unprivileged user when this
 * process is root (PostgreSQL refuses root): `postgres` and `redis`, the users
 * Debian's packages create.
 *
 * ```ts
 * const pg = await startPostgres();
 * const redis = await startRedis();
 * // pg.url: postgres://postgres@127.0.0.1:PORT/postgres, redis.url: redis://127.0.0.1:PORT
 * await redis.restart(); // a Redis restart with the same port and no data
 * await Promise.all([pg.stop(), redis.stop()]);
 * ```
 *
 * As a command (what `.ci/run` does), it starts both in the background and
 * prints the variables the tests read ({@link DATABASE_ENV}, {@link REDIS_ENV}):
 *
 * ```sh
 * eval "$(deno run --allow-all dev/engines.ts start /tmp/engines)"
 * deno run --allow-all dev/engines.ts stop /tmp/engines
 * ```
 *
 * @module
 */

import { join } from "node:path";
import { Redis } from "ioredis";
import postgres from "postgres";

/** The variable naming the PostgreSQL server the tests may use (a URL; they create databases). */
export const DATABASE_ENV = "TESSENGER_TEST_DATABASE";
/** The variable naming the Redis server the tests may use (a URL). */
export const REDIS_ENV = "TESSENGER_TEST_REDIS";

/** A running engine. */
export interface Engine {
  /** Connection URL. */
  readonly url: string;
  readonly port: number;
  /** Its directory: data, socket, log. */
  readonly dir: string;
  /** The server's process id (PostgreSQL: the postmaster's). */
  pid(): Promise<number>;
  /** Stops it and removes its directory. */
  stop(): Promise<void>;
}

/** A throwaway PostgreSQL server. */
export interface PostgresEngine extends Engine {
  /** Stops the server, keeping its data (an outage); {@link PostgresEngine.resume} ends it. */
  pause(): Promise<void>;
  /** Starts a paused server again on the same port, with the same data. */
  resume(): Promise<void>;
}

/** A throwaway Redis server. */
export interface RedisEngine extends Engine {
  /** Kills the server and starts an empty one on the same port (Redis keeps nothing). */
  restart(): Promise<void>;
  /** Kills the server without starting it again; {@link RedisEngine.restart} does. */
  kill(): Promise<void>;
}

/** Where the engines' programs are, or why they cannot run here. */
export type EngineCheck =
  | { ok: true; postgresBin: string; redisServer: string }
  | { ok: false; reason: string };

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** A program on PATH. */
function which(name: string): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir !== "" && isFile(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** The directory of PostgreSQL's server programs (Debian keeps them out of PATH). */
function postgresBinDir(): string | undefined {
  const onPath = which("pg_ctl");
  if (onPath) return Deno.realPathSync(onPath).replace(/\/pg_ctl$/, "");
  try {
    const versions = [...Deno.readDirSync("/usr/lib/postgresql")]
      .map((e) => e.name).filter((n) => /^\d+$/.test(n)).sort((a, b) => Number(b) - Number(a));
    for (const v of versions) {
      const dir = `/usr/lib/postgresql/${v}/bin`;
      if (isFile(`${dir}/pg_ctl`)) return dir;
    }
  } catch {
    // no PostgreSQL installed
  }
  return undefined;
}

/** Finds PostgreSQL's and Redis's server programs. */
export function checkEngines(): EngineCheck {
  const postgresBin = postgresBinDir();
  const redisServer = which("redis-server") ??
    (isFile("/usr/bin/redis-server") ? "/usr/bin/redis-server" : undefined);
  const missing = [
    ...(postgresBin ? [] : ["PostgreSQL (pg_ctl)"]),
    ...(redisServer ? [] : ["Redis (redis-server)"]),
  ];
  if (missing.length > 0) {
    return {
      ok: false,
      reason: `${missing.join(" and ")} not installed (apt-get install -y postgresql redis-server)`,
    };
  }
  return { ok: true, postgresBin: postgresBin!, redisServer: redisServer! };
}

function requireEngines(): { postgresBin: string; redisServer: string } {
  const check = checkEngines();
  if (!check.ok) throw new Error(`Cannot start the engines: ${check.reason}`);
  return check;
}

/** Whether this process runs as root (then the engines run as their own users). */
function isRoot(): boolean {
  return Deno.uid() === 0;
}

/** The user and group ids of a system account, from /etc/passwd. */
function account(name: string): { uid: number; gid: number } | undefined {
  const line = Deno.readTextFileSync("/etc/passwd").split("\n")
    .find((l) => l.startsWith(`${name}:`));
  if (!line) return undefined;
  const [, , uid, gid] = line.split(":");
  return { uid: Number(uid), gid: Number(gid) };
}

/**
 * The command line that runs `argv` as `user` when this process is root
 * (`setpriv`), as itself otherwise.
 */
function asUser(user: string, argv: string[]): { cmd: string; args: string[] } {
  if (!isRoot()) return { cmd: argv[0], args: argv.slice(1) };
  if (!account(user)) throw new Error(`Cannot start ${argv[0]}: no system user ${user}`);
  return {
    cmd: "setpriv",
    args: [`--reuid=${user}`, `--regid=${user}`, "--init-groups", "--", ...argv],
  };
}

async function run(user: string, argv: string[], what: string): Promise<string> {
  const { cmd, args } = asUser(user, argv);
  const out = await new Deno.Command(cmd, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { LC_ALL: "C.UTF-8" },
  }).output();
  const dec = new TextDecoder();
  if (!out.success) {
    throw new Error(
      `Cannot ${what}: exit ${out.code}: ${
        dec.decode(out.stderr).trim() || dec.decode(out.stdout)
      }`,
    );
  }
  return dec.decode(out.stdout);
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** A fresh directory owned by `user` (when root), for an engine's data. */
async function engineDir(user: string, parent?: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: `tessenger-${user}-`, dir: parent });
  if (isRoot()) {
    const a = account(user);
    if (a) await Deno.chown(dir, a.uid, a.gid);
  }
  return dir;
}

/** Options of {@link startPostgres} and {@link startRedis}. */
export interface EngineOptions {
  /** The port; default a free one. */
  port?: number;
  /** Where the engine's directory is made; default the system's temporary directory. */
  parent?: string;
  /**
   * PostgreSQL: keep its defaults (`fsync = on`, `synchronous_commit = on`: a
   * commit is on disk when it returns), for benchmarks. Default false: no fsync.
   */
  durable?: boolean;
}

/**
 * Starts a throwaway PostgreSQL server (initdb, then pg_ctl) with trust
 * authentication on loopback and `fsync = off`: fast, and nothing in it
 * survives a power loss, which no test needs. Resolves once it takes
 * connections.
 */
export async function startPostgres(options: EngineOptions = {}): Promise<PostgresEngine> {
  const { postgresBin } = requireEngines();
  const port = options.port ?? freePort();
  const dir = await engineDir("postgres", options.parent);
  const data = join(dir, "data");
  await run("postgres", [
    `${postgresBin}/initdb`,
    "--no-sync",
    "--auth=trust",
    "--username=postgres",
    "--encoding=UTF8",
    "--locale=C.UTF-8",
    "-D",
    data,
  ], "initialise PostgreSQL");
  const settings = [
    "-c listen_addresses=127.0.0.1",
    `-p ${port}`,
    // TCP only: a socket path under a deep temporary dir can pass the 107-byte limit.
    "-c unix_socket_directories=''",
    ...(options.durable ? [] : ["-c fsync=off", "-c full_page_writes=off"]),
    "-c max_connections=200",
  ].join(" ");
  const start = () =>
    run("postgres", [
      `${postgresBin}/pg_ctl`,
      "start",
      "--wait",
      "--timeout=30",
      "-D",
      data,
      "-l",
      join(dir, "postgres.log"),
      "-o",
      settings,
    ], "start PostgreSQL");
  const pgStop = (mode: "fast" | "immediate") =>
    run(
      "postgres",
      [`${postgresBin}/pg_ctl`, "stop", "--wait", "-m", mode, "-D", data],
      "stop PostgreSQL",
    );
  await start();
  let running = true;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    dir,
    async pid() {
      return Number((await Deno.readTextFile(join(data, "postmaster.pid"))).split("\n")[0]);
    },
    async pause() {
      if (!running) return;
      running = false;
      await pgStop("fast");
    },
    async resume() {
      if (running) return;
      await start();
      running = true;
    },
    async stop() {
      if (running) {
        running = false;
        await pgStop("immediate").catch(() => {});
      }
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** Waits until a TCP port on 127.0.0.1 takes connections. */
async function waitForPort(port: number, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return;
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`${what} did not start: ${e}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** Whether process `pid` still runs (a zombie counts as gone). */
function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

async function killPid(pid: number): Promise<void> {
  try {
    Deno.kill(pid, "SIGKILL");
  } catch {
    return; // already gone
  }
  while (alive(pid)) await new Promise((r) => setTimeout(r, 10));
}

/**
 * Starts a throwaway Redis server on loopback, in the background, with no
 * persistence (no RDB snapshots, no AOF). Resolves once it takes connections.
 */
export async function startRedis(options: EngineOptions = {}): Promise<RedisEngine> {
  const { redisServer } = requireEngines();
  const port = options.port ?? freePort();
  const dir = await engineDir("redis", options.parent);
  const pidFile = join(dir, "redis.pid");
  const start = async () => {
    await Deno.remove(pidFile).catch(() => {});
    await run("redis", [
      redisServer,
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      dir,
      "--daemonize",
      "yes",
      "--pidfile",
      pidFile,
      "--logfile",
      join(dir, "redis.log"),
    ], "start Redis");
    await waitForPort(port, "Redis");
  };
  const kill = async () => {
    let text: string;
    try {
      text = await Deno.readTextFile(pidFile);
    } catch {
      return; // not running
    }
    await killPid(Number(text.trim()));
    await Deno.remove(pidFile).catch(() => {});
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    async pid() {
      return Number((await Deno.readTextFile(pidFile)).trim());
    },
    kill,
    async restart() {
      await kill();
      await start();
    },
    async stop() {
      await kill();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** The engines the tests may use: from the environment (`.ci/run` sets it), or why not. */
export function testEngineUrls():
  | { ok: true; database: string; redis: string }
  | { ok: false; reason: string } {
  const database = Deno.env.get(DATABASE_ENV);
  const redis = Deno.env.get(REDIS_ENV);
  if (database && redis) return { ok: true, database, redis };
  return {
    ok: false,
    reason:
      `no PostgreSQL and Redis: ${DATABASE_ENV} and ${REDIS_ENV} are unset, see dev/engines.ts`,
  };
}

/** A database made for one test: its URL, and the way to drop it. */
export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/**
 * Creates an empty database on the server of `serverUrl` (any database URL
 * of it; the user must be allowed to create databases).
 */
export async function createDatabase(serverUrl: string): Promise<TestDatabase> {
  const name = `t_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.href,
    async drop() {
      const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
      try {
        await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await admin.end();
      }
    },
  };
}

/** A namespace no other test uses, for the keys a test writes to a shared Redis. */
export function testNamespace(): string {
  return `t-${crypto.randomUUID().slice(0, 12)}`;
}

/** Deletes every key of a cluster namespace (`{NAMESPACE}:*`) from the Redis at `url`. */
export async function dropNamespace(url: string, namespace: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on("error", () => {});
  try {
    await redis.connect();
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `{${namespace}}:*`, "COUNT", 1000);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== "0");
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
}

async function main(args: string[]): Promise<number> {
  const [command, dir] = args;
  if ((command !== "start" && command !== "stop") || dir === undefined) {
    console.error("Usage: deno run --allow-all dev/engines.ts start|stop DIR");
    return 2;
  }
  await Deno.mkdir(dir, { recursive: true });
  // The engines' users must reach their directories inside it.
  if (command === "start") await Deno.chmod(dir, 0o755);
  const state = join(dir, "engines.json");
  if (command === "start") {
    const [pgStart, redisStart] = await Promise.allSettled([
      startPostgres({ parent: dir }),
      startRedis({ parent: dir }),
    ]);
    if (pgStart.status === "rejected" || redisStart.status === "rejected") {
      for (const s of [pgStart, redisStart]) {
        if (s.status === "fulfilled") await s.value.stop();
        else console.error(s.reason instanceof Error ? s.reason.message : String(s.reason));
      }
      return 1;
    }
    const [pg, redis] = [pgStart.value, redisStart.value];
    await Deno.writeTextFile(state, JSON.stringify({ postgres: pg.dir, redis: redis.dir }));
    console.log(`export ${DATABASE_ENV}=${pg.url}`);
    console.log(`export ${REDIS_ENV}=${redis.url}`);
    return 0;
  }
  const { postgresBin } = requireEngines();
  let engines: { postgres: string; redis: string };
  try {
    engines = JSON.parse(await Deno.readTextFile(state));
  } catch {
    return 0; // nothing started
  }
  await run("postgres", [
    `${postgresBin}/pg_ctl`,
    "stop",
    "--wait",
    "-m",
    "immediate",
    "-D",
    join(engines.postgres, "data"),
  ], "stop PostgreSQL").catch((e) => console.error(String(e)));
  try {
    await killPid(Number((await Deno.readTextFile(join(engines.redis, "redis.pid"))).trim()));
  } catch {
    // not running
  }
  await Deno.remove(dir, { recursive: true });
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));

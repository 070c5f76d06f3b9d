/**
 * Test servers: a real server on 127.0.0.1 port 0 with a temporary data dir
 * and credentials file, a clock the test controls, and logged-in clients
 * (raw protocol clients, or the real client's ServerConnection).
 *
 * @module
 */

import { join } from "node:path";
import { ServerConnection } from "../../client/connection.ts";
import { hashPassword } from "../../server/passwords.ts";
import { type RunningServer, type ServerOptions, startServer } from "../../server/server.ts";
import type { PushFrame } from "../../shared/protocol.ts";
import { RawClient } from "./raw_client.ts";

/** Accounts a test server knows unless told otherwise (name → password). */
export const TEST_USERS: Record<string, string> = {
  Yoda: "wise@!man",
  Hans: "falcon*solo",
  Luke: "jedi*knight",
  Leia: "princess*leia",
  Obiwan: "hellothere",
};

/** Accounts for the named users, each with the password `pw-NAME`. */
export function pwAccounts(names: string[]): Record<string, string> {
  return Object.fromEntries(names.map((n) => [n, `pw-${n}`]));
}

/**
 * Server options for the named users with the passwords `pw-NAME`, pre-hashed
 * so logins are fast: `startTestServer({ ...namedAccounts(["alice"]), ... })`.
 */
export function namedAccounts(names: string[]): Pick<TestServerOptions, "users" | "hashPasswords"> {
  return { users: pwAccounts(names), hashPasswords: true };
}

/** Cheap scrypt cost, so pre-hashed logins in tests take about a millisecond. */
export const TEST_SCRYPT_COST = { N: 1024, r: 8, p: 1 } as const;

/**
 * Writes a credentials file (`name password` lines), with the passwords
 * pre-hashed at {@link TEST_SCRYPT_COST} when `hash` is true.
 */
export async function writeCredentials(
  path: string,
  users: Record<string, string>,
  hash = false,
): Promise<void> {
  const lines = await Promise.all(
    Object.entries(users).map(async ([user, password]) =>
      `${user} ${hash ? await hashPassword(password, TEST_SCRYPT_COST) : password}\n`
    ),
  );
  await Deno.writeTextFile(path, lines.join(""));
}

/**
 * A clock that only moves when the test says so, or, with `tickMs`, also moves
 * that far on every read (so every event gets a distinct, predictable time).
 */
export class ManualClock {
  now: number;
  readonly tickMs: number;
  constructor(start = Date.now(), tickMs = 0) {
    this.now = start;
    this.tickMs = tickMs;
  }
  /** The clock function to give the server. */
  readonly read = (): number => this.now += this.tickMs;
  /** Moves the clock forward by `ms`. */
  advance(ms: number): void {
    this.now += ms;
  }
}

/** A silent logger, so expected warnings do not clutter test output. */
// deno-lint-ignore no-explicit-any
const quietLog: any = new Proxy({}, { get: () => () => {} });

/** How {@link startTestServer} sets the server up; other fields go to startServer(). */
export interface TestServerOptions extends Omit<ServerOptions, "dataDir" | "clock"> {
  /** The data dir (kept by restarts, deleted by close); a fresh temporary dir by default. */
  dataDir?: string;
  /** Accounts, name → password; {@link TEST_USERS} by default. */
  users?: Record<string, string>;
  /** Pre-hash the passwords (cheaply) instead of writing them as plaintext. */
  hashPasswords?: boolean;
  /**
   * The server's clock: a {@link ManualClock} (a fresh one at the current time
   * by default), or `"real"` for `Date.now` (tests that wait out real timeouts).
   */
  clock?: ManualClock | "real";
  /** Keep the server's log output (silenced by default). */
  verbose?: boolean;
}

/** A running test server and its files. */
export interface TestServer {
  server: RunningServer;
  port: number;
  dataDir: string;
  /** The accounts the server knows, name → password. */
  users: Record<string, string>;
  /** The server's clock (when it runs on `"real"` time, moving it does nothing). */
  clock: ManualClock;
  /** Reads a file from the data dir. */
  read(name: string): string;
  /** Stops the server and starts a new one on the same data dir. */
  restart(): Promise<void>;
  /** Stops the server, keeping its data dir and port for {@link TestServer.start}. */
  stop(): Promise<void>;
  /** Starts the stopped server again, on the same port and data dir. */
  start(): Promise<void>;
  /** Stops the server and deletes the data dir. */
  close(): Promise<void>;
}

/**
 * Starts a server with the given (or {@link TEST_USERS}) accounts.
 *
 * With a non-ticking manual clock the request-rate limit is off unless
 * `limits.commandsPerSecond` is set: that clock never refills the token
 * bucket (tests/server/limits_test.ts covers the limit itself).
 */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const { users = TEST_USERS, hashPasswords = false, verbose = false, ...serverOptions } = options;
  const dataDir = options.dataDir ?? await Deno.makeTempDir({ prefix: "tessenger-test-" });
  const credentialsPath = options.credentialsPath ?? join(dataDir, "credentials.txt");
  await writeCredentials(credentialsPath, users, hashPasswords);
  const clock = options.clock instanceof ManualClock ? options.clock : new ManualClock();
  const manual = options.clock !== "real" && clock.tickMs === 0;
  const start = (port = 0) =>
    startServer({
      host: "127.0.0.1",
      port,
      credentialsPath,
      ...(verbose ? {} : { log: quietLog }),
      ...serverOptions,
      limits: manual ? { commandsPerSecond: 0, ...options.limits } : options.limits,
      dataDir,
      clock: options.clock === "real" ? Date.now : clock.read,
    });
  let server = await start();
  let running = true;
  const t: TestServer = {
    server,
    port: server.port,
    dataDir,
    users,
    clock,
    read: (name) => Deno.readTextFileSync(join(dataDir, name)),
    async restart() {
      await server.close();
      server = await start();
      t.server = server;
      t.port = server.port;
    },
    async stop() {
      await server.close();
      running = false;
    },
    async start() {
      server = await start(t.port);
      running = true;
      t.server = server;
    },
    async close() {
      if (running) await server.close();
      await Deno.remove(dataDir, { recursive: true });
    },
  };
  return t;
}

/** A clock for client-side tests: starts 2023-06-01 15:00 local time, 1 s per read. */
export function tickingClock(): ManualClock {
  return new ManualClock(new Date(2023, 5, 1, 15, 0, 0).getTime(), 1000);
}

/**
 * Runs `fn` against a fresh server with the named users logged in (UDP ports
 * 7000, 7001, ... in order), then closes everything.
 */
export async function withUsers(
  names: string[],
  fn: (t: TestServer, clients: RawClient[]) => Promise<void>,
): Promise<void> {
  const t = await startTestServer();
  const clients: RawClient[] = [];
  try {
    for (const [i, n] of names.entries()) {
      clients.push(await RawClient.login(t.port, n, TEST_USERS[n], 7000 + i));
    }
    await fn(t, clients);
  } finally {
    for (const c of clients) await c.close();
    await t.close();
  }
}

/** A connection of the real client (ServerConnection), logged in, recording its pushes. */
export interface LoggedInConnection {
  conn: ServerConnection;
  pushes: PushFrame[];
  /** Resolves with the next push (or one already received) of event type `ev`. */
  nextPush(ev: PushFrame["ev"]): Promise<PushFrame>;
}

/** Connects the real client's ServerConnection to `t` and logs in as `user`. */
export async function loginConnection(t: TestServer, user: string): Promise<LoggedInConnection> {
  const conn = await ServerConnection.connect({ host: "127.0.0.1", port: t.port });
  const pushes: PushFrame[] = [];
  const waiters: { ev: string; resolve: (p: PushFrame) => void }[] = [];
  conn.onPush = (p) => {
    const i = waiters.findIndex((w) => w.ev === p.ev);
    if (i === -1) pushes.push(p);
    else waiters.splice(i, 1)[0].resolve(p);
  };
  for (const [cmd, args] of [["user", [user]], ["pass", [t.users[user], "0"]]] as const) {
    const res = await conn.request(cmd, [...args]);
    if (!res.ok) throw new Error(`Cannot log in as ${user}: ${res.lines.join(" ")}`);
  }
  return {
    conn,
    pushes,
    nextPush(ev) {
      const i = pushes.findIndex((p) => p.ev === ev);
      if (i !== -1) return Promise.resolve(pushes.splice(i, 1)[0]);
      return new Promise((resolve) => waiters.push({ ev, resolve }));
    },
  };
}

/** Logs a {@link loginConnection} out and waits for the connection to end. */
export async function logoutConnection(c: LoggedInConnection): Promise<void> {
  await c.conn.request("logout");
  await c.conn.closed;
}

/** Resolves after `ms` of real time (short waits for a sweep to run). */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

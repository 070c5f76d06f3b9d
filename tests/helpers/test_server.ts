/**
 * Starts a real server on 127.0.0.1 port 0 with a temporary data dir and
 * credentials file, and a clock the test can move.
 *
 * @module
 */

import { join } from "node:path";
import { type RunningServer, type ServerOptions, startServer } from "../../server/server.ts";
import { RawClient } from "./raw_client.ts";

/** Accounts every test server knows. */
export const TEST_USERS: Record<string, string> = {
  Yoda: "wise@!man",
  Hans: "falcon*solo",
  Luke: "jedi*knight",
  Leia: "princess*leia",
  Obiwan: "hellothere",
};

/** A clock that only moves when the test says so. */
export class ManualClock {
  now: number;
  constructor(start = Date.now()) {
    this.now = start;
  }
  readonly read = (): number => this.now;
  advance(ms: number): void {
    this.now += ms;
  }
}

/** A running test server and its files. */
export interface TestServer {
  server: RunningServer;
  port: number;
  dataDir: string;
  clock: ManualClock;
  /** Reads a file from the data dir. */
  read(name: string): string;
  /** Stops the server and starts a new one on the same data dir. */
  restart(): Promise<void>;
  /** Stops the server and deletes the data dir. */
  close(): Promise<void>;
}

/** Starts a server with the {@link TEST_USERS} accounts. */
export async function startTestServer(
  options: Omit<ServerOptions, "dataDir" | "clock"> & { dataDir?: string } = {},
): Promise<TestServer> {
  const dataDir = options.dataDir ?? await Deno.makeTempDir({ prefix: "tessenger-test-" });
  const credentialsPath = join(dataDir, "credentials.txt");
  await Deno.writeTextFile(
    credentialsPath,
    Object.entries(TEST_USERS).map(([u, p]) => `${u} ${p}\n`).join(""),
  );
  const clock = new ManualClock();
  const start = () =>
    startServer({
      host: "127.0.0.1",
      port: 0,
      credentialsPath,
      ...options,
      dataDir,
      clock: clock.read,
    });
  let server = await start();
  const t: TestServer = {
    server,
    port: server.port,
    dataDir,
    clock,
    read: (name) => Deno.readTextFileSync(join(dataDir, name)),
    async restart() {
      await server.close();
      server = await start();
      t.server = server;
      t.port = server.port;
    },
    async close() {
      await server.close();
      await Deno.remove(dataDir, { recursive: true });
    },
  };
  return t;
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

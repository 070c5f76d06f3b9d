/**
 * Test support for the client-side suites: a real server on 127.0.0.1 port 0
 * with a temporary data dir and credentials file, and logged-in connections.
 *
 * @module
 */

import { join } from "node:path";
import { ServerConnection } from "../../client/connection.ts";
import type { PushFrame } from "../../shared/protocol.ts";
import { type RunningServer, startServer } from "../../server/server.ts";

/** Accounts every test server knows. */
export const USERS: Record<string, string> = {
  Yoda: "wise@!man",
  Hans: "falcon*solo",
  Luke: "jedi*knight",
};

/** A running server and its temporary data dir. */
export interface ChatServer {
  server: RunningServer;
  port: number;
  dataDir: string;
  /** Reads a file in the data dir. */
  read(name: string): string;
  /** Stops the server and deletes its data dir. */
  close(): Promise<void>;
}

/** Starts a server with the {@link USERS} accounts and a clock that ticks 1 s per read. */
export async function startChatServer(): Promise<ChatServer> {
  const dataDir = await Deno.makeTempDir({ prefix: "tessenger-client-test-" });
  const credentialsPath = join(dataDir, "credentials.txt");
  await Deno.writeTextFile(
    credentialsPath,
    Object.entries(USERS).map(([u, p]) => `${u} ${p}\n`).join(""),
  );
  let now = new Date(2023, 5, 1, 15, 0, 0).getTime();
  const server = await startServer({
    host: "127.0.0.1",
    port: 0,
    dataDir,
    credentialsPath,
    clock: () => (now += 1000),
  });
  return {
    server,
    port: server.port,
    dataDir,
    read: (name) => Deno.readTextFileSync(join(dataDir, name)),
    async close() {
      await server.close();
      await Deno.remove(dataDir, { recursive: true });
    },
  };
}

/** A logged-in connection that records its pushes. */
export interface LoggedIn {
  conn: ServerConnection;
  pushes: PushFrame[];
  /** Resolves with the next push (or one already received) matching `ev`. */
  nextPush(ev: PushFrame["ev"]): Promise<PushFrame>;
}

/** Connects and logs in as `user`. */
export async function login(port: number, user: string): Promise<LoggedIn> {
  const conn = await ServerConnection.connect({ host: "127.0.0.1", port });
  const pushes: PushFrame[] = [];
  const waiters: { ev: string; resolve: (p: PushFrame) => void }[] = [];
  conn.onPush = (p) => {
    const i = waiters.findIndex((w) => w.ev === p.ev);
    if (i === -1) pushes.push(p);
    else waiters.splice(i, 1)[0].resolve(p);
  };
  for (const [cmd, args] of [["user", [user]], ["pass", [USERS[user], "0"]]] as const) {
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

/** Logs out and waits for the connection to end. */
export async function logout(c: LoggedIn): Promise<void> {
  await c.conn.request("logout");
  await c.conn.closed;
}

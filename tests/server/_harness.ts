/**
 * Test fixtures for the hardening tests: a real server on port 0 with a
 * temporary data dir and credentials, and a raw wire client that can send
 * well-formed requests or arbitrary bytes.
 *
 * @module
 */

import { FrameDecoder, FrameError, type ServerFrame } from "../../shared/protocol.ts";
import { MAX_SERVER_FRAME_BYTES } from "../../shared/limits.ts";
import { hashPassword } from "../../server/passwords.ts";
import { type RunningServer, type ServerOptions, startServer } from "../../server/server.ts";

/** Cheap scrypt cost, so logins in tests take about a millisecond. */
export const TEST_SCRYPT_COST = { N: 1024, r: 8, p: 1 } as const;

/** Writes a credentials file with `name pw-name` accounts, passwords pre-hashed. */
export async function writeCredentials(path: string, users: string[]): Promise<void> {
  const lines = await Promise.all(
    users.map(async (u) => `${u} ${await hashPassword(`pw-${u}`, TEST_SCRYPT_COST)}`),
  );
  await Deno.writeTextFile(path, lines.join("\n") + "\n");
}

/** A silent logger, so expected warnings do not clutter test output. */
// deno-lint-ignore no-explicit-any
const quietLog: any = new Proxy({}, { get: () => () => {} });

/** A running test server and its temporary directory. */
export interface TestServer {
  server: RunningServer;
  port: number;
  dir: string;
  /** Stops the server and removes the directory. */
  close(): Promise<void>;
}

/** Starts a server on 127.0.0.1:0 with the given users (`pw-NAME` passwords). */
export async function startTestServer(
  users: string[],
  options: ServerOptions = {},
): Promise<TestServer> {
  const dir = await Deno.makeTempDir({ prefix: "tessenger-harden-" });
  const credentialsPath = `${dir}/credentials.txt`;
  await writeCredentials(credentialsPath, users);
  const server = await startServer({
    host: "127.0.0.1",
    port: 0,
    dataDir: `${dir}/data`,
    credentialsPath,
    log: quietLog,
    ...options,
  });
  return {
    server,
    port: server.port,
    dir,
    async close() {
      await server.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

const encoder = new TextEncoder();

/** A response as the tests see it. */
export type Response = Extract<ServerFrame, { t: "res" }>;

/**
 * A client speaking the wire protocol directly: requests are written as JSON
 * lines, every frame the server sends is kept in order.
 */
export class WireClient {
  readonly conn: Deno.Conn;
  readonly frames: (ServerFrame | FrameError)[] = [];
  #nextId = 1;
  #waiters: (() => void)[] = [];
  readonly #readDone: Promise<void>;
  #ended = false;

  private constructor(conn: Deno.Conn) {
    this.conn = conn;
    this.#readDone = this.#readLoop();
  }

  /** Connects over TCP, or TLS when `caCert` is given. */
  static async connect(port: number, caCert?: string): Promise<WireClient> {
    const conn = caCert === undefined
      ? await Deno.connect({ hostname: "127.0.0.1", port })
      : await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [caCert] });
    return new WireClient(conn);
  }

  /** Connects, says hello and logs in as `user` (password `pw-user`). */
  static async login(port: number, user: string, udpPort = 40000): Promise<WireClient> {
    const c = await WireClient.connect(port);
    await c.expectOk("hello", ["1"]);
    await c.expectOk("user", [user]);
    await c.expectOk("pass", [`pw-${user}`, String(udpPort)]);
    return c;
  }

  /** True once the server closed the connection. */
  get ended(): boolean {
    return this.#ended;
  }

  async #readLoop(): Promise<void> {
    const decoder = new FrameDecoder(MAX_SERVER_FRAME_BYTES);
    const buf = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await this.conn.read(buf);
        if (n === null) break;
        for (const item of decoder.push(buf.subarray(0, n))) {
          this.frames.push(item instanceof FrameError ? item : item as ServerFrame);
        }
        this.#wake();
      }
    } catch {
      // reset, or closed by us
    }
    this.#ended = true;
    this.#wake();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  /** Writes raw bytes; false when the connection is gone. */
  async writeRaw(bytes: Uint8Array | string): Promise<boolean> {
    const data = typeof bytes === "string" ? encoder.encode(bytes) : bytes;
    try {
      let off = 0;
      while (off < data.length) off += await this.conn.write(data.subarray(off));
      return true;
    } catch {
      return false;
    }
  }

  /** Sends a request without waiting; returns its id. */
  async send(cmd: string, args: string[] = []): Promise<number> {
    const id = this.#nextId++;
    await this.writeRaw(JSON.stringify({ t: "req", id, cmd, args }) + "\n");
    return id;
  }

  /**
   * Waits until a frame matches, or the connection ends, or `timeoutMs` passes.
   *
   * @throws {Error} on timeout or when the connection ends without a match.
   */
  async waitFor<T extends ServerFrame | FrameError = ServerFrame>(
    match: ((f: ServerFrame | FrameError) => f is T) | ((f: ServerFrame | FrameError) => boolean),
    timeoutMs = 5000,
    from = 0,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      for (let i = from; i < this.frames.length; i++) {
        const f = this.frames[i];
        if (match(f)) return f as T;
      }
      if (this.#ended) throw new Error("Cannot wait for frame: connection ended");
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("Cannot wait for frame: timed out");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.#waiters = this.#waiters.filter((w) => w !== wake);
          resolve();
        }, left);
        const wake = () => {
          clearTimeout(timer);
          resolve();
        };
        this.#waiters.push(wake);
      });
    }
  }

  /** Sends a request and returns its response (an error frame with its id counts). */
  async request(cmd: string, args: string[] = [], timeoutMs = 5000): Promise<Response> {
    const id = await this.send(cmd, args);
    const f = await this.waitFor(
      (f): f is Response | Extract<ServerFrame, { t: "error" }> =>
        !(f instanceof FrameError) && (f.t === "res" || f.t === "error") && f.id === id,
      timeoutMs,
    );
    if (f.t === "error") return { t: "res", id, ok: false, code: f.code, lines: [f.message] };
    return f;
  }

  /** Sends a request and fails unless the response is ok. */
  async expectOk(cmd: string, args: string[] = []): Promise<Response> {
    const res = await this.request(cmd, args);
    if (!res.ok) throw new Error(`${cmd} failed: ${res.code} ${res.lines.join(" ")}`);
    return res;
  }

  /** Waits for the server to close the connection; returns the bye reason if one came. */
  async waitClosed(timeoutMs = 5000): Promise<string | undefined> {
    const timer = setTimeout(() => this.close(), timeoutMs);
    await this.#readDone;
    clearTimeout(timer);
    const bye = this.frames.find((f): f is Extract<ServerFrame, { t: "bye" }> =>
      !(f instanceof FrameError) && f.t === "bye"
    );
    return bye?.reason;
  }

  /** Pushes received so far. */
  pushes(): Extract<ServerFrame, { t: "push" }>[] {
    return this.frames.filter((f): f is Extract<ServerFrame, { t: "push" }> =>
      !(f instanceof FrameError) && f.t === "push"
    );
  }

  /** Closes the socket and waits for the read loop to end. */
  async close(): Promise<void> {
    try {
      this.conn.close();
    } catch {
      // already closed
    }
    await this.#readDone;
  }
}

/** A clock the test moves by hand. */
export class ManualClock {
  now: number;
  constructor(start = Date.UTC(2026, 0, 1, 12, 0, 0)) {
    this.now = start;
  }
  readonly clock = (): number => this.now;
  advance(ms: number): void {
    this.now += ms;
  }
}

/** Resolves after `ms` (short waits for a sweep to run). */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `check` every 10 ms until it is true or `timeoutMs` passes. */
export async function eventually(check: () => boolean, timeoutMs = 3000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await sleep(10);
  }
  return true;
}

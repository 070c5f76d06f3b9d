/**
 * A protocol-level client for tests: writes requests as JSON lines (or any
 * bytes), keeps every frame the server sends in order, waits for responses
 * and pushes, and can misbehave (garbage, no reading, no acks, abrupt close).
 * Speaks plain TCP, or TLS when given the server's certificate. A thin layer
 * over the shared codec (shared/protocol.ts) and the client's
 * {@link SeenStreams}; a well-behaved client is client/connection.ts.
 *
 * @module
 */

import { SeenStreams } from "../../client/connection.ts";
import {
  type AckFrame,
  encodeFrame,
  FrameDecoder,
  FrameError,
  type PushFrame,
  type ResponseFrame,
} from "../../shared/protocol.ts";
import { MAX_SERVER_FRAME_BYTES, PROTOCOL_VERSION } from "../../shared/limits.ts";

const encoder = new TextEncoder();

/**
 * Any frame the server sent, as parsed JSON (a {@link FrameError} when the
 * server sent something that does not decode).
 */
// deno-lint-ignore no-explicit-any
export type AnyFrame = Record<string, any>;

/** How {@link RawClient.connect} connects. */
export interface RawConnectOptions {
  /** False: never read (a stalled client). Default true. */
  read?: boolean;
  /** PEM certificate to trust: connect with TLS instead of plain TCP. */
  caCert?: string;
}

/** A raw connection to a test server. */
export class RawClient {
  readonly conn: Deno.Conn;
  readonly frames: AnyFrame[] = [];
  #nextId = 1;
  #waiters: {
    match: (f: AnyFrame) => boolean;
    resolve: (f: AnyFrame) => void;
    reject: (e: Error) => void;
  }[] = [];
  #closed = Promise.withResolvers<void>();
  #ended = false;
  #reading: Promise<void> | undefined;
  #stopReading = false;

  private constructor(conn: Deno.Conn, read: boolean) {
    this.conn = conn;
    if (read) this.#reading = this.#readLoop();
  }

  /** Connects over TCP, or TLS with `caCert`; with `read: false` it never reads. */
  static async connect(port: number, options: RawConnectOptions = {}): Promise<RawClient> {
    const conn = options.caCert === undefined
      ? await Deno.connect({ hostname: "127.0.0.1", port })
      : await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [options.caCert] });
    return new RawClient(conn, options.read ?? true);
  }

  /** Connects, says hello and logs in, announcing `udpPort`. */
  static async login(
    port: number,
    user: string,
    password: string,
    udpPort = 0,
  ): Promise<RawClient> {
    const c = await RawClient.connect(port);
    await c.expectOk("hello", [String(PROTOCOL_VERSION)]);
    await c.expectOk("user", [user]);
    await c.expectOk("pass", [password, String(udpPort)]);
    return c;
  }

  async #readLoop(): Promise<void> {
    const decoder = new FrameDecoder(MAX_SERVER_FRAME_BYTES);
    const buf = new Uint8Array(64 * 1024);
    try {
      while (true) {
        if (this.#stopReading) return;
        const n = await this.conn.read(buf);
        if (n === null) break;
        for (const f of decoder.push(buf.subarray(0, n))) {
          const frame = f as AnyFrame;
          this.frames.push(frame);
          const i = this.#waiters.findIndex((w) => w.match(frame));
          if (i !== -1) this.#waiters.splice(i, 1)[0].resolve(frame);
        }
      }
    } catch {
      // reset, or closed by us
    }
    // The server closed it (or we did): release our end too.
    try {
      this.conn.close();
    } catch {
      // already closed
    }
    this.#end();
  }

  #end(): void {
    this.#ended = true;
    this.#closed.resolve();
    for (const w of this.#waiters.splice(0)) {
      w.reject(new Error(`Connection ended while waiting for a frame; got ${this.#seen()}`));
    }
  }

  #seen(): string {
    return JSON.stringify(this.frames.map((f) => f instanceof FrameError ? String(f) : f));
  }

  /**
   * Acknowledges every message push received so far (the highest `seq` of the
   * inbox and of each group), then waits for a `ping` to come back, so the
   * server has handled the acknowledgement when this resolves. Returns what it acknowledged.
   */
  async ack(): Promise<AckFrame> {
    const seen = new SeenStreams();
    for (const f of this.frames) if (f.t === "push") seen.see(f as PushFrame);
    const ack = seen.all();
    await this.write(encodeFrame(ack));
    await this.request("ping");
    return ack;
  }

  /** Stops reading after the chunk in flight, as a stuck client would. */
  stopReading(): void {
    this.#stopReading = true;
  }

  /** Resolves when the connection has ended (closed by the server, or by {@link close}). */
  get closed(): Promise<void> {
    return this.#closed.promise;
  }

  /** True once the connection has ended. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Writes raw bytes or text; throws when the connection is gone. */
  async write(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    let off = 0;
    while (off < bytes.length) off += await this.conn.write(bytes.subarray(off));
  }

  /** Writes raw bytes or text; false instead of throwing when the connection is gone. */
  async tryWrite(data: string | Uint8Array): Promise<boolean> {
    try {
      await this.write(data);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Waits for the first frame (already received or not) that matches.
   *
   * @throws {Error} after `timeoutMs`, or when the connection ends without a match.
   */
  waitFor(match: (f: AnyFrame) => boolean, timeoutMs = 5000): Promise<AnyFrame> {
    const seen = this.frames.find(match);
    if (seen) return Promise.resolve(seen);
    if (this.#ended) {
      return Promise.reject(new Error(`Connection ended; no matching frame in ${this.#seen()}`));
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w.resolve !== done);
        reject(new Error(`Timed out waiting for a frame; got ${this.#seen()}`));
      }, timeoutMs);
      const done = (f: AnyFrame) => {
        clearTimeout(timer);
        resolve(f);
      };
      const fail = (e: Error) => {
        clearTimeout(timer);
        reject(e);
      };
      this.#waiters.push({ match, resolve: done, reject: fail });
    });
  }

  /**
   * Sends a request and waits for its response. An error frame carrying the
   * request's id counts as a failed response (`ok: false`, its code, its message).
   */
  async request(cmd: string, args: string[] = [], timeoutMs = 5000): Promise<ResponseFrame> {
    const id = this.#nextId++;
    await this.write(encodeFrame({ t: "req", id, cmd, args }));
    const f = await this.waitFor(
      (f) => (f.t === "res" || f.t === "error") && f.id === id,
      timeoutMs,
    );
    if (f.t === "error") return { t: "res", id, ok: false, code: f.code, lines: [f.message] };
    return f as ResponseFrame;
  }

  /** Sends a request and throws unless it succeeds. */
  async expectOk(cmd: string, args: string[] = []): Promise<ResponseFrame> {
    const res = await this.request(cmd, args);
    if (!res.ok) throw new Error(`${cmd} failed: ${JSON.stringify(res)}`);
    return res;
  }

  /** Waits for a push of the given event type (and optional extra test). */
  push(ev: string, match: (p: AnyFrame) => boolean = () => true): Promise<AnyFrame> {
    return this.waitFor((f) => f.t === "push" && f.ev === ev && match(f));
  }

  /** Pushes received so far (of one event type, when given). */
  pushes(ev?: string): AnyFrame[] {
    return this.frames.filter((f) => f.t === "push" && (ev === undefined || f.ev === ev));
  }

  /**
   * Waits for the server to close the connection (closing it ourselves after
   * `timeoutMs`); returns the reason of the server's bye frame, if one came.
   */
  async waitClosed(timeoutMs = 5000): Promise<string | undefined> {
    const timer = setTimeout(() => this.close(), timeoutMs);
    await this.closed;
    clearTimeout(timer);
    return this.frames.find((f) => f.t === "bye")?.reason;
  }

  /** Closes without logging out (as a killed client would). */
  async close(): Promise<void> {
    try {
      this.conn.close();
    } catch {
      // already closed
    }
    if (this.#reading === undefined) this.#end();
    await this.#reading;
  }
}

/**
 * Logs Yoda, Hans and Luke in on a test server; Yoda creates group `g` and the other
 * two join it. Returns the three clients.
 */
export async function groupOfThree(
  port: number,
  passwords: Record<"Yoda" | "Hans" | "Luke", string>,
): Promise<[RawClient, RawClient, RawClient]> {
  const yoda = await RawClient.login(port, "Yoda", passwords.Yoda);
  const hans = await RawClient.login(port, "Hans", passwords.Hans);
  const luke = await RawClient.login(port, "Luke", passwords.Luke);
  await yoda.expectOk("creategroup", ["g", "Hans", "Luke"]);
  await hans.expectOk("joingroup", ["g"]);
  await luke.expectOk("joingroup", ["g"]);
  return [yoda, hans, luke];
}

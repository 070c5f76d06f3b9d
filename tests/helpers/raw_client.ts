/**
 * A protocol-level client for tests: sends frames, waits for responses and
 * pushes, and can misbehave (garbage, no reading, abrupt close).
 *
 * @module
 */

import { FrameDecoder, type ResponseFrame } from "../../shared/protocol.ts";

const encoder = new TextEncoder();

/** Any frame the server sent, as parsed JSON. */
// deno-lint-ignore no-explicit-any
export type AnyFrame = Record<string, any>;

/** A raw connection to a test server. */
export class RawClient {
  readonly conn: Deno.TcpConn;
  readonly frames: AnyFrame[] = [];
  #nextId = 1;
  #waiters: { match: (f: AnyFrame) => boolean; resolve: (f: AnyFrame) => void }[] = [];
  #closed = Promise.withResolvers<void>();
  #reading: Promise<void> | undefined;
  #stopReading = false;

  private constructor(conn: Deno.TcpConn, read: boolean) {
    this.conn = conn;
    if (read) this.#reading = this.#readLoop();
  }

  /** Connects; with `read: false` it never reads (a stalled client). */
  static async connect(port: number, options: { read?: boolean } = {}): Promise<RawClient> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    return new RawClient(conn, options.read ?? true);
  }

  /** Connects, says hello and logs in. */
  static async login(
    port: number,
    user: string,
    password: string,
    udpPort = 0,
  ): Promise<RawClient> {
    const c = await RawClient.connect(port);
    await c.expectOk("hello", ["1"]);
    await c.expectOk("user", [user]);
    await c.expectOk("pass", [password, String(udpPort)]);
    return c;
  }

  async #readLoop(): Promise<void> {
    const decoder = new FrameDecoder(1 << 20);
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
      // closed
    }
    this.#closed.resolve();
  }

  /** Stops reading after the chunk in flight, as a stuck client would. */
  stopReading(): void {
    this.#stopReading = true;
  }

  /** Resolves when the server has closed the connection. */
  get closed(): Promise<void> {
    return this.#closed.promise;
  }

  /** Writes raw bytes or text. */
  async write(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    let off = 0;
    while (off < bytes.length) off += await this.conn.write(bytes.subarray(off));
  }

  /** Waits for the first frame (already received or not) that matches. */
  waitFor(match: (f: AnyFrame) => boolean, timeoutMs = 5000): Promise<AnyFrame> {
    const seen = this.frames.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w.resolve !== done);
        reject(new Error(`Timed out waiting for a frame; got ${JSON.stringify(this.frames)}`));
      }, timeoutMs);
      const done = (f: AnyFrame) => {
        clearTimeout(timer);
        resolve(f);
      };
      this.#waiters.push({ match, resolve: done });
    });
  }

  /** Sends a request and waits for its response. */
  async request(cmd: string, args: string[] = []): Promise<ResponseFrame> {
    const id = this.#nextId++;
    await this.write(JSON.stringify({ t: "req", id, cmd, args }) + "\n");
    return await this.waitFor((f) => f.t === "res" && f.id === id) as ResponseFrame;
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

  /** Pushes received so far. */
  pushes(ev?: string): AnyFrame[] {
    return this.frames.filter((f) => f.t === "push" && (ev === undefined || f.ev === ev));
  }

  /** Closes without logging out (as a killed client would). */
  async close(): Promise<void> {
    try {
      this.conn.close();
    } catch {
      // already closed
    }
    await this.#reading;
  }
}

/**
 * The client's side of the wire: one TCP connection to the server, requests
 * matched to their responses by id, pushes handed to a callback.
 *
 * @module
 */

import {
  KEEPALIVE_INTERVAL_MS,
  MAX_FRAME_BYTES,
  MAX_SERVER_FRAME_BYTES,
  PROTOCOL_VERSION,
} from "../shared/limits.ts";
import {
  type AckFrame,
  encodeFrame,
  FrameDecoder,
  FrameError,
  parseServerFrame,
  type PushFrame,
  type ResponseFrame,
} from "../shared/protocol.ts";
import { VERSION } from "../shared/version.ts";

/** Thrown by {@link ServerConnection.request} when the connection ends first. */
export class ConnectionClosedError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = "ConnectionClosedError";
  }
}

/**
 * The highest `seq` shown of each durable stream (the inbox, each group):
 * what the client acknowledges, and how it recognises a message the server
 * sends again (after a reconnect, or a crash before its last ack reached the
 * server) so that each is shown once. Keep one across reconnects.
 */
export class SeenStreams {
  #inbox = 0;
  readonly #groups = new Map<string, number>();
  /** Streams with a position not yet acknowledged. */
  #unacked = false;
  readonly #unackedGroups = new Set<string>();
  /** Messages seen since the last acknowledgement. */
  pending = 0;

  /**
   * Records a durable push; false when it was already seen (do not show it).
   */
  see(push: PushFrame): boolean {
    if (push.ev === "msg") {
      if (!Number.isSafeInteger(push.seq)) return true;
      if (push.seq <= this.#inbox) return false;
      this.#inbox = push.seq;
      this.#unacked = true;
      this.pending++;
    } else if (push.ev === "groupmsg") {
      if (!Number.isSafeInteger(push.seq)) return true;
      if (push.seq <= (this.#groups.get(push.group) ?? 0)) return false;
      this.#groups.set(push.group, push.seq);
      this.#unackedGroups.add(push.group);
      this.pending++;
    }
    return true;
  }

  /** The acknowledgement of everything seen since the last one, or undefined when nothing is new. */
  takeAck(): AckFrame | undefined {
    if (!this.#unacked && this.#unackedGroups.size === 0) return undefined;
    const ack: AckFrame = { t: "ack" };
    if (this.#unacked) ack.inbox = this.#inbox;
    if (this.#unackedGroups.size > 0) {
      ack.groups = Object.fromEntries(
        [...this.#unackedGroups].map((g) => [g, this.#groups.get(g)!]),
      );
    }
    this.#unacked = false;
    this.#unackedGroups.clear();
    this.pending = 0;
    return ack;
  }

  /** Everything seen, to acknowledge again on a new connection. */
  all(): AckFrame {
    return { t: "ack", inbox: this.#inbox, groups: Object.fromEntries(this.#groups) };
  }
}

/**
 * Messages shown after which the client acknowledges at once; fewer are
 * acknowledged {@link ACK_DELAY_MS} after the first of them. Acknowledging
 * every read would cost the server a read per receiver per burst; this way a
 * dropped connection re-sends at most this many (not shown twice).
 */
export const ACK_EVERY_MESSAGES = 1024;
/** How long a shown message waits at most for its acknowledgement (ms). */
export const ACK_DELAY_MS = 50;

/** What an {@link AckScheduler} acknowledges: messages shown, and the frame that says so. */
export interface AckSource {
  /** Messages shown since the last acknowledgement. */
  readonly pending: number;
  /** The acknowledgement of them, or undefined when there is none; resets `pending`. */
  takeAck(): AckFrame | undefined;
}

/**
 * When a client acknowledges: at once once {@link ACK_EVERY_MESSAGES} are pending,
 * otherwise {@link ACK_DELAY_MS} after the first, and whenever {@link flush} is called (before
 * a request). The client, the soak's clients and the load generator all follow it.
 */
export class AckScheduler {
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** `send` writes the frame; it is not called while nothing is pending. */
  constructor(readonly source: AckSource, readonly send: (ack: AckFrame) => void) {}

  /** After a read that may have shown messages: acknowledges now or arms the timer. */
  soon(): void {
    if (this.source.pending >= ACK_EVERY_MESSAGES) return this.flush();
    if (this.source.pending === 0 || this.#timer !== undefined) return;
    this.#timer = setTimeout(() => this.flush(), ACK_DELAY_MS);
    Deno.unrefTimer(this.#timer);
  }

  /** Acknowledges what is pending now. */
  flush(): void {
    this.stop();
    const ack = this.source.takeAck();
    if (ack !== undefined) this.send(ack);
  }

  /** Disarms the timer (the connection is gone; what is pending stays unacknowledged). */
  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/** Where to connect. */
export interface ConnectOptions {
  host: string;
  port: number;
  /**
   * Connect with TLS and verify the server's certificate against the system's
   * roots plus `caCerts` (PEM). Default: plain TCP.
   */
  tls?: { caCerts?: string[] };
  /** What was already shown (keep it across reconnects). Default: a new record. */
  seen?: SeenStreams;
}

/** An open, greeted connection to a TESSENGER server. */
export class ServerConnection {
  readonly #conn: Deno.Conn;
  #nextId = 1;
  readonly #pending = new Map<number, PromiseWithResolvers<ResponseFrame>>();
  #closeReason: string | undefined;
  #keepAlive: ReturnType<typeof setInterval> | undefined;
  readonly #closed = Promise.withResolvers<string>();
  readonly #seen: SeenStreams;
  readonly #acks: AckScheduler;
  /** Writes go out one after another: a request and an ack never interleave. */
  #writes: Promise<void> = Promise.resolve();
  /**
   * Called for every push, once: a message shown before (the server sent it
   * again) is not passed on. It is acknowledged after this returns.
   */
  onPush: (push: PushFrame) => void = () => {};
  /** Called for a frame-level error the server reports without a request id. */
  onError: (message: string) => void = () => {};

  /** The server's IP address, as the connection reached it (the client may have been given a name). */
  get remoteHost(): string {
    return (this.#conn.remoteAddr as Deno.NetAddr).hostname;
  }

  private constructor(conn: Deno.Conn, seen: SeenStreams, tls: boolean) {
    this.#conn = conn;
    this.#seen = seen;
    this.#acks = new AckScheduler(seen, (ack) => {
      if (this.#closeReason !== undefined) return;
      this.#send(encodeFrame(ack)).catch(() => {
        // the connection is going; the server sends them again at the next login
      });
    });
    this.#readLoop(tls);
  }

  /**
   * Connects and performs the version handshake.
   *
   * @throws {Deno.errors.ConnectionRefused} and other connect errors;
   * {@link ConnectionClosedError} when the server refuses the handshake.
   */
  static async connect(options: ConnectOptions): Promise<ServerConnection> {
    const conn = options.tls
      ? await Deno.connectTls({
        hostname: options.host,
        port: options.port,
        caCerts: options.tls.caCerts,
      })
      : await Deno.connect({ hostname: options.host, port: options.port });
    const c = new ServerConnection(
      conn,
      options.seen ?? new SeenStreams(),
      options.tls !== undefined,
    );
    let res: ResponseFrame;
    try {
      res = await c.request("hello", [String(PROTOCOL_VERSION), `tessenger/${VERSION}`]);
    } catch (e) {
      c.close();
      throw e;
    }
    if (!res.ok) {
      c.close();
      throw new ConnectionClosedError(res.lines.join(" "));
    }
    const asked = Number(res.data?.keepAliveMs);
    c.#startKeepAlive(
      Number.isFinite(asked) && asked >= 1000
        ? Math.min(asked, KEEPALIVE_INTERVAL_MS)
        : KEEPALIVE_INTERVAL_MS,
    );
    return c;
  }

  /**
   * Sends `ping` every `intervalMs` so the server's idle timeout never closes a
   * session whose user is just reading. The timer does not keep the process alive.
   */
  #startKeepAlive(intervalMs: number): void {
    if (this.#closeReason !== undefined) return;
    const timer = setInterval(() => {
      this.request("ping").catch(() => {
        // the connection is gone; #finish has stopped the timer
      });
    }, intervalMs);
    Deno.unrefTimer(timer);
    this.#keepAlive = timer;
  }

  #stopKeepAlive(): void {
    if (this.#keepAlive !== undefined) clearInterval(this.#keepAlive);
    this.#keepAlive = undefined;
  }

  /** Resolves with the reason once the connection has ended. */
  get closed(): Promise<string> {
    return this.#closed.promise;
  }

  /** True once the connection has ended. */
  get isClosed(): boolean {
    return this.#closeReason !== undefined;
  }

  /**
   * Sends a request and waits for its response. A request longer than the
   * server reads ({@link MAX_FRAME_BYTES}) is not sent: it gets a `too_long`
   * failure at once (the server could not say which request it refused).
   *
   * With `quiet`, the request is the client's own (not typed by the user) and
   * the server does not log it as the user's command.
   *
   * @throws {ConnectionClosedError} if the connection ends first.
   */
  async request(
    cmd: string,
    args: string[] = [],
    options: { quiet?: boolean } = {},
  ): Promise<ResponseFrame> {
    if (this.#closeReason !== undefined) throw new ConnectionClosedError(this.#closeReason);
    // What was shown is acknowledged before anything that may end the session (a logout).
    this.#acks.flush();
    const id = this.#nextId++;
    const bytes = encodeFrame({
      t: "req",
      id,
      cmd,
      args,
      ...(options.quiet ? { quiet: true } : {}),
    });
    if (bytes.length > MAX_FRAME_BYTES) {
      return {
        t: "res",
        id,
        ok: false,
        code: "too_long",
        lines: [
          `Too long to send: ${bytes.length} bytes, the server reads at most ${MAX_FRAME_BYTES} ` +
          "per command. Nothing was sent.",
        ],
      };
    }
    const waiter = Promise.withResolvers<ResponseFrame>();
    this.#pending.set(id, waiter);
    try {
      await this.#send(bytes);
    } catch (e) {
      this.#finish(`Cannot send to the server: ${e instanceof Error ? e.message : e}`);
    }
    return waiter.promise;
  }

  /** Writes `bytes` whole, after every write before it. */
  #send(bytes: Uint8Array): Promise<void> {
    const write = this.#writes.then(async () => {
      let off = 0;
      while (off < bytes.length) off += await this.#conn.write(bytes.subarray(off));
    });
    this.#writes = write.catch(() => {});
    return write;
  }

  async #readLoop(tls: boolean): Promise<void> {
    const decoder = new FrameDecoder(MAX_SERVER_FRAME_BYTES);
    const buf = new Uint8Array(16 * 1024);
    let reason = "The server closed the connection.";
    let first = true;
    try {
      while (true) {
        const n = await this.#conn.read(buf);
        if (n === null) break;
        // A TLS record (an alert, a handshake) where a JSON line should be.
        if (first && !tls && n >= 2 && (buf[0] === 0x15 || buf[0] === 0x16) && buf[1] === 3) {
          reason = "The server answered with TLS.";
          break;
        }
        first = false;
        for (const item of decoder.push(buf.subarray(0, n))) {
          if (item instanceof FrameError) {
            this.onError(item.message);
            continue;
          }
          try {
            this.#handle(parseServerFrame(item));
          } catch (e) {
            this.onError(e instanceof Error ? e.message : String(e));
          }
        }
        // Everything this read carried has been shown.
        this.#acks.soon();
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.BadResource || e instanceof Deno.errors.Interrupted)) {
        reason = `Connection to the server lost: ${e instanceof Error ? e.message : e}`;
      }
    }
    this.#finish(this.#closeReason ?? reason);
  }

  #handle(frame: ReturnType<typeof parseServerFrame>): void {
    switch (frame.t) {
      case "res": {
        const waiter = this.#pending.get(frame.id);
        this.#pending.delete(frame.id);
        waiter?.resolve(frame);
        break;
      }
      case "push":
        if (this.#seen.see(frame)) this.onPush(frame);
        break;
      case "error": {
        const waiter = frame.id === undefined ? undefined : this.#pending.get(frame.id);
        if (waiter) {
          this.#pending.delete(frame.id!);
          waiter.resolve({
            t: "res",
            id: frame.id!,
            ok: false,
            code: frame.code,
            lines: [frame.message],
          });
        } else {
          this.onError(frame.message);
        }
        break;
      }
      case "bye":
        this.#closeReason ??= frame.reason;
        break;
    }
  }

  #finish(reason: string): void {
    this.#stopKeepAlive();
    this.#acks.stop();
    this.#closeReason ??= reason;
    for (const w of this.#pending.values()) w.reject(new ConnectionClosedError(this.#closeReason));
    this.#pending.clear();
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
    this.#closed.resolve(this.#closeReason);
  }

  /** Closes the connection (after acknowledging what was shown). */
  close(): void {
    this.#acks.flush();
    this.#stopKeepAlive();
    this.#closeReason ??= "closed";
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }
}

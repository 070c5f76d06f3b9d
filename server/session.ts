/**
 * One client connection, whatever its front end: a read loop that hands the
 * front end its input in order, the session's {@link Outbox}, its deadlines
 * and request rate ({@link SessionGuard}), and the cleanup when it ends. The
 * front end (`frontends/json_lines.ts`, `frontends/irc.ts`) turns input into
 * commands and results into its wire format.
 *
 * Reading pauses while the outbox is over its high-water mark, so a client
 * that sends requests faster than it reads the answers only slows itself.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import { runCommand, type RunOptions } from "./commands.ts";
import { announcePresence } from "./handlers.ts";
import type { Reply, ServerServices, SessionControl, SessionState } from "./context.ts";
import { type CursorSaver, Delivery } from "./delivery.ts";
import { DEFAULT_LIMITS, SessionGuard } from "./limits.ts";
import { type Codec, Outbox } from "./outbox.ts";
import type { Cursors, PresenceEntry } from "./ports.ts";

/** Read buffer of an idle connection; small, since most connections are idle. */
const SMALL_READ_BYTES = 256;
/** Read buffer once a read fills the small one: a burst is arriving. */
const LARGE_READ_BYTES = 16 * 1024;

/** A wire protocol on one connection: what the {@link Session} needs from it. */
export interface Frontend {
  /** How events are rendered for this connection. */
  readonly codec: Codec;
  /** Splits bytes into inputs (frames, lines), keeping a partial one for the next call. */
  decode(bytes: Uint8Array): unknown[];
  /** Handles one input; the next waits for the promise, if one is returned. */
  handle(input: unknown): void | Promise<void>;
  /** The last frame before the server closes the connection. */
  bye(reason: string): string;
  /** Called once the session is logged in and its welcome queued. */
  loggedIn?(): void;
  /** Called by the server's periodic sweep while the session is open (keep-alives, acks). */
  tick?(): void;
}

/** Settings of a {@link Session}. */
export interface SessionOptions {
  /** Builds the session's front end. */
  frontend: (session: Session) => Frontend;
  /** Which front door the connection came in by. */
  kind: "native" | "irc";
  /** Deadlines and the request rate. Default: the default limits. */
  guard?: SessionGuard;
  /** Keeps the delivery cursors of every session. */
  saver: CursorSaver;
  /**
   * Called once the connection is closed and the session cleaned up (one
   * function shared by every session, rather than a promise chain held by
   * each idle one).
   */
  onEnd?: (session: Session) => void;
}

/** A connected client, from accept to close. */
export class Session implements SessionControl {
  readonly state: SessionState;
  readonly guard: SessionGuard;
  readonly services: ServerServices;
  readonly outbox: Outbox;
  readonly #conn: Deno.Conn;
  readonly #frontend: Frontend;
  readonly #saver: CursorSaver;
  #delivery: Delivery | undefined;
  /** Set by a login until its welcome is queued: then the backlog starts. */
  #startDelivery = false;
  #cleanedUp = false;
  /** Set once the read loop has ended and the session is cleaned up. */
  #ended = false;
  /** Created only when someone waits for the end (a server shutting down). */
  #done: Promise<void> | undefined;
  #resolveDone: (() => void) | undefined;
  readonly #onEnd: ((session: Session) => void) | undefined;
  /** The read buffer; see {@link SMALL_READ_BYTES}. */
  #buf: Uint8Array = new Uint8Array(SMALL_READ_BYTES);

  constructor(conn: Deno.Conn, services: ServerServices, options: SessionOptions) {
    this.#conn = conn;
    this.services = services;
    this.guard = options.guard ?? new SessionGuard(DEFAULT_LIMITS, services.clock);
    this.#onEnd = options.onEnd;
    this.#saver = options.saver;
    const addr = conn.remoteAddr as Deno.NetAddr;
    this.state = { phase: "hello", ip: addr.hostname, frontend: options.kind };
    this.#frontend = options.frontend(this);
    this.outbox = new Outbox(conn, this.#frontend.codec, services.store, {
      aborted: () => this.#closeConn(),
      who: () => this.who,
      warn: (message, props) => services.log.warn(message, props),
    });
  }

  /** The server's logger. */
  get log(): Logger {
    return this.services.log;
  }

  /** The user, or the address before login, for log lines. */
  get who(): string {
    return this.state.user ?? this.state.ip;
  }

  get delivery(): Delivery | undefined {
    return this.#delivery;
  }

  /** Resolves once the connection is closed and the session cleaned up. */
  get done(): Promise<void> {
    if (this.#ended) return Promise.resolve();
    this.#done ??= new Promise<void>((resolve) => this.#resolveDone = resolve);
    return this.#done;
  }

  /** Runs a command for this session (see `commands.ts`). */
  run(cmd: string, args: string[], options: RunOptions = {}): Promise<Reply> {
    return runCommand(
      { session: this.state, control: this, services: this.services },
      cmd,
      args,
      options,
    );
  }

  /**
   * Queues the rendered response to a command; `fallback` is sent instead if
   * the writes it acknowledges are undone. Closes if the handler asked.
   */
  respond(text: string, reply: Reply, fallback?: string): void {
    const writes = reply.writes && fallback !== undefined
      ? { ...reply.writes, fallback }
      : undefined;
    this.outbox.respond(text, writes);
    for (const event of reply.after) this.outbox.deliver(event);
    if (this.#startDelivery) {
      this.#startDelivery = false;
      // Events flow from the welcome on; what came meanwhile is in the backlog.
      this.services.router.attach(this.#delivery!.user, this.outbox);
      this.#frontend.loggedIn?.();
      this.#delivery?.start();
    }
    if (reply.closeReason) this.close(reply.closeReason);
  }

  loggedIn(entry: PresenceEntry, cursors: Cursors): void {
    const { store, log } = this.services;
    const delivery = new Delivery({
      user: entry.user,
      store,
      outbox: this.outbox,
      cursors,
      log,
      saver: this.#saver,
    });
    this.#delivery = delivery;
    this.outbox.delivery = delivery;
    this.#startDelivery = true;
  }

  /** Sends the front end's bye, then closes once everything queued is written. */
  close(reason: string): void {
    if (this.outbox.closing) return;
    this.outbox.close(this.#frontend.bye(reason));
    // Leave presence now, not when the socket is gone: a message sent to this
    // user from here on waits in the store for their next login.
    this.#cleanup();
  }

  /** Closes the socket now, dropping anything queued (a shutdown that cannot wait). */
  abort(): void {
    this.outbox.abort();
  }

  /**
   * Called by the server's periodic sweep: closes the session when its login
   * or idle deadline has passed, and cuts it off when a close has not finished
   * within the grace period (a peer that stopped reading).
   */
  sweep(): void {
    if (this.#ended) return;
    if (this.outbox.closing) {
      if (this.guard.closeOverdue()) this.abort();
      return;
    }
    const why = this.guard.expiredReason(this.state.phase);
    if (why === undefined) return this.#frontend.tick?.();
    this.log.info("Closing {who}: {why}", { who: this.who, why });
    this.close(why);
  }

  #closeConn(): void {
    try {
      this.#conn.close();
    } catch {
      // already closed by the peer
    }
    this.#cleanup();
  }

  /**
   * Reads and handles input until the connection ends, then cleans up.
   * Returns at once; {@link done} resolves at the end. An idle session holds
   * one pending read and its callback, not a suspended async function.
   */
  start(): void {
    this.#read();
  }

  #read(): void {
    if (this.outbox.closed) return this.#end();
    if (this.outbox.pressured) {
      this.outbox.whenDrained().then(() => this.#read());
      return;
    }
    this.#conn.read(this.#buf).then(
      (n) => this.#onRead(n),
      // reset by peer, or closed by us while reading
      () => this.#end(),
    );
  }

  #onRead(n: number | null): void {
    if (n === null) return this.#end();
    let items;
    try {
      items = this.#frontend.decode(this.#buf.subarray(0, n));
    } catch {
      // as any failure of the read loop: the session ends
      return this.#end();
    }
    if (items.length === 0) return this.#next(n);
    this.#handleAll(items).then(() => this.#next(n), (e) => {
      this.log.error("Session of {who} failed: {error}", {
        who: this.who,
        error: e instanceof Error ? e.message : String(e),
      });
      this.#end();
    });
  }

  /** Handles inputs in order; waits only for one whose handling is asynchronous. */
  async #handleAll(items: unknown[]): Promise<void> {
    for (const item of items) {
      if (this.outbox.closing) break;
      const pending = this.#frontend.handle(item);
      if (pending) await pending;
    }
  }

  /** Sizes the buffer after a read of `n` bytes and reads again. */
  #next(n: number): void {
    // Grow for a burst, shrink back once the connection goes quiet.
    const size = this.#buf.length;
    if (n === size && size < LARGE_READ_BYTES) {
      this.#buf = new Uint8Array(LARGE_READ_BYTES);
    } else if (n < SMALL_READ_BYTES && size > SMALL_READ_BYTES) {
      this.#buf = new Uint8Array(SMALL_READ_BYTES);
    }
    this.#read();
  }

  #end(): void {
    if (this.#ended) return;
    this.outbox.abort();
    this.#ended = true;
    this.#resolveDone?.();
    this.#onEnd?.(this);
  }

  /** Presence and userlog forget the user: a dropped connection is a logout. */
  #cleanup(): void {
    if (this.#cleanedUp) return;
    this.#cleanedUp = true;
    this.state.phase = "closing";
    const { user, entry } = this.state;
    if (user === undefined || entry === undefined) return;
    const { directory, router, userLog, log } = this.services;
    router.detach(user, this.outbox);
    const delivery = this.#delivery;
    let saved: Promise<void> = Promise.resolve();
    if (delivery !== undefined) {
      delivery.stop();
      saved = this.#saver.save(delivery);
    }
    // Offline only once the cursors are saved: a login right after, on any
    // node, must not read older ones and send acknowledged messages again.
    saved.then(() => directory.release(user, entry.since)).catch((e) =>
      log.error("Cannot mark {user} offline: {error}", { user, error: String(e) })
    );
    announcePresence(this.services, user, "offline").catch((e) =>
      log.warn("Cannot tell {user}'s groups they went offline: {error}", { user, error: String(e) })
    );
    userLog.remove(user);
    log.info("{user} logout", { user });
  }
}

/**
 * One client connection: a read loop that handles its frames in order, and a
 * bounded send queue drained by one writer. A client that stops reading is
 * cut off when its queue is full; it never stalls anyone else.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import {
  MAX_BAD_FRAMES,
  MAX_FRAME_BYTES,
  MAX_SEND_QUEUE_BYTES,
  MAX_SEND_QUEUE_FRAMES,
  MAX_SERVER_FRAME_BYTES,
} from "../shared/limits.ts";
import {
  FrameDecoder,
  FrameError,
  frameLine,
  parseRequest,
  type ServerFrame,
} from "../shared/protocol.ts";
import { dispatch } from "./commands.ts";
import { Reply, type ServerServices, type SessionState } from "./context.ts";
import { DEFAULT_LIMITS, type FrameVerdict, SessionGuard } from "./limits.ts";
import { type Outbox, SharedRun } from "./presence.ts";

/** Read buffer of an idle connection; small, since most connections are idle. */
const SMALL_READ_BYTES = 256;
/** Read buffer once a read fills the small one: a burst is arriving. */
const LARGE_READ_BYTES = 16 * 1024;

/** A connected client, from accept to close. */
export class Session implements Outbox {
  readonly state: SessionState;
  /** Deadlines and the request rate of this session (see `limits.ts`). */
  readonly guard: SessionGuard;
  readonly #conn: Deno.Conn;
  readonly #services: ServerServices;
  /** JSON lines and shared runs, encoded only when written. */
  #queue: (string | SharedRun)[] = [];
  /**
   * Length of the queued text in UTF-16 code units: its size in memory, and
   * its size in bytes for ASCII text. Checked against MAX_SEND_QUEUE_BYTES.
   */
  #queuedBytes = 0;
  #queuedFrames = 0;
  /**
   * The run at the tail of the queue, still open, and how much of it is
   * counted in #queuedBytes and #queuedFrames; the rest is counted when it
   * stops being the tail (see #settleRun).
   */
  #tailRun: SharedRun | undefined;
  #tailRunBytes = 0;
  #tailRunFrames = 0;
  #writing = false;
  #closed = false;
  /** Set once the queue has drained and the connection should close. */
  #closeAfterFlush = false;
  #badFrames = 0;
  #loggedOut = false;
  /** Set once the read loop has ended and the session is cleaned up. */
  #ended = false;
  /** Created only when someone waits for the end (a server shutting down). */
  #done: Promise<void> | undefined;
  #resolveDone: (() => void) | undefined;
  readonly #onEnd: ((session: Session) => void) | undefined;
  /** The read buffer; see {@link SMALL_READ_BYTES}. */
  #buf: Uint8Array = new Uint8Array(SMALL_READ_BYTES);
  /** Holds a partial frame between reads; dropped while there is none. */
  #decoder: FrameDecoder | undefined;

  /**
   * @param onEnd called once the connection is closed and the session cleaned
   *   up (one function shared by every session, rather than a promise chain
   *   held by each idle one).
   */
  constructor(
    conn: Deno.Conn,
    services: ServerServices,
    guard?: SessionGuard,
    onEnd?: (session: Session) => void,
  ) {
    this.#conn = conn;
    this.#services = services;
    this.guard = guard ?? new SessionGuard(DEFAULT_LIMITS, services.clock);
    this.#onEnd = onEnd;
    const addr = conn.remoteAddr as Deno.NetAddr;
    this.state = { phase: "hello", ip: addr.hostname };
  }

  /** Resolves once the connection is closed and the session cleaned up. */
  get done(): Promise<void> {
    if (this.#ended) return Promise.resolve();
    this.#done ??= new Promise<void>((resolve) => this.#resolveDone = resolve);
    return this.#done;
  }

  /** Queues a frame's JSON line; cuts the client off when its queue is over the limit. */
  send(line: string): boolean {
    if (!this.#admit(line.length)) return false;
    this.#queue.push(line);
    this.#queuedBytes += line.length;
    this.#queuedFrames++;
    this.#scheduleWrite();
    return true;
  }

  /** Queues a shared run of pushes (see {@link SharedRun}); cut off as {@link send}. */
  sendRun(run: SharedRun): boolean {
    if (!this.#admit(run.size)) return false;
    this.#queue.push(run);
    this.#tailRun = run;
    this.#tailRunBytes = run.size;
    this.#tailRunFrames = run.frames.length;
    this.#queuedBytes += run.size;
    this.#queuedFrames += run.frames.length;
    this.#scheduleWrite();
    return true;
  }

  /**
   * Closes the run at the tail of the queue (nothing may be added to it once
   * something follows it, or once it is being written) and counts what was
   * added to it since it was queued.
   */
  #settleRun(): void {
    const run = this.#tailRun;
    if (run === undefined) return;
    run.closed = true;
    this.#queuedBytes += run.size - this.#tailRunBytes;
    this.#queuedFrames += run.frames.length - this.#tailRunFrames;
    this.#tailRun = undefined;
  }

  /** Whether `bytes` more may be queued; cuts the client off when not. */
  #admit(bytes: number): boolean {
    if (this.#closed || this.#closeAfterFlush) return false;
    this.#settleRun();
    // One frame larger than the byte limit may go out on its own (a long
    // /activeuser list); a client that lets frames pile up is cut off.
    if (
      (this.#queuedBytes > 0 && this.#queuedBytes + bytes > MAX_SEND_QUEUE_BYTES) ||
      this.#queuedFrames >= MAX_SEND_QUEUE_FRAMES
    ) {
      this.#services.log.warn("{user} cut off: not reading (send queue full)", {
        user: this.state.user ?? this.state.ip,
      });
      this.#abort();
      return false;
    }
    return true;
  }

  /** Puts the session in the next write pass. */
  #scheduleWrite(): void {
    if (!this.#writing) {
      // Marked as writing now, so a close() waits for the pass to send its bye.
      this.#writing = true;
      Session.#due.push(this);
      if (!Session.#passScheduled) {
        Session.#passScheduled = true;
        setImmediate(Session.#writePass);
      }
    }
  }

  /** Sessions with bytes queued since the last write pass. */
  static #due: Session[] = [];
  static #passScheduled = false;
  /**
   * Starts the writes of every session queued to since the last pass. Sends
   * are deferred to the end of the event-loop turn so that everything one
   * turn produced for a client (e.g. a burst of group messages) goes out in
   * one write instead of one write per frame. `setImmediate`, not
   * `setTimeout(0)`: in Deno the latter waits about 2 ms.
   */
  static #writePass = (): void => {
    Session.#passScheduled = false;
    const due = Session.#due;
    Session.#due = [];
    for (const s of due) s.#flush();
  };

  #sendFrame(frame: ServerFrame): void {
    this.send(frameLine(frame));
  }

  /** Sends a bye frame, then closes once everything queued is written. */
  close(reason: string): void {
    if (this.#closed || this.#closeAfterFlush) return;
    this.#sendFrame({ t: "bye", reason });
    this.#closeAfterFlush = true;
    // Leave presence now, not when the socket is gone: a message sent to this
    // user from here on is queued for their next login instead of being pushed
    // into a closing connection and lost.
    this.#cleanup();
    if (!this.#writing) this.#abort();
  }

  /**
   * Called by the server's periodic sweep: closes the session when its login
   * or idle deadline has passed, and cuts it off when a close has not finished
   * within the grace period (a peer that stopped reading).
   */
  sweep(): void {
    if (this.#closed) return;
    if (this.#closeAfterFlush) {
      if (this.guard.closeOverdue()) this.#abort();
      return;
    }
    const why = this.guard.expiredReason(this.state.phase);
    if (why === undefined) return;
    this.#services.log.info("Closing {who}: {why}", {
      who: this.state.user ?? this.state.ip,
      why,
    });
    this.close(why);
  }

  /**
   * Writes the queue once the writes its replies acknowledge are committed
   * (and the text log lines written), then again while more was queued during
   * the write. Callbacks, not an async function: a write pass at N=500 starts
   * 500 of these, and every suspended async frame is garbage to collect.
   */
  #flush(): void {
    if (this.#queue.length === 0 || this.#closed) {
      this.#writing = false;
      if (this.#closeAfterFlush) this.#abort();
      return;
    }
    this.#writing = true;
    this.#settleRun();
    try {
      this.#services.store.commit();
      this.#services.messageLogs.flush();
    } catch (e) {
      this.#services.log.error("Cannot save messages, dropping {who}: {error}", {
        who: this.state.user ?? this.state.ip,
        error: e instanceof Error ? e.message : String(e),
      });
      this.#writing = false;
      this.#abort();
      return;
    }
    const bytes = encodeQueue(this.#queue);
    this.#queue.length = 0;
    this.#queuedBytes = 0;
    this.#queuedFrames = 0;
    this.#write(bytes);
  }

  #write(bytes: Uint8Array): void {
    this.#conn.write(bytes).then(
      (n) => n < bytes.length ? this.#write(bytes.subarray(n)) : this.#flush(),
      () => {
        this.#writing = false;
        this.#abort();
      },
    );
  }

  /** Closes the socket now, dropping anything queued (a shutdown that cannot wait). */
  abort(): void {
    this.#abort();
  }

  /** Closes the socket now; queued bytes are dropped. */
  #abort(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#queuedFrames = 0;
    this.#tailRun = undefined;
    try {
      this.#conn.close();
    } catch {
      // already closed by the peer
    }
    this.#cleanup();
  }

  /**
   * Reads and handles frames until the connection ends, then cleans up.
   * Returns at once; {@link done} resolves at the end. An idle session holds
   * one pending read and its callback, not a suspended async function.
   */
  run(): void {
    this.#read();
  }

  #read(): void {
    if (this.#closed) return this.#end();
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
      const decoder = this.#decoder ??= new FrameDecoder(MAX_FRAME_BYTES);
      items = decoder.push(this.#buf.subarray(0, n));
      if (decoder.idle) this.#decoder = undefined;
    } catch {
      // as any failure of the read loop: the session ends
      return this.#end();
    }
    if (items.length === 0) return this.#next(n);
    this.#handleAll(items).then(() => this.#next(n), () => this.#end());
  }

  /** Handles frames in order; waits only for a frame whose handler is asynchronous. */
  async #handleAll(items: unknown[]): Promise<void> {
    for (const item of items) {
      if (this.#closed || this.#closeAfterFlush) break;
      const pending = this.#handle(item);
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
    this.#abort();
    this.#ended = true;
    this.#resolveDone?.();
    this.#onEnd?.(this);
  }

  #handle(item: unknown): void | Promise<void> {
    const verdict = this.guard.admitFrame();
    if (verdict !== "ok") return this.#refuse(item, verdict);
    let request;
    try {
      if (item instanceof FrameError) throw item;
      request = parseRequest(item);
    } catch (e) {
      const err = e instanceof FrameError ? e : new FrameError("bad_frame", String(e));
      this.#badFrames++;
      const id = (item as { id?: unknown })?.id;
      this.#sendFrame({
        t: "error",
        code: err.code,
        message: err.message,
        ...(Number.isInteger(id) ? { id: id as number } : {}),
      });
      this.#services.log.warn("Bad frame from {who}: {message}", {
        who: this.state.user ?? this.state.ip,
        message: err.message,
      });
      if (this.#badFrames >= MAX_BAD_FRAMES) this.close("too many malformed frames");
      return;
    }
    const reply = new Reply();
    const pending = dispatch(
      { session: this.state, services: this.#services, reply, outbox: this },
      request.cmd,
      request.args,
    );
    if (pending) return pending.then(() => this.#respond(request.id, request.cmd, reply));
    this.#respond(request.id, request.cmd, reply);
  }

  /** Sends the response to a handled request, then its pushes; closes if the handler asked. */
  #respond(id: number, cmd: string, reply: Reply): void {
    if (this.#closed) return;
    let response = frameLine({
      t: "res",
      id,
      ok: reply.ok,
      code: reply.code,
      lines: reply.lines,
      ...(reply.data ? { data: reply.data } : {}),
    });
    // A UTF-8 byte is at least a third of a UTF-16 code unit: encode only to be sure.
    if (
      response.length * 3 > MAX_SERVER_FRAME_BYTES &&
      encoder.encode(response).length > MAX_SERVER_FRAME_BYTES
    ) {
      // Never send what the client will refuse to decode: it would wait forever.
      this.#services.log.error("Response to {cmd} too large: {n} bytes", {
        cmd,
        n: encoder.encode(response).length,
      });
      response = frameLine({
        t: "res",
        id,
        ok: false,
        code: "too_large",
        lines: ["Cannot send the response: it is too large."],
      });
    }
    this.send(response);
    for (const push of reply.after) this.#sendFrame(push);
    if (reply.closeReason) this.close(reply.closeReason);
  }

  /** Answers a request over the rate limit; disconnects on sustained abuse. */
  #refuse(item: unknown, verdict: Exclude<FrameVerdict, "ok">): void {
    const who = this.state.user ?? this.state.ip;
    if (verdict === "abuse") {
      this.#services.log.warn("Disconnecting {who}: too many requests", { who });
      this.close("too many requests");
      return;
    }
    if (this.guard.rateLimitedRequests === 1) {
      this.#services.log.warn("{who} is over the request rate; refusing requests", { who });
    }
    const id = (item as { id?: unknown })?.id;
    this.#sendFrame({
      t: "error",
      code: "rate_limited",
      message: "Too many requests: slow down and try again in a moment.",
      ...(Number.isInteger(id) ? { id: id as number } : {}),
    });
  }

  /** Presence and userlog forget the user: a dropped connection is a logout. */
  #cleanup(): void {
    this.state.phase = "closing";
    const user = this.state.user;
    if (user === undefined || this.#loggedOut) return;
    this.#loggedOut = true;
    const { presence, userLog, log } = this.#services;
    if (presence.leave(user, this)) {
      userLog.remove(user);
      log.info("{user} logout", { user });
    }
  }
}

const encoder = new TextEncoder();

/**
 * A session's queue encoded as one buffer. A queue that is one shared run
 * (the usual case for a group member) is sent the run's bytes, encoded once
 * for all its recipients.
 */
function encodeQueue(parts: (string | SharedRun)[]): Uint8Array {
  if (parts.length === 1 && parts[0] instanceof SharedRun) return parts[0].encoded();
  let text = "";
  for (const p of parts) text += typeof p === "string" ? p : p.frames.join("");
  return encoder.encode(text);
}

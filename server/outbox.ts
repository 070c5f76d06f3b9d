/**
 * A session's outbound side: a bounded queue of rendered frames drained by one
 * writer, the end-of-turn write pass, and the durability barrier every write
 * waits for. Front ends render (their {@link Codec}); the outbox only queues,
 * counts and writes.
 *
 * - Responses are always queued: the session stops reading requests while the
 *   queue is over {@link OUTBOX_HIGH_WATER_BYTES} (see `whenDrained`), so a
 *   client that pipelines requests gets every response and the queue stays
 *   bounded by one response beyond the mark.
 * - Durable events (messages) go through the session's {@link Delivery}: while
 *   the queue is over the mark they are skipped and fetched from the store
 *   once it drains, so a slow reader is never cut off and loses nothing.
 * - Other events (notices, invitations, transfer offers) are dropped once the
 *   queue holds {@link MAX_SEND_QUEUE_BYTES} or {@link MAX_SEND_QUEUE_FRAMES}.
 *
 * Everything one event-loop turn queued for a client goes out in one write,
 * in a pass at the end of the turn (`setImmediate`); that pass first waits for
 * the store's barrier, so nothing acknowledges a write before it is durable.
 * Frames that depended on a group of writes the store had to undo (a full
 * disk) are not sent: responses are replaced by an error, events dropped, and
 * the session's delivery fetches again from the store.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import {
  MAX_SEND_QUEUE_BYTES,
  MAX_SEND_QUEUE_FRAMES,
  OUTBOX_HIGH_WATER_BYTES,
} from "../shared/limits.ts";
import type { ServerEvent } from "../shared/protocol.ts";
import type { Delivery } from "./delivery.ts";
import type { ChatStore, DeliverySink } from "./ports.ts";

/** How a front end renders events; runs keep one rendering per `key`. */
export interface Codec {
  /** Equal for codecs that render every event to the same text. */
  readonly key: string;
  /** One event as wire text, line ending included. */
  event(event: ServerEvent): string;
}

/** What the outbox writes to (the connection). */
export interface Wire {
  /** Writes some of `bytes`; resolves with how many. */
  write(bytes: Uint8Array): Promise<number>;
}

/** The store's side of the barrier (see {@link ChatStore.barrier}). */
export type Durability = Pick<ChatStore, "barrier" | "epoch" | "lost">;

/** Callbacks of an {@link Outbox}. */
export interface OutboxHooks {
  /** The outbox gave up (write error, closed): close the connection. Called once. */
  aborted(): void;
  /** Who this is, for log lines. */
  who(): string;
  /** Logs a warning. */
  warn(message: string, props: Record<string, unknown>): void;
}

/** Most frames and (about) characters one {@link SharedRun} takes before a new one is started. */
const MAX_RUN_FRAMES = 256;
const MAX_RUN_CHARS = 64 * 1024;
/** What a group message adds to a run beside its text, roughly (names, time, framing). */
const RUN_FRAME_OVERHEAD = 128;

const encoder = new TextEncoder();

/**
 * Group messages queued for several sessions at once: consecutive messages
 * of one group to the same recipients (a burst). The first is queued as a run
 * in every recipient's outbox; later ones, while the run is open, are added
 * to it once instead of to each of N queues. A run closes when any of its
 * outboxes queues something else or takes its queue for writing, or when it
 * is full; from then on it never changes, so every recipient with the same
 * codec is sent the same bytes, rendered and encoded once.
 */
export class SharedRun {
  readonly events: ServerEvent[];
  /** The store epoch each event's write belongs to. */
  readonly epochs: number[];
  /** The group whose stream the run carries (consecutive seqs). */
  readonly group: string;
  lastSeq: number;
  closed = false;
  /** Roughly the characters the run holds, to bound it. */
  #chars: number;
  readonly #texts = new Map<string, { lines: string[]; size: number }>();
  readonly #encoded = new Map<string, Uint8Array>();

  constructor(first: ServerEvent & { ev: "groupmsg" }, epoch: number) {
    this.events = [first];
    this.epochs = [epoch];
    this.group = first.group;
    this.lastSeq = first.seq;
    this.#chars = first.text.length + RUN_FRAME_OVERHEAD;
  }

  get firstSeq(): number {
    return (this.events[0] as ServerEvent & { ev: "groupmsg" }).seq;
  }

  /** Adds the group's next message; false when the run is closed, full, or it does not follow. */
  add(event: ServerEvent, epoch: number): boolean {
    if (
      this.closed || event.ev !== "groupmsg" || event.group !== this.group ||
      event.seq !== this.lastSeq + 1 || this.events.length >= MAX_RUN_FRAMES ||
      this.#chars >= MAX_RUN_CHARS
    ) {
      return false;
    }
    this.#chars += event.text.length + RUN_FRAME_OVERHEAD;
    this.events.push(event);
    this.epochs.push(epoch);
    this.lastSeq = event.seq;
    return true;
  }

  /** The run rendered by `codec` (cached); its size in UTF-16 code units. */
  rendered(codec: Codec): { lines: string[]; size: number } {
    let t = this.#texts.get(codec.key);
    if (!t) this.#texts.set(codec.key, t = { lines: [], size: 0 });
    for (let i = t.lines.length; i < this.events.length; i++) {
      const line = codec.event(this.events[i]);
      t.lines.push(line);
      t.size += line.length;
    }
    return t;
  }

  /** The run encoded for `codec`, built once for all its recipients; closes the run. */
  encoded(codec: Codec): Uint8Array {
    this.closed = true;
    let bytes = this.#encoded.get(codec.key);
    if (!bytes) {
      bytes = encoder.encode(this.rendered(codec).lines.join(""));
      this.#encoded.set(codec.key, bytes);
    }
    return bytes;
  }

  /** The store epochs of the run's writes, lowest and highest. */
  epochRange(): [number, number] {
    return [this.epochs[0], this.epochs[this.epochs.length - 1]];
  }
}

/** A queued frame. */
interface Item {
  text: string;
  /** The store epoch of the writes the frame depends on; undefined for none. */
  epoch?: number;
  /** The highest epoch it depends on (a handler that awaited across turns). */
  epochTo?: number;
  /** Sent instead when those writes were undone; undefined drops the frame. */
  fallback?: string;
  /** A durable event: its loss means the session's delivery must fetch again. */
  durable?: boolean;
}

/** Whether an event is a message kept in the store (and tracked by {@link Delivery}). */
export function isDurable(event: ServerEvent): event is ServerEvent & { ev: "msg" | "groupmsg" } {
  return event.ev === "msg" || event.ev === "groupmsg";
}

/** One session's outbound queue. */
export class Outbox implements DeliverySink {
  readonly #wire: Wire;
  readonly codec: Codec;
  readonly #durability: Durability;
  readonly #hooks: OutboxHooks;
  /** The session's message streams, once it is logged in. */
  delivery: Delivery | undefined;
  #queue: (Item | SharedRun)[] = [];
  /** Queued text in UTF-16 code units: its size in memory, bytes for ASCII. */
  #bytes = 0;
  #frames = 0;
  /**
   * The run at the tail of the queue, still open, and how much of it is
   * counted in #bytes and #frames; the rest is counted when it stops being
   * the tail (see #settleRun).
   */
  #tailRun: SharedRun | undefined;
  #tailRunBytes = 0;
  #tailRunFrames = 0;
  #writing = false;
  #closed = false;
  #closeAfterFlush = false;
  #dropped = 0;
  #drainWaiters: (() => void)[] = [];

  constructor(wire: Wire, codec: Codec, durability: Durability, hooks: OutboxHooks) {
    this.#wire = wire;
    this.codec = codec;
    this.#durability = durability;
    this.#hooks = hooks;
  }

  /** Queued text (UTF-16 code units), the open tail run included. */
  get bytes(): number {
    const run = this.#tailRun;
    return run === undefined
      ? this.#bytes
      : this.#bytes + run.rendered(this.codec).size - this.#tailRunBytes;
  }

  /** True once the outbox gave up or finished closing: the connection is gone. */
  get closed(): boolean {
    return this.#closed;
  }

  /** True once the outbox is closed or closing: nothing more is queued. */
  get closing(): boolean {
    return this.#closed || this.#closeAfterFlush;
  }

  /** True while the queue is over the high-water mark: stop producing. */
  get pressured(): boolean {
    return this.bytes > OUTBOX_HIGH_WATER_BYTES;
  }

  /** Resolves once the queue is under the high-water mark again (or the outbox closed). */
  whenDrained(): Promise<void> {
    if (!this.pressured || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /**
   * Queues a response. `epoch`..`epochTo` are the store epochs of the writes
   * it acknowledges, when it acknowledges any; `fallback` is sent instead if
   * those writes are undone.
   */
  respond(text: string, writes?: { epoch: number; epochTo: number; fallback: string }): void {
    if (this.closing) return;
    this.#push({ text, ...writes });
  }

  /** Queues a frame that is not an event (an error, a bye). */
  send(text: string): void {
    if (this.closing) return;
    this.#push({ text });
  }

  /** Queues an event for this session (see the module doc for which are kept). */
  deliver(event: ServerEvent): boolean {
    if (this.closing) return false;
    if (isDurable(event)) {
      if (this.delivery?.offer(event, this.pressured)) {
        this.#push({ text: this.codec.event(event), epoch: this.#durability.epoch, durable: true });
      }
      // Skipped ones are fetched from the store by the delivery's catch-up.
      return true;
    }
    return this.#ephemeral(this.codec.event(event));
  }

  /**
   * Queues a run of group messages (see {@link SharedRun}); false when the
   * session did not take it (closing, or its stream for the group is behind,
   * in which case it catches up from the store).
   */
  deliverRun(run: SharedRun): boolean {
    if (this.closing) return false;
    this.#settleRun();
    if (!this.delivery?.offerRun(run, this.pressured)) return true;
    const { size } = run.rendered(this.codec);
    this.#queue.push(run);
    this.#tailRun = run;
    this.#tailRunBytes = size;
    this.#tailRunFrames = run.events.length;
    this.#bytes += size;
    this.#frames += run.events.length;
    this.#scheduleWrite();
    return true;
  }

  /** Queues a catch-up message fetched from the store by the session's delivery. */
  queueFetched(event: ServerEvent): void {
    if (this.closing) return;
    this.#push({ text: this.codec.event(event), durable: true });
  }

  #ephemeral(text: string): boolean {
    if (this.#bytes + text.length > MAX_SEND_QUEUE_BYTES || this.#frames >= MAX_SEND_QUEUE_FRAMES) {
      if (this.#dropped++ === 0) {
        this.#hooks.warn("{who} is not reading: dropping notices until it does", {
          who: this.#hooks.who(),
        });
      }
      return false;
    }
    this.#push({ text });
    return true;
  }

  #push(item: Item): void {
    this.#settleRun();
    this.#queue.push(item);
    this.#bytes += item.text.length;
    this.#frames++;
    this.#scheduleWrite();
  }

  /**
   * Closes the run at the tail of the queue (nothing may be added to it once
   * something follows it, or once it is being written), counts what was added
   * to it since it was queued, and tells the delivery how far its group got.
   */
  #settleRun(): void {
    const run = this.#tailRun;
    if (run === undefined) return;
    run.closed = true;
    this.#bytes += run.rendered(this.codec).size - this.#tailRunBytes;
    this.#frames += run.events.length - this.#tailRunFrames;
    this.#tailRun = undefined;
    this.delivery?.runSent(run);
  }

  /** Closes the tail run now, so that the delivery knows how far its group got. */
  settle(): void {
    this.#settleRun();
  }

  /** Puts the outbox in the next write pass. */
  #scheduleWrite(): void {
    if (this.#writing) return;
    // Marked as writing now, so a close() waits for the pass to send its bye.
    this.#writing = true;
    Outbox.#due.push(this);
    if (!Outbox.#passScheduled) {
      Outbox.#passScheduled = true;
      setImmediate(Outbox.#writePass);
    }
  }

  /** Outboxes with frames queued since the last pass. */
  static #due: Outbox[] = [];
  static #passScheduled = false;
  /**
   * Starts the writes of every outbox queued to since the last pass: sends are
   * deferred to the end of the event-loop turn so that everything one turn
   * produced for a client goes out in one write. `setImmediate`, not
   * `setTimeout(0)`: in Deno the latter waits about 2 ms.
   */
  static #writePass = (): void => {
    Outbox.#passScheduled = false;
    const due = Outbox.#due;
    Outbox.#due = [];
    for (const o of due) o.#flush();
  };

  /**
   * Writes the queue once the writes it depends on are durable, then again
   * while more was queued during the write. Callbacks, not an async function:
   * a write pass at N=500 starts 500 of these, and every suspended async frame
   * is garbage to collect.
   */
  #flush(): void {
    if (this.#queue.length === 0 || this.#closed) {
      this.#writing = false;
      if (this.#closeAfterFlush) this.abort();
      this.#drained();
      return;
    }
    this.#writing = true;
    this.#settleRun();
    let pending: void | Promise<void>;
    try {
      pending = this.#durability.barrier();
    } catch {
      // The store undid the writes and logged why; the frames that depend on them are filtered below.
      pending = undefined;
    }
    if (pending) pending.then(this.#writeQueue, this.#writeQueue);
    else this.#writeQueue();
  }

  readonly #writeQueue = (): void => {
    if (this.#closed) return;
    const queue = this.#queue;
    this.#queue = [];
    this.#bytes = 0;
    this.#frames = 0;
    this.#write(this.#encode(queue));
  };

  /** The queue as one buffer, without what depended on undone writes. */
  #encode(queue: (Item | SharedRun)[]): Uint8Array {
    // A queue that is one shared run (the usual case for a group member) is
    // sent the run's bytes, encoded once for all its recipients.
    if (queue.length === 1 && queue[0] instanceof SharedRun && !this.#runLost(queue[0])) {
      return queue[0].encoded(this.codec);
    }
    let text = "";
    let lostDurable = false;
    for (const part of queue) {
      if (part instanceof SharedRun) {
        if (!this.#runLost(part)) {
          text += part.rendered(this.codec).lines.join("");
          continue;
        }
        lostDurable = true;
        for (let i = 0; i < part.events.length; i++) {
          if (!this.#durability.lost(part.epochs[i])) text += this.codec.event(part.events[i]);
        }
      } else if (part.epoch !== undefined && this.#isLost(part.epoch, part.epochTo ?? part.epoch)) {
        if (part.fallback !== undefined) text += part.fallback;
        if (part.durable) lostDurable = true;
      } else {
        text += part.text;
      }
    }
    // The delivery counted those messages as sent: it fetches from the store again.
    if (lostDurable) this.delivery?.resync();
    return encoder.encode(text);
  }

  #runLost(run: SharedRun): boolean {
    const [from, to] = run.epochRange();
    return this.#isLost(from, to);
  }

  #isLost(from: number, to: number): boolean {
    for (let e = from; e <= to; e++) if (this.#durability.lost(e)) return true;
    return false;
  }

  #write(bytes: Uint8Array): void {
    this.#wire.write(bytes).then(
      (n) => n < bytes.length ? this.#write(bytes.subarray(n)) : this.#afterWrite(),
      () => {
        this.#writing = false;
        this.abort();
      },
    );
  }

  #afterWrite(): void {
    this.#drained();
    this.#flush();
  }

  #drained(): void {
    if (this.#drainWaiters.length === 0 || (this.pressured && !this.#closed)) return;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const w of waiters) w();
  }

  /**
   * Queues `byeText` and closes once everything queued is written. Nothing
   * more is queued after it.
   */
  close(byeText: string): void {
    if (this.closing) return;
    this.#push({ text: byeText });
    this.#closeAfterFlush = true;
    if (!this.#writing) this.abort();
  }

  /** True once a close has been asked for and is waiting for the queue to drain. */
  get closingAfterFlush(): boolean {
    return this.#closeAfterFlush && !this.#closed;
  }

  /** Gives up now: drops what is queued and tells the session (once). */
  abort(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.#bytes = 0;
    this.#frames = 0;
    this.#tailRun = undefined;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const w of waiters) w();
    this.#hooks.aborted();
  }
}

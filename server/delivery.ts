/**
 * Delivery from the store: where each of a logged-in user's message streams
 * stands (their private inbox and every group they joined), which pushes go
 * out live, and the catch-up that fetches from the store what a session did
 * not get live — its backlog at login, and whatever it skipped while it was
 * not reading fast enough. Nothing is marked delivered until the client
 * acknowledges it (an `ack` frame, or an IRC PONG after the lines).
 *
 * Per stream: `sent` is the highest number queued to the client, `acked` the
 * highest it acknowledged, `saved` the highest written to the store's cursor.
 * A live message is queued only when it is the next one (`seq === sent + 1`)
 * and the outbox is not over its high-water mark; otherwise the stream is
 * marked lagging and the catch-up pages through the store from `sent`. A gap
 * (a push that arrives before an earlier one, possible between cluster nodes)
 * is therefore harmless.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import { BACKLOG_PAGE_MESSAGES, GROUP_REPLAY_MAX } from "../shared/limits.ts";
import type { AckFrame, ServerEvent } from "../shared/protocol.ts";
import { formatTimestamp } from "../shared/time.ts";
import type { Outbox, SharedRun } from "./outbox.ts";
import type { ChatStore, Cursors, GroupMessage, PrivateMessage } from "./ports.ts";

/** The key of the private inbox among a user's streams (group names are never empty). */
const INBOX = "";

interface Stream {
  sent: number;
  acked: number;
  saved: number;
  lagging: boolean;
  /** The highest number skipped while lagging: the catch-up goes at least this far. */
  skippedTo: number;
  /** Set for a backlog at login: a group's first page replays at most GROUP_REPLAY_MAX. */
  fresh: boolean;
}

/** One message as an event, marked as fetched from the store. */
export function privateEvent(m: PrivateMessage, queued?: boolean): ServerEvent {
  return {
    ev: "msg",
    seq: m.n,
    from: m.sender,
    ts: formatTimestamp(m.at),
    at: m.at,
    text: m.text,
    ...(queued ? { queued } : {}),
  };
}

/** One group message as an event. */
export function groupEvent(m: GroupMessage, queued?: boolean): ServerEvent {
  return {
    ev: "groupmsg",
    group: m.group,
    seq: m.seq,
    from: m.sender,
    ts: formatTimestamp(m.at),
    at: m.at,
    text: m.text,
    ...(queued ? { queued } : {}),
  };
}

/** What a {@link Delivery} is given. */
export interface DeliveryOptions {
  user: string;
  store: ChatStore;
  outbox: Outbox;
  cursors: Cursors;
  log: Logger;
  /** Keeps the cursors: told whenever an acknowledgement moved one. */
  saver: CursorSaver;
}

/** A logged-in session's message streams. */
export class Delivery {
  readonly user: string;
  readonly #store: ChatStore;
  readonly #outbox: Outbox;
  readonly #log: Logger;
  readonly #saver: CursorSaver;
  readonly #streams = new Map<string, Stream>();
  #catchingUp = false;
  #stopped = false;
  /** Set when a resync is asked for while one runs. */
  #resyncAgain = false;

  constructor(options: DeliveryOptions) {
    this.user = options.user;
    this.#store = options.store;
    this.#outbox = options.outbox;
    this.#log = options.log;
    this.#saver = options.saver;
    this.#load(options.cursors);
  }

  #load(cursors: Cursors): void {
    this.#streams.clear();
    this.#streams.set(INBOX, stream(cursors.inbox));
    for (const [group, seq] of cursors.groups) this.#streams.set(group, stream(seq));
  }

  /** Streams everything after the cursors, as the session's backlog. */
  start(): void {
    for (const s of this.#streams.values()) s.lagging = s.fresh = true;
    this.#catchUp();
  }

  /** Stops all work (the session ended); the saver writes the last cursors. */
  stop(): void {
    this.#stopped = true;
  }

  /** Decides for one live message: true when it is to be queued now. */
  offer(event: ServerEvent & { ev: "msg" | "groupmsg" }, pressured: boolean): boolean {
    const s = this.#streams.get(event.ev === "msg" ? INBOX : event.group);
    if (s === undefined || event.seq <= s.sent) return false;
    if (s.lagging || pressured || event.seq !== s.sent + 1) {
      this.#lag(s, event.seq);
      return false;
    }
    s.sent = event.seq;
    return true;
  }

  /** Decides for a run of group messages; `runSent` follows once it is settled. */
  offerRun(run: SharedRun, pressured: boolean): boolean {
    const s = this.#streams.get(run.group);
    if (s === undefined || run.lastSeq <= s.sent) return false;
    if (s.lagging || pressured || run.firstSeq !== s.sent + 1) {
      this.#lag(s, run.lastSeq);
      return false;
    }
    return true;
  }

  /** A run the outbox queued is settled: its messages are queued. */
  runSent(run: SharedRun): void {
    const s = this.#streams.get(run.group);
    if (s !== undefined && run.lastSeq > s.sent) s.sent = run.lastSeq;
  }

  /** The user sent `seq` to `group`: it counts as delivered to them. */
  ownMessage(group: string, seq: number): void {
    this.#outbox.settle();
    const s = this.#streams.get(group);
    if (s !== undefined && !s.lagging && s.sent === seq - 1) s.sent = seq;
  }

  /** The user joined `group`: its stream starts after its newest message. */
  subscribe(group: string, lastSeq: number): void {
    this.#streams.set(group, stream(lastSeq));
  }

  /** The user left `group`. */
  unsubscribe(group: string): void {
    this.#streams.delete(group);
  }

  /** Applies the client's acknowledgement (never beyond what was sent). */
  ack(frame: Omit<AckFrame, "t">): void {
    let moved = false;
    const apply = (key: string, seq: number) => {
      const s = this.#streams.get(key);
      if (s === undefined) return;
      const upTo = Math.min(seq, s.sent);
      if (upTo > s.acked) {
        s.acked = upTo;
        moved = true;
      }
    };
    if (frame.inbox !== undefined) apply(INBOX, frame.inbox);
    for (const [group, seq] of Object.entries(frame.groups ?? {})) {
      if (group !== INBOX) apply(group, seq);
    }
    if (moved) this.#saver.dirty(this);
  }

  /** Acknowledges everything queued so far (a front end that confirms by other means). */
  ackAllSent(): void {
    let moved = false;
    for (const s of this.#streams.values()) {
      if (s.sent > s.acked) {
        s.acked = s.sent;
        moved = true;
      }
    }
    if (moved) this.#saver.dirty(this);
  }

  /** Where every stream stands, by key (`""` for the inbox). */
  positions(): Map<string, { sent: number; acked: number }> {
    return new Map([...this.#streams].map(([k, s]) => [k, { sent: s.sent, acked: s.acked }]));
  }

  /** The acknowledgements not yet saved, marked saved. */
  takeUnsaved(): { inbox: number | undefined; groups: [string, number][] } {
    let inbox: number | undefined;
    const groups: [string, number][] = [];
    for (const [key, s] of this.#streams) {
      if (s.acked <= s.saved) continue;
      s.saved = s.acked;
      if (key === INBOX) inbox = s.acked;
      else groups.push([key, s.acked]);
    }
    return { inbox, groups };
  }

  /**
   * Starts over from the client's acknowledgements: frames the outbox counted
   * as sent were not (the store undid the writes they depended on).
   */
  resync(): void {
    if (this.#stopped) return;
    if (this.#catchingUp) {
      this.#resyncAgain = true;
      return;
    }
    this.#store.cursors(this.user).then((cursors) => {
      if (this.#stopped) return;
      const acked = new Map([...this.#streams].map(([k, s]) => [k, s.acked]));
      this.#load(cursors);
      for (const [k, s] of this.#streams) {
        const a = Math.max(s.acked, acked.get(k) ?? 0);
        s.sent = s.acked = a;
      }
      this.start();
    }, (e) => this.#failed(e));
  }

  #lag(s: Stream, seq: number): void {
    s.lagging = true;
    if (seq > s.skippedTo) s.skippedTo = seq;
    this.#catchUp();
  }

  #failed(e: unknown): void {
    this.#log.error("Cannot fetch missed messages of {user}: {error}", {
      user: this.user,
      error: e instanceof Error ? e.message : String(e),
    });
    // The messages stay undelivered in the store; the next login or lag retries.
  }

  /** Pages through the store for every lagging stream while the outbox has room. */
  #catchUp(): void {
    if (this.#catchingUp || this.#stopped) return;
    this.#catchingUp = true;
    this.#catchUpLoop().then(
      () => this.#catchUpDone(),
      (e) => {
        this.#failed(e);
        this.#catchUpDone();
      },
    );
  }

  #catchUpDone(): void {
    this.#catchingUp = false;
    if (this.#resyncAgain) {
      this.#resyncAgain = false;
      this.resync();
    }
  }

  async #catchUpLoop(): Promise<void> {
    while (!this.#stopped && !this.#outbox.closing) {
      if (this.#outbox.pressured) {
        await this.#outbox.whenDrained();
        continue;
      }
      const next = [...this.#streams].find(([, s]) => s.lagging);
      if (next === undefined) return;
      const [key, s] = next;
      const full = key === INBOX ? await this.#inboxPage(s) : await this.#groupPage(key, s);
      if (!full && s.sent >= s.skippedTo && this.#streams.get(key) === s) s.lagging = false;
      // The others' turn next: a stream that stays behind (live traffic keeps
      // arriving while its pages are fetched) must not starve the other streams.
      if (s.lagging && this.#streams.get(key) === s) {
        this.#streams.delete(key);
        this.#streams.set(key, s);
      }
    }
  }

  /** Queues the next page of the inbox; true when it was full (there may be more). */
  async #inboxPage(s: Stream): Promise<boolean> {
    const page = await this.#store.inbox(this.user, s.sent, BACKLOG_PAGE_MESSAGES);
    for (const m of page) {
      if (m.n <= s.sent) continue;
      s.sent = m.n;
      this.#outbox.queueFetched(privateEvent(m, true));
    }
    return page.length === BACKLOG_PAGE_MESSAGES;
  }

  /** Queues the next page of a group; skips (and counts) what is beyond the replay bound. */
  async #groupPage(group: string, s: Stream): Promise<boolean> {
    if (s.fresh) {
      // The backlog of a login: replay at most GROUP_REPLAY_MAX, count the rest.
      s.fresh = false;
      const info = await this.#store.getGroup(group);
      if (info === undefined) {
        this.#streams.delete(group);
        return false;
      }
      const missed = info.lastSeq - s.sent;
      if (missed > GROUP_REPLAY_MAX) {
        const skipped = missed - GROUP_REPLAY_MAX;
        s.sent += skipped;
        this.#outbox.queueFetched({
          ev: "notice",
          text: `${skipped} earlier messages in ${group} while you were away: /history ${group}`,
        });
      }
    }
    const page = await this.#store.groupMessages(group, s.sent, BACKLOG_PAGE_MESSAGES);
    for (const m of page) {
      if (m.seq <= s.sent) continue;
      s.sent = m.seq;
      if (m.sender !== this.user) this.#outbox.queueFetched(groupEvent(m, true));
    }
    return page.length === BACKLOG_PAGE_MESSAGES;
  }
}

function stream(cursor: number): Stream {
  return { sent: cursor, acked: cursor, saved: cursor, lagging: false, skippedTo: 0, fresh: false };
}

/** How often acknowledged cursors are written to the store. */
export const CURSOR_SAVE_INTERVAL_MS = 1000;

/**
 * Writes acknowledged cursors to the store in batches: every
 * {@link CURSOR_SAVE_INTERVAL_MS}, and at once when a session ends.
 */
export class CursorSaver {
  readonly #store: ChatStore;
  readonly #log: Logger;
  readonly #dirty = new Set<Delivery>();
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(store: ChatStore, log: Logger) {
    this.#store = store;
    this.#log = log;
  }

  /** `d` has acknowledgements to save. */
  dirty(d: Delivery): void {
    this.#dirty.add(d);
    if (this.#timer === undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.flush();
      }, CURSOR_SAVE_INTERVAL_MS);
      Deno.unrefTimer(this.#timer);
    }
  }

  /** Saves one session's cursors now (it is ending). */
  async save(d: Delivery): Promise<void> {
    this.#dirty.delete(d);
    await this.#write(d);
  }

  /** Saves every pending cursor. */
  async flush(): Promise<void> {
    const all = [...this.#dirty];
    this.#dirty.clear();
    await Promise.all(all.map((d) => this.#write(d)));
  }

  async #write(d: Delivery): Promise<void> {
    const { inbox, groups } = d.takeUnsaved();
    if (inbox === undefined && groups.length === 0) return;
    try {
      await this.#store.saveCursors(d.user, inbox, groups);
    } catch (e) {
      // Only re-delivery follows: the messages after the old cursor are sent again.
      this.#log.warn("Cannot save the delivery cursors of {user}: {error}", {
        user: d.user,
        error: e instanceof Error ? e.message : String(e),
      });
    }
  }

  /** Stops the timer and saves what is pending. */
  async close(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.flush();
  }
}

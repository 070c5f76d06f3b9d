/**
 * Who is online and how to reach them. One in-process implementation today;
 * the interface is what a multi-node deployment would replace.
 *
 * @module
 */

/** Where a logged-in user's frames go: the session's bounded send queue. */
export interface Outbox {
  /** Queues a frame (its JSON line) for the user; false when the session is gone or was cut off. */
  send(line: string): boolean;
  /**
   * Queues a {@link SharedRun}: its frames so far and any added while it stays
   * open. The outbox closes the run as soon as anything else is queued after
   * it or the queue is taken for writing, so frames never change order.
   */
  sendRun(run: SharedRun): boolean;
}

/** Most frames and bytes one {@link SharedRun} takes before a new one is started. */
const MAX_RUN_FRAMES = 256;
const MAX_RUN_BYTES = 64 * 1024;

/**
 * Frames queued for several sessions at once: consecutive pushes to the same
 * recipients (a burst of messages to one group). The first push queues the
 * run in every recipient's outbox; later ones, while the run is open, are
 * added to it once instead of to each of N queues. A run closes when any of
 * its outboxes queues something else or takes its queue for writing, or when
 * it is full; from then on it never changes, so every recipient can be sent
 * the same bytes.
 */
export class SharedRun {
  /** JSON lines. */
  readonly frames: string[];
  /** Their total length in UTF-16 code units (bytes, for ASCII text). */
  size: number;
  closed = false;
  #encoded: Uint8Array | undefined;

  constructor(first: string) {
    this.frames = [first];
    this.size = first.length;
  }

  /** Adds a frame; false when the run is closed or full (start a new one). */
  add(frame: string): boolean {
    if (
      this.closed || this.frames.length >= MAX_RUN_FRAMES ||
      this.size + frame.length > MAX_RUN_BYTES
    ) {
      return false;
    }
    this.frames.push(frame);
    this.size += frame.length;
    return true;
  }

  /** The frames encoded as one buffer, built once for all recipients; closes the run. */
  encoded(): Uint8Array {
    this.closed = true;
    return this.#encoded ??= encoder.encode(this.frames.join(""));
  }
}

const encoder = new TextEncoder();

/** One online user. */
export interface PresenceEntry {
  user: string;
  ip: string;
  udpPort: number;
  /** When the session logged in (ms since epoch). */
  since: number;
}

/** Presence and routing of pushes to online users. */
export interface Presence {
  /** Marks a user online; false when they already are (a second login). */
  join(entry: PresenceEntry, outbox: Outbox): boolean;
  /** Marks a user offline, only if `outbox` is the session that joined. */
  leave(user: string, outbox: Outbox): boolean;
  get(user: string): PresenceEntry | undefined;
  /** Online users in login order. */
  list(): PresenceEntry[];
  /** Queues a frame (its JSON line) for an online user; false when they are offline. */
  deliver(user: string, line: string): boolean;
  /**
   * Queues the same frames for every online user of `users` but `except`.
   * Consecutive calls with the same `users` array (the same object: a
   * group's cached member list) add to one {@link SharedRun} while it is
   * open and nobody has logged in or out since.
   */
  deliverAll(users: readonly string[], line: string, except?: string): void;
}

/** {@link Presence} for a single server process. */
export class LocalPresence implements Presence {
  readonly #online = new Map<string, { entry: PresenceEntry; outbox: Outbox }>();
  /** The run of the last deliverAll(), and what it was for. */
  #run: SharedRun | undefined;
  #runUsers: readonly string[] | undefined;
  #runExcept: string | undefined;

  join(entry: PresenceEntry, outbox: Outbox): boolean {
    if (this.#online.has(entry.user)) return false;
    this.#online.set(entry.user, { entry, outbox });
    // A user who comes online must get the next push: no adding to a run they are not in.
    this.#run = undefined;
    return true;
  }

  leave(user: string, outbox: Outbox): boolean {
    const current = this.#online.get(user);
    if (!current || current.outbox !== outbox) return false;
    this.#online.delete(user);
    this.#run = undefined;
    return true;
  }

  get(user: string): PresenceEntry | undefined {
    return this.#online.get(user)?.entry;
  }

  list(): PresenceEntry[] {
    return [...this.#online.values()].map((v) => v.entry);
  }

  deliver(user: string, line: string): boolean {
    return this.#online.get(user)?.outbox.send(line) ?? false;
  }

  deliverAll(users: readonly string[], line: string, except?: string): void {
    if (
      this.#run !== undefined && users === this.#runUsers && except === this.#runExcept &&
      this.#run.add(line)
    ) {
      return;
    }
    const run = new SharedRun(line);
    this.#run = run;
    this.#runUsers = users;
    this.#runExcept = except;
    for (const user of users) {
      if (user !== except) this.#online.get(user)?.outbox.sendRun(run);
    }
  }
}

/**
 * Who is online and how to reach them. One in-process implementation today;
 * the interface is what a multi-node deployment would replace.
 *
 * @module
 */

/** Where a logged-in user's frames go: the session's bounded send queue. */
export interface Outbox {
  /** Queues bytes for the user; false when the session is gone or was cut off. */
  send(bytes: Uint8Array): boolean;
}

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
  /** Queues bytes for an online user; false when they are offline. */
  deliver(user: string, bytes: Uint8Array): boolean;
}

/** {@link Presence} for a single server process. */
export class LocalPresence implements Presence {
  readonly #online = new Map<string, { entry: PresenceEntry; outbox: Outbox }>();

  join(entry: PresenceEntry, outbox: Outbox): boolean {
    if (this.#online.has(entry.user)) return false;
    this.#online.set(entry.user, { entry, outbox });
    return true;
  }

  leave(user: string, outbox: Outbox): boolean {
    const current = this.#online.get(user);
    if (!current || current.outbox !== outbox) return false;
    this.#online.delete(user);
    return true;
  }

  get(user: string): PresenceEntry | undefined {
    return this.#online.get(user)?.entry;
  }

  list(): PresenceEntry[] {
    return [...this.#online.values()].map((v) => v.entry);
  }

  deliver(user: string, bytes: Uint8Array): boolean {
    return this.#online.get(user)?.outbox.send(bytes) ?? false;
  }
}

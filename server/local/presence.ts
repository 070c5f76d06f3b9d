/**
 * Who is online and how to reach them, for a single server process: the
 * in-process {@link Directory} and {@link Router}. A cluster node uses a
 * {@link LocalRouter} for its own sessions and adds the bus for the others
 * (`server/cluster/`).
 *
 * @module
 */

import type { ServerEvent } from "../../shared/protocol.ts";
import { SharedRun } from "../outbox.ts";
import type { DeliverySink, Directory, PresenceEntry, Router } from "../ports.ts";

/** {@link Directory} of one process: a map in login order. */
export class LocalDirectory implements Directory {
  readonly #online = new Map<string, PresenceEntry>();

  claim(entry: PresenceEntry): Promise<boolean> {
    if (this.#online.has(entry.user)) return Promise.resolve(false);
    this.#online.set(entry.user, { ...entry });
    return Promise.resolve(true);
  }

  release(user: string, since: number): Promise<void> {
    if (this.#online.get(user)?.since === since) this.#online.delete(user);
    return Promise.resolve();
  }

  lookup(user: string): Promise<PresenceEntry | undefined> {
    return Promise.resolve(this.#online.get(user));
  }

  /** {@link lookup} without a promise, for callers in this process. */
  get(user: string): PresenceEntry | undefined {
    return this.#online.get(user);
  }

  list(): Promise<PresenceEntry[]> {
    return Promise.resolve([...this.#online.values()]);
  }

  setAway(user: string, text: string | undefined): Promise<void> {
    const entry = this.#online.get(user);
    if (entry !== undefined) {
      if (text === undefined) delete entry.away;
      else entry.away = text;
    }
    return Promise.resolve();
  }
}

/** The epoch of the store writes an event depends on (for {@link SharedRun}). */
export type EpochSource = { readonly epoch: number };

/**
 * {@link Router} to the sessions of this process. Consecutive group messages
 * to the same member array share one {@link SharedRun}: queued once in each
 * member's outbox, then added to once per message instead of once per member,
 * while the run is open and nobody logged in or out since.
 */
export class LocalRouter implements Router {
  readonly #sinks = new Map<string, DeliverySink>();
  readonly #epochs: EpochSource;
  /** The run of the last toUsers(), and what it was for. */
  #run: SharedRun | undefined;
  #runUsers: readonly string[] | undefined;
  #runExcept: string | undefined;

  /** @param epochs the store, whose epoch each run entry records */
  constructor(epochs: EpochSource) {
    this.#epochs = epochs;
  }

  attach(user: string, sink: DeliverySink): void {
    this.#sinks.set(user, sink);
    // A user who comes online must get the next push: no adding to a run they are not in.
    this.#run = undefined;
  }

  detach(user: string, sink: DeliverySink): void {
    if (this.#sinks.get(user) !== sink) return;
    this.#sinks.delete(user);
    this.#run = undefined;
  }

  /** True when `user` has a session here. */
  has(user: string): boolean {
    return this.#sinks.has(user);
  }

  toUser(user: string, event: ServerEvent): Promise<boolean> {
    return Promise.resolve(this.deliverHere(user, event));
  }

  /** {@link toUser} without a promise. */
  deliverHere(user: string, event: ServerEvent): boolean {
    return this.#sinks.get(user)?.deliver(event) ?? false;
  }

  toUsers(users: readonly string[], event: ServerEvent, except?: string): void {
    if (event.ev !== "groupmsg") {
      for (const user of users) if (user !== except) this.#sinks.get(user)?.deliver(event);
      return;
    }
    const epoch = this.#epochs.epoch;
    if (
      this.#run !== undefined && users === this.#runUsers && except === this.#runExcept &&
      this.#run.add(event, epoch)
    ) {
      return;
    }
    const run = new SharedRun(event, epoch);
    this.#run = run;
    this.#runUsers = users;
    this.#runExcept = except;
    let shared = true;
    for (const user of users) {
      if (user === except) continue;
      const sink = this.#sinks.get(user);
      if (sink === undefined) continue;
      if (sink.deliverRun) {
        sink.deliverRun(run);
      } else {
        sink.deliver(event);
        shared = false;
      }
    }
    // A sink that took the event alone would miss what is added to the run later.
    if (!shared) this.#run = undefined;
  }
}

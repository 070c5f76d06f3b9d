/**
 * The interfaces the command layer sees: durable state ({@link ChatStore}), who
 * is online ({@link Directory}), delivery of events to sessions ({@link Router})
 * and login failures ({@link Throttle}). All asynchronous, so that one
 * implementation can live in the process (`server/local/`: SQLite and maps, the
 * embedded default) and another on shared engines (`server/cluster/`:
 * PostgreSQL and Redis). `tests/ports/` runs one conformance suite per port
 * against every implementation.
 *
 * Delivery model (docs/protocol.md § Delivery): every message to a user belongs
 * to a *stream* with contiguous sequence numbers — the user's private inbox
 * (`n` of {@link PrivateMessage}, per receiver) or a group (`seq` of
 * {@link GroupMessage}, per group). A member's *cursor* in a stream is the last
 * number its client acknowledged; everything after it is undelivered and is
 * sent again at the next login. Cursors only move forward.
 *
 * @module
 */

import type { ServerEvent } from "../shared/protocol.ts";
import type { SharedRun } from "./outbox.ts";

/** A stored private message. */
export interface PrivateMessage {
  /** Line number in `messagelog.txt`: from 1, across all users, no gaps. */
  seq: number;
  /** Number in the receiver's inbox stream: from 1 per receiver, no gaps. */
  n: number;
  /** When it was sent (ms since the epoch). */
  at: number;
  sender: string;
  receiver: string;
  text: string;
}

/** A stored group message. */
export interface GroupMessage {
  group: string;
  /** Line number in `GROUP_messagelog.txt` and number in the group's stream: from 1 per group. */
  seq: number;
  at: number;
  sender: string;
  text: string;
}

/** A user's place in a group. */
export type MembershipState = "invited" | "joined";

/** A group with its members. Read-only: a store may hand out its cached copy. */
export interface GroupInfo {
  /** The name as created (lookups are case-insensitive). */
  readonly name: string;
  readonly creator: string;
  readonly createdAt: number;
  /** The group's topic, when one was set. */
  readonly topic?: string;
  /** The seq of the group's newest message (0 when none). */
  readonly lastSeq: number;
  readonly members: ReadonlyMap<string, MembershipState>;
  /** Who invited each invited member. */
  readonly invitedBy: ReadonlyMap<string, string>;
  /**
   * The members who have joined, in membership order. The same array object
   * while the membership does not change: routers use its identity to share
   * one run of pushes among the members (see `server/outbox.ts` SharedRun).
   */
  readonly joined: readonly string[];
}

/** One of a user's groups, as `/groups` lists them. */
export interface UserGroup {
  group: string;
  state: MembershipState;
  /** For an invitation: who sent it. */
  invitedBy?: string;
}

/** A name in the one namespace shared by users and groups. */
export interface NameEntry {
  kind: "user" | "group";
  /** The canonical spelling. */
  name: string;
}

/** Where a user's streams stand: the last acknowledged number of each. */
export interface Cursors {
  /** The private inbox. */
  inbox: number;
  /** Each joined group (by canonical name). */
  groups: ReadonlyMap<string, number>;
}

/** What {@link ChatStore.addPrivateMessage} is given. */
export type NewPrivateMessage = Omit<PrivateMessage, "seq" | "n">;

/** What {@link ChatStore.addGroupMessage} is given. */
export type NewGroupMessage = Omit<GroupMessage, "seq">;

/**
 * The authoritative state: accounts, groups, memberships, message history,
 * delivery cursors. The store also keeps the text logs of SPEC §4 in line with
 * itself (or, in a cluster, leaves that to the node that writes them).
 *
 * Writes may be grouped: a write resolves once it is ordered and numbered,
 * and is durable once a later {@link barrier} has resolved. Nothing is
 * acknowledged to a client before the barrier that covers it.
 */
export interface ChatStore {
  getPasswordHash(user: string): Promise<string | undefined>;
  setPasswordHash(user: string, hash: string, at: number): Promise<void>;
  /** Registered users, by name. */
  listUsers(): Promise<string[]>;
  /** True when `user` is a registered user (exact spelling). */
  userExists(user: string): Promise<boolean>;
  /** The user or group whose name matches `name` case-insensitively. */
  lookupName(name: string): Promise<NameEntry | undefined>;
  getMeta(key: string): Promise<string | undefined>;
  setMeta(key: string, value: string): Promise<void>;

  /** Stores a private message and numbers it in the log and in the receiver's inbox. */
  addPrivateMessage(m: NewPrivateMessage): Promise<PrivateMessage>;
  /** The receiver's messages numbered after `afterN`, oldest first, at most `limit`. */
  inbox(user: string, afterN: number, limit: number): Promise<PrivateMessage[]>;
  /**
   * The last `limit` private messages between `a` and `b` (either way) with a
   * log number below `beforeSeq` (default: all), oldest first.
   */
  privateHistory(
    a: string,
    b: string,
    limit: number,
    beforeSeq?: number,
  ): Promise<PrivateMessage[]>;

  /** The group whose name matches case-insensitively. */
  getGroup(name: string): Promise<GroupInfo | undefined>;
  /**
   * Creates a group with `creator` joined and `invitees` invited by them.
   *
   * @returns false when the name is taken by a user or a group (case-insensitively).
   */
  createGroup(name: string, creator: string, invitees: string[], at: number): Promise<boolean>;
  /** Invites `user` (by `by`); no change when they are already a member or invited. */
  invite(group: string, user: string, by: string): Promise<void>;
  /** Makes an invited `user` a joined member; their cursor starts at the group's newest message. */
  join(group: string, user: string): Promise<void>;
  /** Removes `user` from `group` (joined or invited); false when they were not in it. */
  leave(group: string, user: string): Promise<boolean>;
  setTopic(group: string, topic: string): Promise<void>;
  /** The groups `user` belongs to or is invited to, by name. */
  groupsOf(user: string): Promise<UserGroup[]>;
  /** Every group, by name. */
  listGroups(): Promise<string[]>;
  /** Stores a group message and numbers it in the group's stream. */
  addGroupMessage(m: NewGroupMessage): Promise<GroupMessage>;
  /** The group's messages numbered after `afterSeq`, oldest first, at most `limit`. */
  groupMessages(group: string, afterSeq: number, limit: number): Promise<GroupMessage[]>;
  /** The last `limit` messages of a group numbered below `beforeSeq` (default: all), oldest first. */
  groupHistory(group: string, limit: number, beforeSeq?: number): Promise<GroupMessage[]>;

  /** Where `user`'s streams stand (their inbox and every group they joined). */
  cursors(user: string): Promise<Cursors>;
  /**
   * Moves `user`'s cursors forward (never back) to what their client
   * acknowledged. May be written lazily: a cursor lost in a crash only means
   * the messages after it are sent again.
   */
  saveCursors(
    user: string,
    inbox: number | undefined,
    groups: Iterable<[string, number]>,
  ): Promise<void>;

  /**
   * Resolves once every write made so far is durable (the local store commits
   * its open group of writes here). Rejects when they could not be made
   * durable; those writes are then undone, and the store keeps working for
   * later writes (a full disk that is freed again).
   */
  barrier(): void | Promise<void>;
  /**
   * The number of the group of writes now open; it changes at every barrier.
   * A store whose writes are durable when they resolve may keep it at 0.
   */
  readonly epoch: number;
  /** True when the group of writes numbered `epoch` was undone (see {@link barrier}). */
  lost(epoch: number): boolean;
  /** Counts writes made (any monotonic number): tells whether a request wrote anything. */
  readonly writes: number;

  /** Makes everything durable, then closes. */
  close(): Promise<void>;
}

/** One online user. */
export interface PresenceEntry {
  user: string;
  /** The address the user connected from, as the server saw it. */
  ip: string;
  /** The UDP port announced for incoming files (0 for front ends without UDP). */
  udpPort: number;
  /** When the session logged in (ms since the epoch). */
  since: number;
  /** The front door the user came in by. */
  frontend: "native" | "irc";
  /** The server node holding the session (`local` on a single node). */
  node: string;
  /** The user's away text, when set. */
  away?: string;
}

/**
 * Who is online, anywhere. A user is online at most once: a second claim is
 * refused while the first session lives.
 */
export interface Directory {
  /** Marks a user online; false when they already are (on any node). */
  claim(entry: PresenceEntry): Promise<boolean>;
  /** Marks a user offline, only if `since` is their current entry's (the session that claimed). */
  release(user: string, since: number): Promise<void>;
  lookup(user: string): Promise<PresenceEntry | undefined>;
  /** Everyone online, in login order. */
  list(): Promise<PresenceEntry[]>;
  /** Sets or (undefined) clears the user's away text. */
  setAway(user: string, text: string | undefined): Promise<void>;
}

/**
 * A session's side of delivery: the outbox (`server/outbox.ts`) implements it.
 * Calls never block; false means the session did not take the event (it is
 * closing, or it will fetch a durable event from the store itself).
 */
export interface DeliverySink {
  /** The event for this session. */
  deliver(event: ServerEvent): boolean;
  /**
   * A run of group messages shared with other sessions (local routers only;
   * see `server/outbox.ts`): queued whole, and later messages of the group
   * are added to it while it stays open.
   */
  deliverRun?(run: SharedRun): boolean;
}

/**
 * Delivery of events to online users: to a session of this process, or over
 * the bus to the node that holds it.
 */
export interface Router {
  /** The session of `user` on this node starts taking events. */
  attach(user: string, sink: DeliverySink): void;
  /** It stops, if `sink` is still the attached one. */
  detach(user: string, sink: DeliverySink): void;
  /** Delivers to one user; true when they are online (here or on another node). */
  toUser(user: string, event: ServerEvent): Promise<boolean>;
  /**
   * Delivers the same event to every online user of `users` but `except`.
   * Pass a group's `joined` array as is: consecutive calls with the same array
   * may share one run of frames among the sessions (see `server/outbox.ts`).
   */
  toUsers(users: readonly string[], event: ServerEvent, except?: string): void;
}

/** The outcome of a login attempt's reservation ({@link Throttle.reserve}). */
export type Reservation =
  /** Check the password now, then {@link Throttle.settle} with the result. */
  | { kind: "go" }
  /** The username is blocked; nothing may be checked. */
  | { kind: "blocked"; retryAfterMs: number }
  /** Other checks of this username are under way and could block it: ask again shortly. */
  | { kind: "wait" }
  /** The address has failed too often lately; nothing was counted against the user. */
  | { kind: "address_limited"; retryAfterMs: number };

/** What a settled password check did to the username (`unchecked` settles as `failed`, uncounted). */
export type LoginVerdict = "ok" | "failed" | "now_blocked";

/**
 * Consecutive login failures per username (SPEC §2) and per address. At most
 * `maxAttempts` passwords of one username are ever checked per block window,
 * however many logins run at once: a check needs a reservation, and
 * reservations plus failures never exceed the limit.
 */
export interface Throttle {
  /** Milliseconds left of the username's block; 0 when it is not blocked. */
  blockedFor(user: string): Promise<number>;
  /** Asks to check one password of `user` from `ip`. */
  reserve(user: string, ip: string): Promise<Reservation>;
  /**
   * Settles a `go` reservation: a success resets the username's count; a
   * failure counts against the username and the address, and may block;
   * `unchecked` (the check could not run) only gives the reservation back.
   */
  settle(user: string, ip: string, outcome: "ok" | "failed" | "unchecked"): Promise<LoginVerdict>;
  /** Counts a failed lookup of an unknown username against the address. */
  unknownUser(ip: string): Promise<void>;
  /** Milliseconds left of the address's limit; 0 when it may try logins. */
  addressBlockedFor(ip: string): Promise<number>;
}

/**
 * Thrown by a port whose engine cannot be reached right now (a cluster's
 * PostgreSQL or Redis): the request fails with this one-line message, nothing
 * was changed, and a later request tries again.
 */
export class UnavailableError extends Error {
  constructor(
    /** Which engine: the durable store or the shared presence. */
    readonly engine: "database" | "presence",
    cause?: unknown,
  ) {
    super(
      `The server cannot reach its ${
        engine === "database" ? "database" : "presence service"
      } right now. Please try again in a moment.`,
      { cause },
    );
    this.name = "UnavailableError";
  }
}

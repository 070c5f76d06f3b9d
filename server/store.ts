/**
 * The authoritative state: accounts, groups, invitations, memberships, message
 * history and queued offline messages, in one SQLite database (`node:sqlite`,
 * WAL mode) with a versioned schema.
 *
 * @module
 */

import { DatabaseSync, type StatementSync } from "node:sqlite";
import { clearImmediate, setImmediate } from "node:timers";

/** A stored private message. */
export interface PrivateMessage {
  /** Line number in `messagelog.txt`, from 1 across all users. */
  seq: number;
  at: number;
  sender: string;
  receiver: string;
  text: string;
  delivered: boolean;
}

/** A stored group message. */
export interface GroupMessage {
  group: string;
  /** Line number in `GROUP_messagelog.txt`, from 1 per group. */
  seq: number;
  at: number;
  sender: string;
  text: string;
}

/** A user's place in a group. */
export type MembershipState = "invited" | "joined";

/** A group with its members. Read-only: the store may hand out its cached copy. */
export interface GroupInfo {
  readonly name: string;
  readonly creator: string;
  readonly createdAt: number;
  readonly members: ReadonlyMap<string, MembershipState>;
  /** The members who have joined, in membership order (kept, not rebuilt per message). */
  readonly joined: readonly string[];
}

/**
 * What the server needs from its storage. One in-process implementation today
 * ({@link SqliteStore}); the interface keeps the command layer independent of it.
 */
export interface ChatStore {
  getPasswordHash(user: string): string | undefined;
  setPasswordHash(user: string, hash: string, at: number): void;
  listUsers(): string[];
  userExists(user: string): boolean;
  getMeta(key: string): string | undefined;
  setMeta(key: string, value: string): void;

  /** Stores a private message and returns it with its log number. */
  addPrivateMessage(m: Omit<PrivateMessage, "seq">): PrivateMessage;
  /** Messages stored for `user` while offline, oldest first. */
  undelivered(user: string): PrivateMessage[];
  markDelivered(seqs: number[]): void;
  /** Queues a message again whose push could not be handed to the receiver's session. */
  markUndelivered(seq: number): void;
  privateMessages(afterSeq?: number): Iterable<PrivateMessage>;

  getGroup(name: string): GroupInfo | undefined;
  /** Creates a group; false when the name is taken. */
  createGroup(name: string, creator: string, invitees: string[], at: number): boolean;
  setMembership(group: string, user: string, state: MembershipState): void;
  listGroups(): string[];
  addGroupMessage(m: Omit<GroupMessage, "seq">): GroupMessage;
  groupMessages(group: string): Iterable<GroupMessage>;

  /** The last `limit` private messages between `a` and `b` (either way), oldest first. */
  privateHistory(a: string, b: string, limit: number): PrivateMessage[];
  /** The last `limit` messages of a group, oldest first. */
  groupHistory(group: string, limit: number): GroupMessage[];
  /** The groups `user` belongs to or is invited to, by name. */
  groupsOf(user: string): { group: string; state: MembershipState }[];
  /** Removes `user` from `group`; false when they were not in it. */
  removeMembership(group: string, user: string): boolean;

  /**
   * Makes every write so far durable. Writes made in one event-loop turn are
   * grouped into one transaction; the server calls this before it sends any
   * reply, so nothing is acknowledged before it is committed. Uncommitted
   * writes are committed at the end of the turn anyway.
   *
   * @throws {Error} when the commit fails; the store then refuses every later
   * commit too, so that no reply to a lost write can go out.
   */
  commit(): void;

  /** Commits, then closes. */
  close(): void;
}

/** Each entry moves the schema from version i to i + 1. Append only. */
const MIGRATIONS: string[] = [
  `CREATE TABLE users (
     name TEXT PRIMARY KEY,
     password_hash TEXT NOT NULL,
     updated_at INTEGER NOT NULL
   );
   CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   CREATE TABLE private_messages (
     seq INTEGER PRIMARY KEY,
     at INTEGER NOT NULL,
     sender TEXT NOT NULL,
     receiver TEXT NOT NULL,
     text TEXT NOT NULL,
     delivered INTEGER NOT NULL DEFAULT 0
   );
   CREATE INDEX private_undelivered ON private_messages (receiver) WHERE delivered = 0;
   CREATE TABLE groups (
     name TEXT PRIMARY KEY,
     creator TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     last_seq INTEGER NOT NULL DEFAULT 0
   );
   CREATE TABLE memberships (
     group_name TEXT NOT NULL REFERENCES groups (name),
     user TEXT NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('invited', 'joined')),
     PRIMARY KEY (group_name, user)
   );
   CREATE TABLE group_messages (
     group_name TEXT NOT NULL REFERENCES groups (name),
     seq INTEGER NOT NULL,
     at INTEGER NOT NULL,
     sender TEXT NOT NULL,
     text TEXT NOT NULL,
     PRIMARY KEY (group_name, seq)
   );`,
  // For /history between two users and /groups of one user.
  `CREATE INDEX private_pair ON private_messages (sender, receiver, seq);
   CREATE INDEX memberships_by_user ON memberships (user, group_name);`,
];

/** How often the background checkpointer copies the WAL into the database. */
const CHECKPOINT_INTERVAL_MS = 250;
/** How long closing the store waits for the checkpoint worker to close its connection. */
const CHECKPOINTER_STOP_MS = 5000;
/**
 * With the background checkpointer, the WAL size at which a COMMIT still
 * checkpoints (SQLite's default is 1000 pages). A checkpoint running beside a
 * busy writer cannot finish (new frames keep arriving), and only a finished
 * one lets the next write start the WAL over; this backstop, which finds most
 * frames already copied, keeps the WAL from growing without bound.
 */
const BACKSTOP_CHECKPOINT_PAGES = 4000;

/** Most rows one multi-row INSERT of group messages writes (a power of two). */
const MAX_BATCH_ROWS = 64;
const GROUP_ROW_PARAMS = 5;

/** A group as {@link SqliteStore} caches it, with its message counter. */
class CachedGroup implements GroupInfo {
  readonly #members: Map<string, MembershipState>;
  #joined: string[] | undefined;
  /** The seq of the group's newest message, stored or queued. */
  lastSeq: number;

  constructor(
    readonly name: string,
    readonly creator: string,
    readonly createdAt: number,
    members: Map<string, MembershipState>,
    lastSeq: number,
  ) {
    this.#members = members;
    this.lastSeq = lastSeq;
  }

  get members(): ReadonlyMap<string, MembershipState> {
    return this.#members;
  }

  get joined(): readonly string[] {
    return this.#joined ??= [...this.#members].filter(([, s]) => s === "joined").map(([u]) => u);
  }

  setMember(user: string, state: MembershipState): void {
    this.#members.set(user, state);
    this.#joined = undefined;
  }

  removeMember(user: string): void {
    this.#members.delete(user);
    this.#joined = undefined;
  }
}

/** The schema version this build writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** {@link ChatStore} on a SQLite file (or `:memory:`). */
export class SqliteStore implements ChatStore {
  readonly #db: DatabaseSync;
  readonly #q: Record<string, StatementSync>;
  /** True between the BEGIN of a group of writes and its COMMIT. */
  #batchOpen = false;
  #commitTimer: ReturnType<typeof setImmediate> | undefined;
  /** Set when a COMMIT failed: every later commit throws it. */
  #commitFailure: Error | undefined;
  /**
   * Groups read so far, kept in step with every membership write. Every group
   * message looks its group up; reading the members from SQLite each time
   * cost more than the rest of the fan-out.
   */
  readonly #groups = new Map<string, CachedGroup>();
  /**
   * Group messages not yet inserted: five parameters per row, in order.
   * Written by one multi-row INSERT at the commit (or before a read of
   * `group_messages`), instead of a statement per message.
   */
  #pendingGroupRows: (string | number)[] = [];
  /** Groups whose `last_seq` moved since the last write of the pending rows. */
  readonly #dirtySeqs = new Set<CachedGroup>();
  readonly #path: string;
  /** The worker taking WAL checkpoints, when {@link checkpointInBackground} started one. */
  #checkpointer: Worker | undefined;
  /** Set to 1 by the worker once its connection is closed (shared memory). */
  #checkpointerDone: Int32Array | undefined;
  /** Multi-row INSERT statements by row count (powers of two), prepared on first use. */
  readonly #insertStatements = new Map<number, StatementSync>();

  /**
   * Opens (creating if needed) and migrates the database at `path`.
   *
   * @throws {Error} when the file was written by a newer schema.
   */
  constructor(path: string) {
    this.#path = path;
    this.#db = new DatabaseSync(path);
    // WAL with synchronous=NORMAL: a commit survives a killed process (it is in
    // the WAL before the call returns); only a power loss can lose the newest.
    this.#db.exec(
      "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;" +
        "PRAGMA busy_timeout = 5000;",
    );
    this.#migrate();
    this.commit();
    const db = this.#db;
    this.#q = {
      getHash: db.prepare("SELECT password_hash FROM users WHERE name = ?"),
      setHash: db.prepare(
        "INSERT INTO users (name, password_hash, updated_at) VALUES (?, ?, ?) " +
          "ON CONFLICT (name) DO UPDATE SET password_hash = excluded.password_hash, " +
          "updated_at = excluded.updated_at",
      ),
      listUsers: db.prepare("SELECT name FROM users ORDER BY name"),
      getMeta: db.prepare("SELECT value FROM meta WHERE key = ?"),
      setMeta: db.prepare(
        "INSERT INTO meta (key, value) VALUES (?, ?) " +
          "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      ),
      addPrivate: db.prepare(
        "INSERT INTO private_messages (at, sender, receiver, text, delivered) " +
          "VALUES (?, ?, ?, ?, ?) RETURNING seq",
      ),
      undelivered: db.prepare(
        "SELECT * FROM private_messages WHERE receiver = ? AND delivered = 0 ORDER BY seq",
      ),
      markDelivered: db.prepare("UPDATE private_messages SET delivered = 1 WHERE seq = ?"),
      markUndelivered: db.prepare("UPDATE private_messages SET delivered = 0 WHERE seq = ?"),
      privateAfter: db.prepare("SELECT * FROM private_messages WHERE seq > ? ORDER BY seq"),
      getGroup: db.prepare("SELECT * FROM groups WHERE name = ?"),
      getMembers: db.prepare("SELECT user, state FROM memberships WHERE group_name = ?"),
      addGroup: db.prepare(
        "INSERT INTO groups (name, creator, created_at) VALUES (?, ?, ?) " +
          "ON CONFLICT (name) DO NOTHING",
      ),
      setMember: db.prepare(
        "INSERT INTO memberships (group_name, user, state) VALUES (?, ?, ?) " +
          "ON CONFLICT (group_name, user) DO UPDATE SET state = excluded.state",
      ),
      listGroups: db.prepare("SELECT name FROM groups ORDER BY name"),
      setGroupSeq: db.prepare("UPDATE groups SET last_seq = ? WHERE name = ?"),
      groupMessages: db.prepare(
        "SELECT * FROM group_messages WHERE group_name = ? ORDER BY seq",
      ),
      // Each half walks the private_pair index backwards; the union is small.
      privateHistory: db.prepare(
        "SELECT * FROM (" +
          "SELECT * FROM (SELECT * FROM private_messages WHERE sender = ?1 AND receiver = ?2 " +
          "ORDER BY seq DESC LIMIT ?3) UNION ALL " +
          "SELECT * FROM (SELECT * FROM private_messages WHERE sender = ?2 AND receiver = ?1 " +
          "ORDER BY seq DESC LIMIT ?3)) ORDER BY seq DESC LIMIT ?3",
      ),
      groupHistory: db.prepare(
        "SELECT * FROM group_messages WHERE group_name = ? ORDER BY seq DESC LIMIT ?",
      ),
      groupsOf: db.prepare(
        "SELECT group_name, state FROM memberships WHERE user = ? ORDER BY group_name",
      ),
      removeMember: db.prepare("DELETE FROM memberships WHERE group_name = ? AND user = ?"),
    };
  }

  #migrate(): void {
    const version = Number(
      (this.#db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version,
    );
    if (version > SCHEMA_VERSION) {
      throw new Error(
        `Cannot open database: schema version ${version} is newer than ${SCHEMA_VERSION}`,
      );
    }
    for (let v = version; v < SCHEMA_VERSION; v++) {
      this.#transaction(() => {
        this.#db.exec(MIGRATIONS[v]);
        this.#db.exec(`PRAGMA user_version = ${v + 1}`);
      });
    }
  }

  /**
   * Joins the open group of writes, opening one if needed. A single statement
   * needs nothing more: SQLite undoes a failed statement on its own.
   */
  #begin(): void {
    if (this.#batchOpen) return;
    this.#db.exec("BEGIN IMMEDIATE");
    this.#batchOpen = true;
    // Nothing stays uncommitted past this turn, even when no reply follows.
    this.#commitTimer = setImmediate(() => {
      this.#commitTimer = undefined;
      try {
        this.commit();
      } catch {
        // kept in #commitFailure; the next commit() reports it
      }
    });
  }

  /** Runs several statements as one all-or-nothing step of the open group of writes. */
  #transaction<T>(fn: () => T): T {
    this.#begin();
    this.#db.exec("SAVEPOINT step");
    try {
      const result = fn();
      this.#db.exec("RELEASE step");
      return result;
    } catch (e) {
      this.#db.exec("ROLLBACK TO step");
      this.#db.exec("RELEASE step");
      throw e;
    }
  }

  commit(): void {
    if (this.#commitFailure) throw this.#commitFailure;
    if (!this.#batchOpen) return;
    if (this.#commitTimer !== undefined) clearImmediate(this.#commitTimer);
    this.#commitTimer = undefined;
    this.#batchOpen = false;
    this.#writeGroupRows(); // gives the writes up itself when it fails
    try {
      this.#db.exec("COMMIT");
    } catch (e) {
      this.#fail(e);
    }
  }

  /**
   * Gives up the open group of writes after a failed write or COMMIT: rolls it
   * back and refuses every later commit, so that no reply to a lost write can
   * go out.
   */
  #fail(e: unknown): never {
    this.#commitFailure = e instanceof Error ? e : new Error(String(e));
    this.#batchOpen = false;
    if (this.#commitTimer !== undefined) clearImmediate(this.#commitTimer);
    this.#commitTimer = undefined;
    try {
      this.#db.exec("ROLLBACK");
    } catch {
      // SQLite may have rolled back already
    }
    throw this.#commitFailure;
  }

  getPasswordHash(user: string): string | undefined {
    const row = this.#q.getHash.get(user) as { password_hash: string } | undefined;
    return row?.password_hash;
  }

  setPasswordHash(user: string, hash: string, at: number): void {
    this.#begin();
    this.#q.setHash.run(user, hash, at);
  }

  listUsers(): string[] {
    return (this.#q.listUsers.all() as { name: string }[]).map((r) => r.name);
  }

  userExists(user: string): boolean {
    return this.getPasswordHash(user) !== undefined;
  }

  getMeta(key: string): string | undefined {
    return (this.#q.getMeta.get(key) as { value: string } | undefined)?.value;
  }

  setMeta(key: string, value: string): void {
    this.#begin();
    this.#q.setMeta.run(key, value);
  }

  addPrivateMessage(m: Omit<PrivateMessage, "seq">): PrivateMessage {
    this.#begin();
    const row = this.#q.addPrivate.get(m.at, m.sender, m.receiver, m.text, m.delivered ? 1 : 0) as {
      seq: number;
    };
    return { ...m, seq: Number(row.seq) };
  }

  undelivered(user: string): PrivateMessage[] {
    return (this.#q.undelivered.all(user) as unknown as PrivateRow[]).map(toPrivate);
  }

  markDelivered(seqs: number[]): void {
    if (seqs.length === 0) return;
    this.#transaction(() => {
      for (const seq of seqs) this.#q.markDelivered.run(seq);
    });
  }

  markUndelivered(seq: number): void {
    this.#q.markUndelivered.run(seq);
  }

  *privateMessages(afterSeq = 0): Iterable<PrivateMessage> {
    for (const row of this.#q.privateAfter.iterate(afterSeq)) {
      yield toPrivate(row as unknown as PrivateRow);
    }
  }

  getGroup(name: string): GroupInfo | undefined {
    return this.#group(name);
  }

  /** The group from the cache, loaded into it on first use. */
  #group(name: string): CachedGroup | undefined {
    const cached = this.#groups.get(name);
    if (cached) return cached;
    const row = this.#q.getGroup.get(name) as
      | { name: string; creator: string; created_at: number; last_seq: number }
      | undefined;
    if (!row) return undefined;
    const members = new Map<string, MembershipState>();
    for (const m of this.#q.getMembers.all(name) as { user: string; state: MembershipState }[]) {
      members.set(m.user, m.state);
    }
    const info = new CachedGroup(
      row.name,
      row.creator,
      Number(row.created_at),
      members,
      Number(row.last_seq),
    );
    this.#groups.set(name, info);
    return info;
  }

  createGroup(name: string, creator: string, invitees: string[], at: number): boolean {
    return this.#transaction(() => {
      const { changes } = this.#q.addGroup.run(name, creator, at);
      if (Number(changes) === 0) return false;
      this.#q.setMember.run(name, creator, "joined");
      for (const u of invitees) this.#q.setMember.run(name, u, "invited");
      return true;
    });
  }

  setMembership(group: string, user: string, state: MembershipState): void {
    this.#begin();
    this.#q.setMember.run(group, user, state);
    this.#groups.get(group)?.setMember(user, state);
  }

  listGroups(): string[] {
    return (this.#q.listGroups.all() as { name: string }[]).map((r) => r.name);
  }

  /**
   * Numbers the message from the group's cached `last_seq` and queues its row;
   * the row and the new `last_seq` are written with the rest of this turn's
   * writes, before the COMMIT that makes them durable (see {@link commit}).
   *
   * @throws {Error} when the group does not exist.
   */
  addGroupMessage(m: Omit<GroupMessage, "seq">): GroupMessage {
    const info = this.#group(m.group);
    if (!info) throw new Error(`Cannot store a message: no group ${m.group}`);
    this.#begin();
    const seq = ++info.lastSeq;
    this.#pendingGroupRows.push(m.group, seq, m.at, m.sender, m.text);
    this.#dirtySeqs.add(info);
    if (this.#pendingGroupRows.length >= MAX_BATCH_ROWS * GROUP_ROW_PARAMS) this.#writeGroupRows();
    return { ...m, seq };
  }

  /** Inserts the queued group messages and stores the groups' new `last_seq`. */
  #writeGroupRows(): void {
    const rows = this.#pendingGroupRows;
    if (rows.length === 0) return;
    this.#pendingGroupRows = [];
    try {
      this.#insertGroupRows(rows);
    } catch (e) {
      // Messages of this turn that were numbered but not stored must not be
      // acknowledged: the whole group of writes is given up.
      this.#fail(e);
    }
  }

  #insertGroupRows(rows: (string | number)[]): void {
    let at = 0;
    let left = rows.length / GROUP_ROW_PARAMS;
    // At most one statement per power of two: 100 rows are 64 + 32 + 4.
    for (let size = MAX_BATCH_ROWS; size >= 1; size >>= 1) {
      while (left >= size) {
        const end = at + size * GROUP_ROW_PARAMS;
        this.#insertStatement(size).run(...rows.slice(at, end));
        at = end;
        left -= size;
      }
    }
    for (const g of this.#dirtySeqs) this.#q.setGroupSeq.run(g.lastSeq, g.name);
    this.#dirtySeqs.clear();
  }

  #insertStatement(rows: number): StatementSync {
    let stmt = this.#insertStatements.get(rows);
    if (!stmt) {
      stmt = this.#db.prepare(
        "INSERT INTO group_messages (group_name, seq, at, sender, text) VALUES " +
          Array.from({ length: rows }, () => "(?, ?, ?, ?, ?)").join(", "),
      );
      this.#insertStatements.set(rows, stmt);
    }
    return stmt;
  }

  *groupMessages(group: string): Iterable<GroupMessage> {
    this.#writeGroupRows();
    for (const row of this.#q.groupMessages.iterate(group)) {
      yield toGroupMessage(row as unknown as GroupRow);
    }
  }

  privateHistory(a: string, b: string, limit: number): PrivateMessage[] {
    const rows = this.#q.privateHistory.all(a, b, limit) as unknown as PrivateRow[];
    return rows.map(toPrivate).reverse();
  }

  groupHistory(group: string, limit: number): GroupMessage[] {
    this.#writeGroupRows();
    const rows = this.#q.groupHistory.all(group, limit) as unknown as GroupRow[];
    return rows.map(toGroupMessage).reverse();
  }

  groupsOf(user: string): { group: string; state: MembershipState }[] {
    const rows = this.#q.groupsOf.all(user) as { group_name: string; state: MembershipState }[];
    return rows.map((r) => ({ group: r.group_name, state: r.state }));
  }

  removeMembership(group: string, user: string): boolean {
    this.#begin();
    const removed = Number(this.#q.removeMember.run(group, user).changes) > 0;
    this.#groups.get(group)?.removeMember(user);
    return removed;
  }

  /**
   * Takes WAL checkpoints off the commit path: a worker thread with its own
   * connection runs a PASSIVE checkpoint every `intervalMs`, and this
   * connection stops checkpointing in its COMMITs (SQLite's default does one
   * whenever the WAL passes 1000 pages, fsync included, stalling the event
   * loop). If the worker fails, checkpoints go back to the COMMITs.
   */
  checkpointInBackground(intervalMs = CHECKPOINT_INTERVAL_MS): void {
    if (this.#checkpointer !== undefined || this.#path === ":memory:" || !this.#db.isOpen) return;
    let worker: Worker;
    try {
      worker = new Worker(new URL("./checkpointer.ts", import.meta.url).href, { type: "module" });
    } catch {
      return; // no worker here: the COMMITs keep checkpointing
    }
    const done = new Int32Array(new SharedArrayBuffer(4));
    this.#checkpointer = worker;
    this.#checkpointerDone = done;
    worker.onmessage = (e: MessageEvent<"ready" | { error: string }>) => {
      if (this.#checkpointer !== worker) return;
      if (e.data === "ready") {
        this.#db.exec(`PRAGMA wal_autocheckpoint = ${BACKSTOP_CHECKPOINT_PAGES}`);
      } else this.#stopCheckpointer();
    };
    worker.onerror = (e) => {
      e.preventDefault();
      if (this.#checkpointer === worker) this.#stopCheckpointer();
    };
    worker.postMessage({ path: this.#path, intervalMs, done });
  }

  /**
   * Ends the checkpoint worker; this connection checkpoints in its COMMITs
   * again. With `wait`, first asks the worker to close its connection and
   * waits for that (at most {@link CHECKPOINTER_STOP_MS}): once the store is
   * closed, nothing may still hold the database files.
   */
  #stopCheckpointer(wait = false): void {
    const worker = this.#checkpointer;
    const done = this.#checkpointerDone;
    if (worker === undefined || done === undefined) return;
    this.#checkpointer = undefined;
    this.#checkpointerDone = undefined;
    if (wait) {
      worker.postMessage("stop");
      Atomics.wait(done, 0, 0, CHECKPOINTER_STOP_MS);
    }
    worker.terminate();
    if (this.#db.isOpen) this.#db.exec("PRAGMA wal_autocheckpoint = 1000");
  }

  close(): void {
    if (!this.#db.isOpen) return;
    this.#stopCheckpointer(true);
    try {
      this.commit();
    } finally {
      if (this.#commitTimer !== undefined) clearImmediate(this.#commitTimer);
      this.#db.close();
    }
  }
}

interface PrivateRow {
  seq: number;
  at: number;
  sender: string;
  receiver: string;
  text: string;
  delivered: number;
}

interface GroupRow {
  group_name: string;
  seq: number;
  at: number;
  sender: string;
  text: string;
}

function toGroupMessage(r: GroupRow): GroupMessage {
  return {
    group: r.group_name,
    seq: Number(r.seq),
    at: Number(r.at),
    sender: r.sender,
    text: r.text,
  };
}

function toPrivate(r: PrivateRow): PrivateMessage {
  return {
    seq: Number(r.seq),
    at: Number(r.at),
    sender: r.sender,
    receiver: r.receiver,
    text: r.text,
    delivered: Number(r.delivered) === 1,
  };
}

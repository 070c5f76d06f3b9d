/**
 * The embedded {@link ChatStore}: accounts, groups, invitations, memberships,
 * message history and delivery cursors in one SQLite database (`node:sqlite`,
 * WAL mode) with a versioned schema, and — when given {@link MessageLogs} —
 * the text logs of SPEC §4 kept in step with it.
 *
 * Writes made during one event-loop turn form one transaction (group commit),
 * made durable by {@link SqliteStore.barrier}, which the outbox waits for
 * before it writes any reply. When a COMMIT fails (a full disk) the whole
 * group is rolled back, its epoch is marked lost (the outbox then drops what
 * depended on it and answers with errors), the caches are dropped, and the
 * store goes on with the next group of writes: service resumes by itself once
 * space is freed. An error that retrying cannot cure (a damaged database)
 * calls `onFatal`, which the server answers by exiting non-zero.
 *
 * @module
 */

import { DatabaseSync, type StatementSync } from "node:sqlite";
import { clearImmediate, setImmediate } from "node:timers";
import type {
  ChatStore,
  Cursors,
  GroupInfo,
  GroupMessage,
  MembershipState,
  NameEntry,
  NewGroupMessage,
  NewPrivateMessage,
  PrivateMessage,
  UserGroup,
} from "../ports.ts";
import type { MessageLogs } from "../text_logs.ts";

/**
 * Each entry moves the schema from version i to i + 1: SQL, or a function for
 * a step SQL cannot express alone. Append only.
 */
const MIGRATIONS: (string | ((db: DatabaseSync) => void))[] = [
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
  // Delivery from the store: per-receiver inbox numbers and acknowledged
  // cursors replace the delivered flag; one case-insensitive namespace for
  // users and groups; invitations remember who sent them; group topics.
  migrateToDeliveryCursors,
];

function migrateToDeliveryCursors(db: DatabaseSync): void {
  db.exec(`
    ALTER TABLE users ADD COLUMN inbox_seq INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE users ADD COLUMN inbox_acked INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE private_messages ADD COLUMN n INTEGER NOT NULL DEFAULT 0;
    UPDATE private_messages SET n = r.rn FROM (
      SELECT seq, ROW_NUMBER() OVER (PARTITION BY receiver ORDER BY seq) AS rn FROM private_messages
    ) AS r WHERE private_messages.seq = r.seq;
    UPDATE users SET inbox_seq =
      COALESCE((SELECT MAX(n) FROM private_messages WHERE receiver = users.name), 0);
    UPDATE users SET inbox_acked = COALESCE(
      (SELECT MIN(n) - 1 FROM private_messages WHERE receiver = users.name AND delivered = 0),
      inbox_seq);
    DROP INDEX private_undelivered;
    ALTER TABLE private_messages DROP COLUMN delivered;
    CREATE UNIQUE INDEX private_inbox ON private_messages (receiver, n);
    ALTER TABLE groups ADD COLUMN topic TEXT;
    ALTER TABLE memberships ADD COLUMN invited_by TEXT;
    ALTER TABLE memberships ADD COLUMN read_seq INTEGER NOT NULL DEFAULT 0;
    UPDATE memberships SET read_seq = (SELECT last_seq FROM groups WHERE name = group_name)
      WHERE state = 'joined';
    UPDATE memberships SET invited_by = (SELECT creator FROM groups WHERE name = group_name)
      WHERE state = 'invited';
    CREATE TABLE names (
      key TEXT PRIMARY KEY,
      kind TEXT NOT NULL CHECK (kind IN ('user', 'group')),
      name TEXT NOT NULL
    );
    INSERT OR IGNORE INTO names (key, kind, name)
      SELECT lower(name), 'user', name FROM users ORDER BY updated_at, name;`);
  // A group whose name a user or an older group already has (case aside) is
  // renamed NAME2, NAME3, … so that every name is unique; its log follows.
  const groups = db.prepare("SELECT name FROM groups ORDER BY created_at, name").all() as {
    name: string;
  }[];
  const taken = db.prepare("SELECT 1 FROM names WHERE key = ?");
  const addName = db.prepare("INSERT INTO names (key, kind, name) VALUES (?, 'group', ?)");
  for (const { name } of groups) {
    let fresh = name;
    for (let i = 2; taken.get(fresh.toLowerCase()); i++) fresh = `${name}${i}`;
    addName.run(fresh.toLowerCase(), fresh);
    if (fresh === name) continue;
    // Foreign keys are deferred inside this transaction only by updating children first.
    db.exec("PRAGMA defer_foreign_keys = ON");
    for (const table of ["memberships", "group_messages"]) {
      db.prepare(`UPDATE ${table} SET group_name = ? WHERE group_name = ?`).run(fresh, name);
    }
    db.prepare("UPDATE groups SET name = ? WHERE name = ?").run(fresh, name);
    db.prepare("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING").run(
      `renamed_group:${name}`,
      fresh,
    );
  }
}

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
/** Lost epochs remembered (a frame older than that cannot still be queued). */
const LOST_EPOCHS_KEPT = 1024;

/** A group as {@link SqliteStore} caches it, with its message counter. */
class CachedGroup implements GroupInfo {
  readonly #members: Map<string, MembershipState>;
  readonly #invitedBy: Map<string, string>;
  #joined: string[] | undefined;
  /** The seq of the group's newest message, stored or queued. */
  lastSeq: number;
  topic: string | undefined;

  constructor(
    readonly name: string,
    readonly creator: string,
    readonly createdAt: number,
    members: Map<string, MembershipState>,
    invitedBy: Map<string, string>,
    lastSeq: number,
    topic: string | undefined,
  ) {
    this.#members = members;
    this.#invitedBy = invitedBy;
    this.lastSeq = lastSeq;
    this.topic = topic;
  }

  get members(): ReadonlyMap<string, MembershipState> {
    return this.#members;
  }

  get invitedBy(): ReadonlyMap<string, string> {
    return this.#invitedBy;
  }

  get joined(): readonly string[] {
    return this.#joined ??= [...this.#members].filter(([, s]) => s === "joined").map(([u]) => u);
  }

  setMember(user: string, state: MembershipState, invitedBy?: string): void {
    this.#members.set(user, state);
    if (state === "invited" && invitedBy !== undefined) this.#invitedBy.set(user, invitedBy);
    else this.#invitedBy.delete(user);
    this.#joined = undefined;
  }

  removeMember(user: string): void {
    this.#members.delete(user);
    this.#invitedBy.delete(user);
    this.#joined = undefined;
  }
}

/** The schema version this build writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** Settings of a {@link SqliteStore}. */
export interface SqliteStoreOptions {
  /** The text logs to keep in step with the database. Default: none (admin tools). */
  textLogs?: MessageLogs;
  /** Called once when the database fails in a way retrying cannot cure. */
  onFatal?: (error: Error) => void;
  /** Told about every undone group of writes. */
  onLost?: (error: Error) => void;
}

/** Whether a failed write may succeed later (space freed), rather than never. */
export function isRecoverable(e: unknown): boolean {
  const text = e instanceof Error ? e.message : String(e);
  return /disk is full|no space|disk I\/O error|database is locked|busy/i.test(text);
}

/** {@link ChatStore} on a SQLite file (or `:memory:`). */
export class SqliteStore implements ChatStore {
  readonly #db: DatabaseSync;
  readonly #q: Record<string, StatementSync>;
  readonly #logs: MessageLogs | undefined;
  readonly #options: SqliteStoreOptions;
  /** True between the BEGIN of a group of writes and its COMMIT. */
  #batchOpen = false;
  #commitTimer: ReturnType<typeof setImmediate> | undefined;
  #epoch = 1;
  #writes = 0;
  readonly #lost = new Set<number>();
  #fatal = false;
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
   * @throws {Error} when the file was written by a newer schema, or is not a database.
   */
  constructor(path: string, options: SqliteStoreOptions = {}) {
    this.#path = path;
    this.#logs = options.textLogs;
    this.#options = options;
    this.#db = new DatabaseSync(path);
    // WAL with synchronous=NORMAL: a commit survives a killed process (it is in
    // the WAL before the call returns); only a power loss can lose the newest.
    this.#db.exec(
      "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;" +
        "PRAGMA busy_timeout = 5000;",
    );
    this.#migrate();
    const db = this.#db;
    this.#q = {
      getHash: db.prepare("SELECT password_hash FROM users WHERE name = ?"),
      setHash: db.prepare(
        "INSERT INTO users (name, password_hash, updated_at) VALUES (?, ?, ?) " +
          "ON CONFLICT (name) DO UPDATE SET password_hash = excluded.password_hash, " +
          "updated_at = excluded.updated_at",
      ),
      addName: db.prepare(
        "INSERT INTO names (key, kind, name) VALUES (lower(?1), ?2, ?1) ON CONFLICT DO NOTHING",
      ),
      lookupName: db.prepare("SELECT kind, name FROM names WHERE key = lower(?)"),
      listUsers: db.prepare("SELECT name FROM users ORDER BY name"),
      getMeta: db.prepare("SELECT value FROM meta WHERE key = ?"),
      setMeta: db.prepare(
        "INSERT INTO meta (key, value) VALUES (?, ?) " +
          "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      ),
      nextInbox: db.prepare(
        "UPDATE users SET inbox_seq = inbox_seq + 1 WHERE name = ? RETURNING inbox_seq",
      ),
      addPrivate: db.prepare(
        "INSERT INTO private_messages (at, sender, receiver, text, n) " +
          "VALUES (?, ?, ?, ?, ?) RETURNING seq",
      ),
      inbox: db.prepare(
        "SELECT * FROM private_messages WHERE receiver = ? AND n > ? ORDER BY n LIMIT ?",
      ),
      privateAfter: db.prepare("SELECT * FROM private_messages WHERE seq > ? ORDER BY seq"),
      getGroup: db.prepare("SELECT * FROM groups WHERE name = ?"),
      getMembers: db.prepare(
        "SELECT user, state, invited_by FROM memberships WHERE group_name = ? ORDER BY user",
      ),
      addGroup: db.prepare(
        "INSERT INTO groups (name, creator, created_at) VALUES (?, ?, ?)",
      ),
      setMember: db.prepare(
        "INSERT INTO memberships (group_name, user, state, invited_by, read_seq) " +
          "VALUES (?, ?, ?, ?, ?) ON CONFLICT (group_name, user) DO UPDATE SET " +
          "state = excluded.state, invited_by = excluded.invited_by, read_seq = excluded.read_seq",
      ),
      setTopic: db.prepare("UPDATE groups SET topic = ? WHERE name = ?"),
      listGroups: db.prepare("SELECT name FROM groups ORDER BY name"),
      setGroupSeq: db.prepare("UPDATE groups SET last_seq = ? WHERE name = ?"),
      groupAfter: db.prepare(
        "SELECT * FROM group_messages WHERE group_name = ? AND seq > ? ORDER BY seq LIMIT ?",
      ),
      // Each half walks the private_pair index backwards; the union is small.
      privateHistory: db.prepare(
        "SELECT * FROM (" +
          "SELECT * FROM (SELECT * FROM private_messages WHERE sender = ?1 AND receiver = ?2 " +
          "AND seq < ?4 ORDER BY seq DESC LIMIT ?3) UNION ALL " +
          "SELECT * FROM (SELECT * FROM private_messages WHERE sender = ?2 AND receiver = ?1 " +
          "AND seq < ?4 ORDER BY seq DESC LIMIT ?3)) ORDER BY seq DESC LIMIT ?3",
      ),
      groupHistory: db.prepare(
        "SELECT * FROM group_messages WHERE group_name = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
      ),
      groupsOf: db.prepare(
        "SELECT group_name, state, invited_by FROM memberships WHERE user = ? ORDER BY group_name",
      ),
      removeMember: db.prepare("DELETE FROM memberships WHERE group_name = ? AND user = ?"),
      inboxCursor: db.prepare("SELECT inbox_acked FROM users WHERE name = ?"),
      groupCursors: db.prepare(
        "SELECT group_name, read_seq FROM memberships WHERE user = ? AND state = 'joined'",
      ),
      saveInbox: db.prepare(
        "UPDATE users SET inbox_acked = MAX(inbox_acked, ?) WHERE name = ?",
      ),
      saveGroupCursor: db.prepare(
        "UPDATE memberships SET read_seq = MAX(read_seq, ?) WHERE group_name = ? AND user = ?",
      ),
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
      const step = MIGRATIONS[v];
      this.#db.exec("BEGIN IMMEDIATE");
      try {
        if (typeof step === "string") this.#db.exec(step);
        else step(this.#db);
        this.#db.exec(`PRAGMA user_version = ${v + 1}`);
        this.#db.exec("COMMIT");
      } catch (e) {
        this.#db.exec("ROLLBACK");
        throw e;
      }
    }
  }

  get epoch(): number {
    return this.#epoch;
  }

  get writes(): number {
    return this.#writes;
  }

  lost(epoch: number): boolean {
    return this.#lost.has(epoch);
  }

  /**
   * Joins the open group of writes, opening one if needed. A single statement
   * needs nothing more: SQLite undoes a failed statement on its own.
   */
  #begin(): void {
    if (this.#fatal) {
      throw new Error("Cannot write: the database failed and the server is stopping");
    }
    this.#writes++;
    if (this.#batchOpen) return;
    this.#db.exec("BEGIN IMMEDIATE");
    this.#batchOpen = true;
    // Nothing stays uncommitted past this turn, even when no reply follows.
    this.#commitTimer = setImmediate(() => {
      this.#commitTimer = undefined;
      try {
        this.barrier();
      } catch {
        // the epoch is marked lost; the outbox answers what depended on it
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

  barrier(): void {
    if (this.#batchOpen) {
      if (this.#commitTimer !== undefined) clearImmediate(this.#commitTimer);
      this.#commitTimer = undefined;
      const epoch = this.#epoch++;
      this.#batchOpen = false;
      try {
        this.#writeGroupRows();
        this.#db.exec("COMMIT");
      } catch (e) {
        this.#undo(epoch, e);
      }
    }
    // The database is authoritative: a log line that cannot be written now is
    // written later (MessageLogs keeps it), or restored from the database at
    // the next start.
    this.#logs?.flushQuietly();
  }

  /**
   * Gives up the group of writes numbered `epoch`: rolls it back, marks it
   * lost, forgets every cache it touched and the log lines it buffered.
   */
  #undo(epoch: number, e: unknown): never {
    const error = e instanceof Error ? e : new Error(String(e));
    try {
      this.#db.exec("ROLLBACK");
    } catch {
      // SQLite may have rolled back already
    }
    this.#lost.add(epoch);
    if (this.#lost.size > LOST_EPOCHS_KEPT) {
      this.#lost.delete(this.#lost.values().next().value!);
    }
    this.#groups.clear();
    this.#pendingGroupRows = [];
    this.#dirtySeqs.clear();
    this.#logs?.discardPending();
    this.#options.onLost?.(error);
    if (!isRecoverable(error) && !this.#fatal) {
      this.#fatal = true;
      this.#options.onFatal?.(error);
    }
    throw error;
  }

  getPasswordHash(user: string): Promise<string | undefined> {
    return Promise.resolve(this.#hash(user));
  }

  #hash(user: string): string | undefined {
    const row = this.#q.getHash.get(user) as { password_hash: string } | undefined;
    return row?.password_hash;
  }

  setPasswordHash(user: string, hash: string, at: number): Promise<void> {
    this.#transaction(() => {
      const taken = this.#q.lookupName.get(user) as NameEntry | undefined;
      if (taken !== undefined && !(taken.kind === "user" && taken.name === user)) {
        throw new Error(
          `Cannot add user ${user}: the name is taken by the ${taken.kind} ${taken.name}`,
        );
      }
      this.#q.setHash.run(user, hash, at);
      this.#q.addName.run(user, "user");
    });
    return Promise.resolve();
  }

  listUsers(): Promise<string[]> {
    return Promise.resolve((this.#q.listUsers.all() as { name: string }[]).map((r) => r.name));
  }

  userExists(user: string): Promise<boolean> {
    return Promise.resolve(this.#hash(user) !== undefined);
  }

  lookupName(name: string): Promise<NameEntry | undefined> {
    const row = this.#q.lookupName.get(name) as NameEntry | undefined;
    return Promise.resolve(row ? { kind: row.kind, name: row.name } : undefined);
  }

  getMeta(key: string): Promise<string | undefined> {
    return Promise.resolve((this.#q.getMeta.get(key) as { value: string } | undefined)?.value);
  }

  setMeta(key: string, value: string): Promise<void> {
    this.#begin();
    this.#q.setMeta.run(key, value);
    return Promise.resolve();
  }

  addPrivateMessage(m: NewPrivateMessage): Promise<PrivateMessage> {
    const stored = this.#transaction(() => {
      const next = this.#q.nextInbox.get(m.receiver) as { inbox_seq: number } | undefined;
      if (next === undefined) throw new Error(`Cannot store a message: no user ${m.receiver}`);
      const n = Number(next.inbox_seq);
      const row = this.#q.addPrivate.get(m.at, m.sender, m.receiver, m.text, n) as { seq: number };
      return { ...m, seq: Number(row.seq), n };
    });
    this.#logs?.appendPrivate(stored.seq, stored.at, stored.receiver, stored.text);
    return Promise.resolve(stored);
  }

  inbox(user: string, afterN: number, limit: number): Promise<PrivateMessage[]> {
    const rows = this.#q.inbox.all(user, afterN, limit) as unknown as PrivateRow[];
    return Promise.resolve(rows.map(toPrivate));
  }

  /** Every private message after log number `afterSeq`, in order (for the text logs). */
  *privateMessages(afterSeq = 0): Iterable<PrivateMessage> {
    for (const row of this.#q.privateAfter.iterate(afterSeq)) {
      yield toPrivate(row as unknown as PrivateRow);
    }
  }

  getGroup(name: string): Promise<GroupInfo | undefined> {
    return Promise.resolve(this.#group(name));
  }

  /** The group from the cache, loaded into it on first use; `name` in any case. */
  #group(name: string): CachedGroup | undefined {
    const cached = this.#groups.get(name);
    if (cached) return cached;
    const entry = this.#q.lookupName.get(name) as NameEntry | undefined;
    if (entry?.kind !== "group") return undefined;
    const canonical = this.#groups.get(entry.name);
    if (canonical) return canonical;
    const row = this.#q.getGroup.get(entry.name) as
      | {
        name: string;
        creator: string;
        created_at: number;
        last_seq: number;
        topic: string | null;
      }
      | undefined;
    if (!row) return undefined;
    const members = new Map<string, MembershipState>();
    const invitedBy = new Map<string, string>();
    for (
      const m of this.#q.getMembers.all(row.name) as {
        user: string;
        state: MembershipState;
        invited_by: string | null;
      }[]
    ) {
      members.set(m.user, m.state);
      if (m.state === "invited" && m.invited_by !== null) invitedBy.set(m.user, m.invited_by);
    }
    const info = new CachedGroup(
      row.name,
      row.creator,
      Number(row.created_at),
      members,
      invitedBy,
      Number(row.last_seq),
      row.topic ?? undefined,
    );
    this.#groups.set(row.name, info);
    return info;
  }

  createGroup(name: string, creator: string, invitees: string[], at: number): Promise<boolean> {
    const created = this.#transaction(() => {
      if (this.#q.lookupName.get(name) !== undefined) return false;
      this.#q.addGroup.run(name, creator, at);
      this.#q.addName.run(name, "group");
      this.#q.setMember.run(name, creator, "joined", null, 0);
      for (const u of invitees) this.#q.setMember.run(name, u, "invited", creator, 0);
      return true;
    });
    if (created) this.#logs?.createGroupLog(name);
    return Promise.resolve(created);
  }

  invite(group: string, user: string, by: string): Promise<void> {
    const info = this.#group(group);
    if (!info) return Promise.reject(new Error(`Cannot invite: no group ${group}`));
    if (!info.members.has(user)) {
      this.#begin();
      this.#q.setMember.run(info.name, user, "invited", by, 0);
      info.setMember(user, "invited", by);
    }
    return Promise.resolve();
  }

  join(group: string, user: string): Promise<void> {
    const info = this.#group(group);
    if (!info) return Promise.reject(new Error(`Cannot join: no group ${group}`));
    this.#begin();
    this.#q.setMember.run(info.name, user, "joined", null, info.lastSeq);
    info.setMember(user, "joined");
    return Promise.resolve();
  }

  leave(group: string, user: string): Promise<boolean> {
    const info = this.#group(group);
    if (!info || !info.members.has(user)) return Promise.resolve(false);
    this.#begin();
    this.#q.removeMember.run(info.name, user);
    info.removeMember(user);
    return Promise.resolve(true);
  }

  setTopic(group: string, topic: string): Promise<void> {
    const info = this.#group(group);
    if (!info) return Promise.reject(new Error(`Cannot set the topic: no group ${group}`));
    this.#begin();
    this.#q.setTopic.run(topic, info.name);
    info.topic = topic;
    return Promise.resolve();
  }

  listGroups(): Promise<string[]> {
    return Promise.resolve([...this.#groupNames()]);
  }

  #groupNames(): string[] {
    return (this.#q.listGroups.all() as { name: string }[]).map((r) => r.name);
  }

  groupsOf(user: string): Promise<UserGroup[]> {
    const rows = this.#q.groupsOf.all(user) as {
      group_name: string;
      state: MembershipState;
      invited_by: string | null;
    }[];
    return Promise.resolve(rows.map((r) => ({
      group: r.group_name,
      state: r.state,
      ...(r.state === "invited" && r.invited_by !== null ? { invitedBy: r.invited_by } : {}),
    })));
  }

  /**
   * Numbers the message from the group's cached `last_seq` and queues its row;
   * the row and the new `last_seq` are written with the rest of this turn's
   * writes, before the COMMIT that makes them durable (see {@link barrier}).
   */
  addGroupMessage(m: NewGroupMessage): Promise<GroupMessage> {
    const info = this.#group(m.group);
    if (!info) return Promise.reject(new Error(`Cannot store a message: no group ${m.group}`));
    this.#begin();
    const seq = ++info.lastSeq;
    this.#pendingGroupRows.push(info.name, seq, m.at, m.sender, m.text);
    this.#dirtySeqs.add(info);
    if (this.#pendingGroupRows.length >= MAX_BATCH_ROWS * GROUP_ROW_PARAMS) this.#writeGroupRows();
    this.#logs?.appendGroup(info.name, seq, m.at, m.sender, m.text);
    return Promise.resolve({ ...m, group: info.name, seq });
  }

  /** Inserts the queued group messages and stores the groups' new `last_seq`. */
  #writeGroupRows(): void {
    const rows = this.#pendingGroupRows;
    if (rows.length === 0) return;
    this.#pendingGroupRows = [];
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

  groupMessages(group: string, afterSeq: number, limit: number): Promise<GroupMessage[]> {
    const info = this.#group(group);
    if (!info) return Promise.resolve([]);
    this.#flushGroupRows();
    const rows = this.#q.groupAfter.all(info.name, afterSeq, limit) as unknown as GroupRow[];
    return Promise.resolve(rows.map(toGroupMessage));
  }

  /** Every message of a group in order (for the text logs). */
  *allGroupMessages(group: string): Iterable<GroupMessage> {
    this.#flushGroupRows();
    let after = 0;
    while (true) {
      const rows = this.#q.groupAfter.all(group, after, 1000) as unknown as GroupRow[];
      for (const r of rows) yield toGroupMessage(r);
      if (rows.length < 1000) return;
      after = Number(rows[rows.length - 1].seq);
    }
  }

  /** Writes the pending rows before a read of `group_messages`; a failure undoes the batch. */
  #flushGroupRows(): void {
    if (this.#pendingGroupRows.length === 0) return;
    try {
      this.#writeGroupRows();
    } catch (e) {
      const epoch = this.#epoch++;
      this.#batchOpen = false;
      if (this.#commitTimer !== undefined) clearImmediate(this.#commitTimer);
      this.#commitTimer = undefined;
      this.#undo(epoch, e);
    }
  }

  privateHistory(
    a: string,
    b: string,
    limit: number,
    beforeSeq = Number.MAX_SAFE_INTEGER,
  ): Promise<PrivateMessage[]> {
    const rows = this.#q.privateHistory.all(a, b, limit, beforeSeq) as unknown as PrivateRow[];
    return Promise.resolve(rows.map(toPrivate).reverse());
  }

  groupHistory(
    group: string,
    limit: number,
    beforeSeq = Number.MAX_SAFE_INTEGER,
  ): Promise<GroupMessage[]> {
    const info = this.#group(group);
    if (!info) return Promise.resolve([]);
    this.#flushGroupRows();
    const rows = this.#q.groupHistory.all(info.name, beforeSeq, limit) as unknown as GroupRow[];
    return Promise.resolve(rows.map(toGroupMessage).reverse());
  }

  cursors(user: string): Promise<Cursors> {
    const row = this.#q.inboxCursor.get(user) as { inbox_acked: number } | undefined;
    const groups = new Map<string, number>();
    for (
      const r of this.#q.groupCursors.all(user) as { group_name: string; read_seq: number }[]
    ) {
      groups.set(r.group_name, Number(r.read_seq));
    }
    return Promise.resolve({ inbox: Number(row?.inbox_acked ?? 0), groups });
  }

  saveCursors(
    user: string,
    inbox: number | undefined,
    groups: Iterable<[string, number]>,
  ): Promise<void> {
    this.#begin();
    if (inbox !== undefined) this.#q.saveInbox.run(inbox, user);
    for (const [group, seq] of groups) this.#q.saveGroupCursor.run(seq, group, user);
    return Promise.resolve();
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

  close(): Promise<void> {
    this.closeSync();
    return Promise.resolve();
  }

  /** {@link close} for callers that cannot wait (admin tools, tests). */
  closeSync(): void {
    if (!this.#db.isOpen) return;
    this.#stopCheckpointer(true);
    try {
      this.barrier();
    } finally {
      if (this.#commitTimer !== undefined) clearImmediate(this.#commitTimer);
      this.#db.close();
    }
  }
}

interface PrivateRow {
  seq: number;
  n: number;
  at: number;
  sender: string;
  receiver: string;
  text: string;
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
    n: Number(r.n),
    at: Number(r.at),
    sender: r.sender,
    receiver: r.receiver,
    text: r.text,
  };
}

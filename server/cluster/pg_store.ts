/**
 * {@link ChatStore} on PostgreSQL, shared by every node of a cluster. Each
 * write is its own transaction, committed (and, with PostgreSQL's default
 * `synchronous_commit = on`, durable) when its promise resolves: there is no
 * open group of writes, so {@link PgStore.barrier} has nothing to wait for and
 * the epoch stays 0. Messages are numbered inside the transaction that stores
 * them (see `pg_schema.ts`); writes that queue behind the same lock are sent
 * as one statement ({@link Batcher}).
 *
 * Groups are cached per node and checked against their `version` at every
 * read, so a change made on another node is seen by the next request here.
 *
 * @module
 */

import {
  type ChatStore,
  type Cursors,
  type GroupInfo,
  type GroupMessage,
  type MembershipState,
  type NameEntry,
  type NewGroupMessage,
  type NewPrivateMessage,
  type PrivateMessage,
  UnavailableError,
  type UserGroup,
} from "../ports.ts";
import { Batcher } from "./batcher.ts";
import { connectPostgres, isUnavailable, type PostgresOptions, type Sql } from "./pg.ts";
import { migrate } from "./pg_schema.ts";

/** The key of a name in the one namespace of users and groups. */
function nameKey(name: string): string {
  return name.toLowerCase();
}

/**
 * How long a group read from the database is used without asking again (its
 * version). A change made on another node is seen here within this time; this
 * node's own changes at once; and every message is numbered against the
 * members of the moment (see {@link PgStore.addGroupMessage}).
 */
const GROUP_FRESH_MS = 100;

/** A seq larger than any stored: "no upper bound" for the history reads. */
const NO_BOUND = Number.MAX_SAFE_INTEGER;

type MemberRow = [member: string, state: MembershipState, invitedBy: string | null];

interface GroupRow {
  name: string;
  creator: string;
  created_at: number;
  last_seq: number;
  topic: string | null;
  version: number;
  /** Present when the version differs from the one asked about. */
  members: MemberRow[] | null;
}

/** A group as a node caches it; updated in place when its version moves. */
class PgGroup implements GroupInfo {
  readonly name: string;
  readonly creator: string;
  readonly createdAt: number;
  topic: string | undefined;
  lastSeq: number;
  version = -1;
  /** When the version was last read (performance.now()); -Infinity: read it again. */
  checkedAt = -Infinity;
  /** Counts this node's changes: a read that overlapped one is not trusted as fresh. */
  changes = 0;
  #members = new Map<string, MembershipState>();
  #invitedBy = new Map<string, string>();
  #joined: string[] = [];

  constructor(row: GroupRow) {
    this.name = row.name;
    this.creator = row.creator;
    this.createdAt = row.created_at;
    this.topic = row.topic ?? undefined;
    this.lastSeq = row.last_seq;
  }

  get members(): ReadonlyMap<string, MembershipState> {
    return this.#members;
  }

  get invitedBy(): ReadonlyMap<string, string> {
    return this.#invitedBy;
  }

  get joined(): readonly string[] {
    return this.#joined;
  }

  /** Takes a row read from the database; a new `joined` array only when the members moved. */
  update(row: GroupRow): void {
    this.topic = row.topic ?? undefined;
    this.lastSeq = Math.max(this.lastSeq, row.last_seq);
    if (row.members === null || row.version === this.version) return;
    this.version = row.version;
    const members = new Map<string, MembershipState>();
    const invitedBy = new Map<string, string>();
    for (const [member, state, by] of row.members) {
      members.set(member, state);
      if (state === "invited" && by !== null) invitedBy.set(member, by);
    }
    this.#members = members;
    this.#invitedBy = invitedBy;
    this.#joined = [...members].filter(([, s]) => s === "joined").map(([u]) => u);
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

interface GroupMessageRow {
  group_name: string;
  seq: number;
  at: number;
  sender: string;
  text: string;
}

function toGroupMessage(r: GroupMessageRow): GroupMessage {
  return { group: r.group_name, seq: r.seq, at: r.at, sender: r.sender, text: r.text };
}

function toPrivate(r: PrivateRow): PrivateMessage {
  return { seq: r.seq, n: r.n, at: r.at, sender: r.sender, receiver: r.receiver, text: r.text };
}

/** Settings of {@link PgStore.open}. */
export type PgStoreOptions = PostgresOptions;

/** {@link ChatStore} on a PostgreSQL database shared by the nodes of a cluster. */
export class PgStore implements ChatStore {
  readonly #sql: Sql;
  readonly epoch = 0;
  #writes = 0;
  /** Groups read so far, by key. */
  readonly #groups = new Map<string, PgGroup>();
  readonly #privateBatch: Batcher<NewPrivateMessage, { seq: number; n: number }>;
  /** One batcher per group with writes queued or in flight, by key. */
  readonly #groupBatches = new Map<string, Batcher<NewGroupMessage, GroupMessage>>();
  #closed = false;

  private constructor(sql: Sql) {
    this.#sql = sql;
    this.#privateBatch = new Batcher((items) =>
      this.#run(() =>
        sql<{ seq: number; n: number }[]>`
          SELECT seq, n FROM add_private_messages(
            ${items.map((m) => m.at)}::bigint[], ${items.map((m) => m.sender)}::text[],
            ${items.map((m) => m.receiver)}::text[], ${items.map((m) => m.text)}::text[])`
      )
    );
  }

  /**
   * Connects to `url` and brings its schema up to date.
   *
   * @throws {UnavailableError} when the database cannot be reached; other
   * errors when it was written by a newer schema or refuses the migration.
   */
  static async open(url: string, options: PgStoreOptions = {}): Promise<PgStore> {
    const sql = connectPostgres(url, options);
    const store = new PgStore(sql);
    try {
      await store.#run(() => migrate(sql));
    } catch (e) {
      await sql.end({ timeout: 1 });
      throw e;
    }
    return store;
  }

  /** Runs a query; an engine out of reach becomes an {@link UnavailableError}. */
  async #run<T>(query: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new Error("Cannot use the store: it is closed");
    try {
      return await query();
    } catch (e) {
      throw isUnavailable(e) ? new UnavailableError("database", e) : e;
    }
  }

  /** Counts a write and runs it. */
  #write<T>(query: () => Promise<T>): Promise<T> {
    this.#writes++;
    return this.#run(query);
  }

  get writes(): number {
    return this.#writes;
  }

  lost(_epoch: number): boolean {
    return false;
  }

  barrier(): void {
    // Every write is committed when it resolves: nothing is pending here.
  }

  async getPasswordHash(user: string): Promise<string | undefined> {
    const rows = await this.#run(() =>
      this.#sql<{ password_hash: string }[]>`
        SELECT password_hash FROM users WHERE name = ${user}`
    );
    return rows[0]?.password_hash;
  }

  /**
   * Adds the user or changes their password.
   *
   * @throws {Error} when the name is taken, case-insensitively, by a group or
   * by another user.
   */
  async setPasswordHash(user: string, hash: string, at: number): Promise<void> {
    await this.#write(() =>
      this.#sql.begin(async (tx) => {
        await tx`INSERT INTO names (key, kind, name) VALUES (${nameKey(user)}, 'user', ${user})
                 ON CONFLICT (key) DO NOTHING`;
        const [held] = await tx<NameEntry[]>`
          SELECT kind, name FROM names WHERE key = ${nameKey(user)}`;
        if (held.kind !== "user" || held.name !== user) {
          throw new Error(
            `Cannot add the user ${user}: the name is taken by the ${held.kind} ${held.name}`,
          );
        }
        await tx`INSERT INTO users (name, password_hash, updated_at) VALUES (${user}, ${hash}, ${at})
                 ON CONFLICT (name) DO UPDATE
                 SET password_hash = excluded.password_hash, updated_at = excluded.updated_at`;
      })
    );
  }

  async listUsers(): Promise<string[]> {
    const rows = await this.#run(() =>
      this.#sql<{ name: string }[]>`SELECT name FROM users ORDER BY name COLLATE "C"`
    );
    return rows.map((r) => r.name);
  }

  async userExists(user: string): Promise<boolean> {
    const rows = await this.#run(() => this.#sql`SELECT 1 FROM users WHERE name = ${user}`);
    return rows.length > 0;
  }

  async lookupName(name: string): Promise<NameEntry | undefined> {
    const rows = await this.#run(() =>
      this.#sql<NameEntry[]>`SELECT kind, name FROM names WHERE key = ${nameKey(name)}`
    );
    return rows[0] ? { kind: rows[0].kind, name: rows[0].name } : undefined;
  }

  async getMeta(key: string): Promise<string | undefined> {
    const rows = await this.#run(() =>
      this.#sql<{ value: string }[]>`SELECT value FROM meta WHERE key = ${key}`
    );
    return rows[0]?.value;
  }

  async setMeta(key: string, value: string): Promise<void> {
    await this.#write(() =>
      this.#sql`INSERT INTO meta (key, value) VALUES (${key}, ${value})
                ON CONFLICT (key) DO UPDATE SET value = excluded.value`
    );
  }

  async addPrivateMessage(m: NewPrivateMessage): Promise<PrivateMessage> {
    this.#writes++;
    const { seq, n } = await this.#privateBatch.add(m);
    return { seq, n, at: m.at, sender: m.sender, receiver: m.receiver, text: m.text };
  }

  async inbox(user: string, afterN: number, limit: number): Promise<PrivateMessage[]> {
    const rows = await this.#run(() =>
      this.#sql<PrivateRow[]>`
        SELECT seq, n, at, sender, receiver, text FROM private_messages
        WHERE receiver = ${user} AND n > ${afterN} ORDER BY n LIMIT ${limit}`
    );
    return rows.map(toPrivate);
  }

  async privateHistory(
    a: string,
    b: string,
    limit: number,
    beforeSeq = NO_BOUND,
  ): Promise<PrivateMessage[]> {
    const sql = this.#sql;
    // Each half walks the private_pair index backwards; the union is small.
    const rows = await this.#run(() =>
      sql<PrivateRow[]>`
        SELECT * FROM (
          (SELECT seq, n, at, sender, receiver, text FROM private_messages
           WHERE sender = ${a} AND receiver = ${b} AND seq < ${beforeSeq}
           ORDER BY seq DESC LIMIT ${limit})
          UNION ALL
          (SELECT seq, n, at, sender, receiver, text FROM private_messages
           WHERE sender = ${b} AND receiver = ${a} AND seq < ${beforeSeq} AND ${a !== b}
           ORDER BY seq DESC LIMIT ${limit})
        ) AS pair ORDER BY seq DESC LIMIT ${limit}`
    );
    return rows.map(toPrivate).reverse();
  }

  /** Reads a group, with its members when `version` is not the cached one. */
  async #loadGroup(key: string, version: number): Promise<GroupRow | undefined> {
    const rows = await this.#run(() =>
      this.#sql<GroupRow[]>`
        SELECT g.name, g.creator, g.created_at, g.last_seq, g.topic, g.version,
          CASE WHEN g.version <> ${version} THEN
            (SELECT coalesce(json_agg(json_build_array(m.member, m.state, m.invited_by)
                                      ORDER BY m.ord), '[]'::json)
             FROM memberships m WHERE m.group_name = g.name)
          END AS members
        FROM groups g WHERE g.key = ${key}`
    );
    return rows[0];
  }

  async getGroup(name: string): Promise<GroupInfo | undefined> {
    const key = nameKey(name);
    const cached = this.#groups.get(key);
    if (cached && performance.now() - cached.checkedAt < GROUP_FRESH_MS) return cached;
    const checkedAt = performance.now();
    const changes = cached?.changes ?? 0;
    const row = await this.#loadGroup(key, cached?.version ?? -1);
    if (!row) return undefined;
    const group = this.#groups.get(key) ?? new PgGroup(row);
    this.#groups.set(key, group);
    group.update(row);
    if (group.changes === changes) group.checkedAt = checkedAt;
    return group;
  }

  /** This node changed the group: its next read asks the database. */
  #changed(group: string): void {
    const cached = this.#groups.get(nameKey(group));
    if (cached) {
      cached.checkedAt = -Infinity;
      cached.changes++;
    }
  }

  async createGroup(
    name: string,
    creator: string,
    invitees: string[],
    at: number,
  ): Promise<boolean> {
    const invited = invitees.filter((u, i) => u !== creator && invitees.indexOf(u) === i);
    return await this.#write(() =>
      this.#sql.begin(async (tx) => {
        const taken = await tx`
          INSERT INTO names (key, kind, name) VALUES (${nameKey(name)}, 'group', ${name})
          ON CONFLICT (key) DO NOTHING RETURNING key`;
        if (taken.length === 0) return false;
        await tx`INSERT INTO groups (name, key, creator, created_at)
                 VALUES (${name}, ${nameKey(name)}, ${creator}, ${at})`;
        await tx`INSERT INTO memberships (group_name, member, state)
                 VALUES (${name}, ${creator}, 'joined')`;
        if (invited.length > 0) {
          await tx`INSERT INTO memberships (group_name, member, state, invited_by)
                   SELECT ${name}, u.member, 'invited', ${creator}
                   FROM unnest(${invited}::text[]) WITH ORDINALITY AS u(member, i) ORDER BY u.i`;
        }
        return true;
      })
    );
  }

  async invite(group: string, user: string, by: string): Promise<void> {
    await this.#write(() =>
      this.#sql`
        WITH g AS (SELECT name FROM groups WHERE key = ${nameKey(group)}),
        added AS (
          INSERT INTO memberships (group_name, member, state, invited_by)
          SELECT g.name, ${user}, 'invited', ${by} FROM g
          ON CONFLICT (group_name, member) DO NOTHING RETURNING group_name)
        UPDATE groups SET version = version + 1 WHERE name IN (SELECT group_name FROM added)`
    );
    this.#changed(group);
  }

  async join(group: string, user: string): Promise<void> {
    await this.#write(() =>
      this.#sql`
        WITH g AS (SELECT name, last_seq FROM groups WHERE key = ${nameKey(group)}),
        joined AS (
          UPDATE memberships m SET state = 'joined', read_seq = g.last_seq
          FROM g WHERE m.group_name = g.name AND m.member = ${user} AND m.state = 'invited'
          RETURNING m.group_name)
        UPDATE groups SET version = version + 1 WHERE name IN (SELECT group_name FROM joined)`
    );
    this.#changed(group);
  }

  async leave(group: string, user: string): Promise<boolean> {
    const rows = await this.#write(() =>
      this.#sql`
        WITH g AS (SELECT name FROM groups WHERE key = ${nameKey(group)}),
        gone AS (
          DELETE FROM memberships m USING g WHERE m.group_name = g.name AND m.member = ${user}
          RETURNING m.group_name)
        UPDATE groups SET version = version + 1 WHERE name IN (SELECT group_name FROM gone)
        RETURNING name`
    );
    this.#changed(group);
    return rows.length > 0;
  }

  async setTopic(group: string, topic: string): Promise<void> {
    await this.#write(() =>
      this.#sql`UPDATE groups SET topic = ${topic}, version = version + 1
                WHERE key = ${nameKey(group)}`
    );
    this.#changed(group);
  }

  async groupsOf(user: string): Promise<UserGroup[]> {
    const rows = await this.#run(() =>
      this.#sql<{ group_name: string; state: MembershipState; invited_by: string | null }[]>`
        SELECT group_name, state, invited_by FROM memberships
        WHERE member = ${user} ORDER BY group_name COLLATE "C"`
    );
    return rows.map((r) =>
      r.state === "invited" && r.invited_by !== null
        ? { group: r.group_name, state: r.state, invitedBy: r.invited_by }
        : { group: r.group_name, state: r.state }
    );
  }

  async listGroups(): Promise<string[]> {
    const rows = await this.#run(() =>
      this.#sql<{ name: string }[]>`SELECT name FROM groups ORDER BY name COLLATE "C"`
    );
    return rows.map((r) => r.name);
  }

  /**
   * Numbers and stores a group message. When the group's members changed
   * since this node read them, the cached group is brought up to date before
   * this resolves, so its `joined` list is the one the message was numbered
   * against.
   *
   * @throws {Error} when the group does not exist.
   */
  addGroupMessage(m: NewGroupMessage): Promise<GroupMessage> {
    this.#writes++;
    const key = nameKey(m.group);
    let batch = this.#groupBatches.get(key);
    if (!batch) {
      batch = new Batcher((items) => this.#storeGroupMessages(key, items));
      this.#groupBatches.set(key, batch);
    }
    const stored = batch.add(m);
    stored.finally(() => {
      if (batch.idle && this.#groupBatches.get(key) === batch) this.#groupBatches.delete(key);
    }).catch(() => {});
    return stored;
  }

  async #storeGroupMessages(key: string, items: NewGroupMessage[]): Promise<GroupMessage[]> {
    const rows = await this.#run(() =>
      this.#sql<{ name: string; first_seq: number; version: number }[]>`
        SELECT name, first_seq, version FROM add_group_messages(${key},
          ${items.map((m) => m.at)}::bigint[], ${items.map((m) => m.sender)}::text[],
          ${items.map((m) => m.text)}::text[])`
    );
    const { name, first_seq: first, version } = rows[0];
    const cached = this.#groups.get(key);
    if (cached) {
      cached.lastSeq = Math.max(cached.lastSeq, first + items.length - 1);
      if (cached.version !== version) await this.getGroup(key);
    }
    return items.map((m, i) => ({
      group: name,
      seq: first + i,
      at: m.at,
      sender: m.sender,
      text: m.text,
    }));
  }

  async groupMessages(group: string, afterSeq: number, limit: number): Promise<GroupMessage[]> {
    const rows = await this.#run(() =>
      this.#sql<GroupMessageRow[]>`
        SELECT group_name, seq, at, sender, text FROM group_messages
        WHERE group_name = (SELECT name FROM groups WHERE key = ${nameKey(group)})
          AND seq > ${afterSeq}
        ORDER BY seq LIMIT ${limit}`
    );
    return rows.map(toGroupMessage);
  }

  async groupHistory(group: string, limit: number, beforeSeq = NO_BOUND): Promise<GroupMessage[]> {
    const rows = await this.#run(() =>
      this.#sql<GroupMessageRow[]>`
        SELECT group_name, seq, at, sender, text FROM group_messages
        WHERE group_name = (SELECT name FROM groups WHERE key = ${nameKey(group)})
          AND seq < ${beforeSeq}
        ORDER BY seq DESC LIMIT ${limit}`
    );
    return rows.map(toGroupMessage).reverse();
  }

  async cursors(user: string): Promise<Cursors> {
    const [inbox, groups] = await this.#run(() =>
      Promise.all([
        this.#sql<{ inbox_acked: number }[]>`SELECT inbox_acked FROM users WHERE name = ${user}`,
        this.#sql<{ group_name: string; read_seq: number }[]>`
          SELECT group_name, read_seq FROM memberships
          WHERE member = ${user} AND state = 'joined'`,
      ])
    );
    return {
      inbox: inbox[0]?.inbox_acked ?? 0,
      groups: new Map(groups.map((r) => [r.group_name, r.read_seq])),
    };
  }

  /**
   * Moves cursors forward, never back and never past the newest message of
   * their stream, in one statement.
   */
  async saveCursors(
    user: string,
    inbox: number | undefined,
    groups: Iterable<[string, number]>,
  ): Promise<void> {
    const names: string[] = [];
    const seqs: number[] = [];
    for (const [g, s] of groups) {
      names.push(g);
      seqs.push(s);
    }
    if (inbox === undefined && names.length === 0) return;
    await this.#write(() =>
      this.#sql`
        WITH inbox AS (
          UPDATE users SET inbox_acked = GREATEST(inbox_acked, LEAST(${inbox ?? 0}, inbox_seq))
          WHERE name = ${user} AND ${inbox !== undefined} RETURNING 1)
        UPDATE memberships m SET read_seq = GREATEST(m.read_seq, LEAST(v.seq, g.last_seq))
        FROM unnest(${names}::text[], ${seqs}::bigint[]) AS v(group_name, seq), groups g
        WHERE m.member = ${user} AND m.group_name = v.group_name AND g.name = v.group_name
          AND m.state = 'joined'`
    );
  }

  /** Waits for the writes in flight, then closes the pool. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#sql.end({ timeout: 5 });
  }
}

/**
 * The seed's text logs (SPEC §4) in a cluster: one node at a time writes them
 * for the whole cluster, into its data dir — the node holding a PostgreSQL
 * advisory lock. Every node asks for the lock every few seconds; the holder
 * brings the files in line with the database when it gets the lock, then
 * follows the database: `messagelog.txt` from the private log (numbered 1..n
 * across the cluster, as the database numbers it), a `GROUP_messagelog.txt`
 * per group, and `userlog.txt` from the directory (everyone online on any
 * node, in login order). A writer that dies releases the lock with its
 * connection; the next node takes over and repairs its own copy first.
 *
 * The files therefore follow the database with a delay of about
 * {@link FOLLOW_INTERVAL_MS}; the database is what counts. Nodes that share a
 * data dir (several on one machine) share one set of files: only the holder
 * writes.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import type { Directory, GroupMessage, PrivateMessage } from "../ports.ts";
import { LogMismatchError, type LogSource, MessageLogs, UserLog } from "../text_logs.ts";
import { connectPostgres, type Sql } from "./pg.ts";

/** How often the writer reads what is new. */
export const FOLLOW_INTERVAL_MS = 250;
/** How often a node that does not write asks for the lock. */
const ELECTION_INTERVAL_MS = 2000;
/** How often the writer rewrites `userlog.txt` from the directory, when it changed. */
const USERLOG_INTERVAL_MS = 1000;
/** Rows read per query. */
const PAGE = 1000;
/** Names the lock (`pg_try_advisory_lock`). */
const LOG_LOCK = 0x7e55e10;

/** Settings of {@link ClusterLogs}. */
export interface ClusterLogsOptions {
  /** The cluster's database. */
  url: string;
  dataDir: string;
  directory: Directory;
  log: Logger;
}

type PrivateRow = Omit<PrivateMessage, "n" | "sender">;
type GroupRow = Omit<GroupMessage, "group">;

/** The election and, while this node holds the lock, the writing of the logs. */
export class ClusterLogs {
  readonly #sql: Sql;
  readonly #options: ClusterLogsOptions;
  #logs: MessageLogs | undefined;
  #userLog: UserLog | undefined;
  /** The users `userlog.txt` lists, in its order. */
  #listed: string[] = [];
  #lastUserLog = 0;
  /** The last private seq and group seqs written. */
  #privateSeq = 0;
  readonly #groupSeqs = new Map<string, number>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;
  /** Set when the files disagree with the database: this node stops writing them. */
  #refused = false;

  constructor(options: ClusterLogsOptions) {
    this.#options = options;
    // One connection: a session-level lock lives and dies with it.
    this.#sql = connectPostgres(options.url, { max: 1, applicationName: "tessenger:logs" });
  }

  /** True while this node writes the logs. */
  get writing(): boolean {
    return this.#logs !== undefined;
  }

  start(): void {
    this.#schedule(0);
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#running = this.#step().finally(() => {
        this.#running = undefined;
        this.#schedule(this.writing ? FOLLOW_INTERVAL_MS : ELECTION_INTERVAL_MS);
      });
    }, ms);
  }

  async #step(): Promise<void> {
    if (this.#refused) return;
    try {
      // Re-entrant on this connection: true while the lock is still ours; after a
      // reconnection it is taken again, or lost to another node.
      const [{ held }] = await this.#sql<{ held: boolean }[]>`
        SELECT pg_try_advisory_lock(${LOG_LOCK}) AS held`;
      if (!held) return this.#resign();
      if (!this.writing) await this.#takeOver();
      if (this.writing) await this.#follow();
    } catch (e) {
      if (e instanceof LogMismatchError) {
        this.#refused = true;
        this.#options.log.error("Not writing the text logs: {error}", { error: e.message });
        this.#resign();
        await this.#sql`SELECT pg_advisory_unlock_all()`.catch(() => {});
        return;
      }
      // The database is out of reach: the lock went with the connection.
      this.#resign();
    }
  }

  /** Becomes the writer: repairs the files from the database, then follows it. */
  async #takeOver(): Promise<void> {
    const { dataDir, log } = this.#options;
    const logs = new MessageLogs(dataDir, log);
    const source = await this.#snapshot();
    const repaired = await logs.reconcile(source.logSource);
    for (const path of repaired) log.warn("Repaired {path} from the database", { path });
    this.#privateSeq = source.privateSeq;
    this.#groupSeqs.clear();
    for (const [g, seq] of source.groupSeqs) this.#groupSeqs.set(g, seq);
    this.#userLog = new UserLog(dataDir, log);
    this.#listed = [];
    this.#lastUserLog = 0;
    this.#logs = logs;
    log.info("This node writes the cluster's text logs in {dir}", { dir: dataDir });
  }

  #resign(): void {
    if (!this.writing) return;
    this.#logs?.close();
    this.#logs = undefined;
    this.#userLog?.flush();
    this.#userLog = undefined;
    this.#options.log.info("This node no longer writes the cluster's text logs");
  }

  /** Everything in the database, read in pages, as `MessageLogs.reconcile` takes it. */
  async #snapshot(): Promise<{
    logSource: LogSource;
    privateSeq: number;
    groupSeqs: Map<string, number>;
  }> {
    const privates: PrivateMessage[] = [];
    for (let after = 0;;) {
      const rows = await this.#privateAfter(after);
      for (const r of rows) privates.push({ ...r, n: 0, sender: "" });
      if (rows.length < PAGE) break;
      after = rows[rows.length - 1].seq;
    }
    const groups = new Map<string, GroupMessage[]>();
    for (const { name } of await this.#sql<{ name: string }[]>`SELECT name FROM groups`) {
      const messages: GroupMessage[] = [];
      for (let after = 0;;) {
        const rows = await this.#groupAfter(name, after);
        for (const r of rows) messages.push({ ...r, group: name });
        if (rows.length < PAGE) break;
        after = rows[rows.length - 1].seq;
      }
      groups.set(name, messages);
    }
    return {
      logSource: {
        privateMessages: () => privates,
        listGroups: () => Promise.resolve([...groups.keys()]),
        allGroupMessages: (group) => groups.get(group) ?? [],
      },
      privateSeq: privates.at(-1)?.seq ?? 0,
      groupSeqs: new Map([...groups].map(([g, ms]) => [g, ms.at(-1)?.seq ?? 0])),
    };
  }

  #privateAfter(after: number) {
    return this.#sql<PrivateRow[]>`
      SELECT seq, at, receiver, text FROM private_messages
      WHERE seq > ${after} ORDER BY seq LIMIT ${PAGE}`;
  }

  #groupAfter(group: string, after: number) {
    return this.#sql<GroupRow[]>`
      SELECT seq, at, sender, text FROM group_messages
      WHERE group_name = ${group} AND seq > ${after} ORDER BY seq LIMIT ${PAGE}`;
  }

  /** Appends what the database has beyond what was written. */
  async #follow(): Promise<void> {
    const logs = this.#logs!;
    for (;;) {
      const rows = await this.#privateAfter(this.#privateSeq);
      for (const r of rows) logs.appendPrivate(r.seq, r.at, r.receiver, r.text);
      if (rows.length > 0) this.#privateSeq = rows[rows.length - 1].seq;
      if (rows.length < PAGE) break;
    }
    const groups = await this.#sql<{ name: string; last_seq: number }[]>`
      SELECT name, last_seq FROM groups`;
    for (const { name, last_seq: last } of groups) {
      let written = this.#groupSeqs.get(name);
      if (written === undefined) {
        logs.createGroupLog(name);
        this.#groupSeqs.set(name, written = 0);
      }
      while (written < last) {
        const rows = await this.#groupAfter(name, written);
        if (rows.length === 0) break;
        for (const r of rows) logs.appendGroup(name, r.seq, r.at, r.sender, r.text);
        written = rows[rows.length - 1].seq;
        this.#groupSeqs.set(name, written);
      }
    }
    logs.flush();
    if (Date.now() - this.#lastUserLog >= USERLOG_INTERVAL_MS) await this.#followUsers();
  }

  /** Brings `userlog.txt` in line with the directory: everyone online, in login order. */
  async #followUsers(): Promise<void> {
    this.#lastUserLog = Date.now();
    const online = await this.#options.directory.list();
    const userLog = this.#userLog!;
    const now = new Set(online.map((e) => e.user));
    for (const user of this.#listed) if (!now.has(user)) userLog.remove(user);
    const listed = new Set(this.#listed);
    for (const e of online) {
      if (!listed.has(e.user)) {
        userLog.add({ user: e.user, at: e.since, ip: e.ip, udpPort: e.udpPort });
      }
    }
    this.#listed = [
      ...this.#listed.filter((u) => now.has(u)),
      ...online
        .filter((e) => !listed.has(e.user)).map((e) => e.user),
    ];
  }

  /** Stops writing, releases the lock and closes the connection. */
  async close(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
    this.#resign();
    await this.#sql.end({ timeout: 2 });
  }
}

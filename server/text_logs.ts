/**
 * The human-readable record the server keeps beside its database (SPEC §4):
 * `userlog.txt`, `messagelog.txt` and one `GROUP_messagelog.txt` per group.
 * Every write is synchronous, so a line is on disk (in the OS cache, which
 * survives a killed process) before the reply that depends on it goes out.
 *
 * @module
 */

import { join } from "node:path";
import type { Logger } from "@logtape/logtape";
import { formatTimestamp } from "../shared/time.ts";
import type { GroupMessage, PrivateMessage } from "./ports.ts";

/** What {@link MessageLogs.reconcile} reads: every message, in order. */
export interface LogSource {
  privateMessages(): Iterable<PrivateMessage>;
  listGroups(): Promise<string[]>;
  allGroupMessages(group: string): Iterable<GroupMessage>;
}

/**
 * A text log holds lines the database does not: the database was emptied,
 * replaced by an older copy or lost. The server refuses to start rather than
 * rewrite the log to match.
 */
export class LogMismatchError extends Error {
  constructor(readonly path: string, readonly line: number) {
    super(
      `${path} line ${line} is not in the database (tessenger.db is missing, ` +
        "emptied or older than the log). Restore the database from a backup, or move the text " +
        "logs away to start with the database as it is",
    );
    this.name = "LogMismatchError";
  }
}

const encoder = new TextEncoder();

function writeAllSync(file: Deno.FsFile, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += file.writeSync(bytes.subarray(off));
}

function appendLine(path: string, line: string): void {
  using file = Deno.openSync(path, { append: true, create: true });
  writeAllSync(file, encoder.encode(line + "\n"));
}

/** The file's text, or undefined when it does not exist. */
function readIfExists(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

/**
 * Brings `path` in line with `text`, the lines the database has for it, where
 * the difference is one a crash can leave: lines missing at the end (the
 * database was written, the log not yet) and a last line cut short. The new
 * text goes to a temporary file that is then renamed over the old one, so a
 * crash during the repair leaves the old or the new file, never half.
 *
 * @throws {LogMismatchError} when the log holds a line the database does not:
 * never truncate a log to match a store that lost data.
 */
function reconcileFile(path: string, text: string): "same" | "created" | "repaired" {
  const old = readIfExists(path);
  if (old === text) return "same";
  if (old !== undefined) {
    // Whole lines only: a last line without its newline was cut short.
    const whole = old.slice(0, old.lastIndexOf("\n") + 1);
    if (!text.startsWith(whole)) {
      const lines = whole.split("\n");
      const expected = text.split("\n");
      let i = 0;
      while (i < lines.length && lines[i] === expected[i]) i++;
      throw new LogMismatchError(path, i + 1);
    }
  }
  const tmp = `${path}.tmp`;
  Deno.writeTextFileSync(tmp, text);
  Deno.renameSync(tmp, path);
  return old === undefined ? "created" : "repaired";
}

/** `messagelog.txt`: `N; TS; RECEIVER; TEXT`. */
export function privateLogLine(seq: number, at: number, receiver: string, text: string): string {
  return `${seq}; ${formatTimestamp(at)}; ${receiver}; ${text}`;
}

/** `GROUP_messagelog.txt`: `N; TS; SENDER; TEXT`. */
export function groupLogLine(seq: number, at: number, sender: string, text: string): string {
  return `${seq}; ${formatTimestamp(at)}; ${sender}; ${text}`;
}

/** One online user as `userlog.txt` lists them. */
export interface UserLogEntry {
  user: string;
  at: number;
  ip: string;
  udpPort: number;
}

/** Minimum time between two full rewrites of `userlog.txt`; later ones are coalesced. */
const USERLOG_REWRITE_INTERVAL_MS = 50;

/** How long after a failed write of `userlog.txt` it is tried again. */
const USERLOG_RETRY_MS = 1000;

/**
 * `userlog.txt`: who is online now, numbered 1..n. A login appends a line; a
 * logout rewrites the file so the numbers stay 1..n. Bursts of logouts are
 * coalesced into one rewrite at most every {@link USERLOG_REWRITE_INTERVAL_MS}.
 * A write that fails (no space, no file descriptor left) is logged and tried
 * again shortly with the whole file: the list in memory is what counts.
 */
export class UserLog {
  readonly #path: string;
  readonly #log: Logger | undefined;
  #entries: UserLogEntry[] = [];
  #lastRewrite = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Set while the file on disk is known to be behind the list. */
  #failing = false;

  /** @throws {Error} when `userlog.txt` cannot be emptied at start. */
  constructor(dataDir: string, log?: Logger) {
    this.#path = join(dataDir, "userlog.txt");
    this.#log = log;
    Deno.writeTextFileSync(this.#path, "");
  }

  add(entry: UserLogEntry): void {
    this.#entries.push(entry);
    if (this.#timer !== undefined) return;
    try {
      appendLine(this.#path, this.#line(this.#entries.length, entry));
    } catch (e) {
      this.#failed(e);
    }
  }

  remove(user: string): void {
    const i = this.#entries.findIndex((e) => e.user === user);
    if (i === -1) return;
    this.#entries.splice(i, 1);
    if (this.#timer !== undefined) return;
    const wait = this.#lastRewrite + USERLOG_REWRITE_INTERVAL_MS - performance.now();
    if (wait <= 0) this.#rewrite();
    else this.#schedule(wait);
  }

  /** Writes any pending change now (at shutdown). */
  flush(): void {
    if (this.#timer === undefined) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#rewrite();
  }

  #schedule(wait: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#rewrite();
    }, wait);
  }

  #line(seq: number, e: UserLogEntry): string {
    return `${seq}; ${formatTimestamp(e.at)}; ${e.user}; ${e.ip}; ${e.udpPort}`;
  }

  #rewrite(): void {
    this.#lastRewrite = performance.now();
    const text = this.#entries.map((e, i) => this.#line(i + 1, e) + "\n").join("");
    try {
      // Whole or nothing: a failed write leaves the old file, not half of the new one.
      const tmp = `${this.#path}.tmp`;
      Deno.writeTextFileSync(tmp, text);
      Deno.renameSync(tmp, this.#path);
      if (this.#failing) this.#log?.info("{path} is written again", { path: this.#path });
      this.#failing = false;
    } catch (e) {
      this.#failed(e);
    }
  }

  #failed(e: unknown): void {
    if (!this.#failing) {
      this.#log?.error("Cannot write {path}: {error}; trying again every second", {
        path: this.#path,
        error: e instanceof Error ? e.message : String(e),
      });
    }
    this.#failing = true;
    if (this.#timer === undefined) this.#schedule(USERLOG_RETRY_MS);
  }
}

/** How long after a failed write the buffered log lines are tried again. */
const LOG_RETRY_MS = 1000;

/** Log files kept open for appending; the least recently used is closed beyond this. */
const MAX_OPEN_LOGS = 64;

/**
 * `messagelog.txt` and the group logs. Line numbers come from the store, so
 * the files agree with it; {@link MessageLogs.reconcile} rewrites a file that
 * does not (after a crash between the database write and the log write).
 *
 * Appended lines are buffered and written together by {@link MessageLogs.flush},
 * which the server calls right after the store commits and before any reply
 * goes out (and which runs at the end of the turn anyway): one write per file
 * per turn instead of one per message. The files most recently written stay
 * open; {@link MessageLogs.close} flushes and closes them.
 */
export class MessageLogs {
  readonly #dir: string;
  readonly #log: Logger | undefined;
  #failing = false;
  /** Open append handles by path, least recently used first. */
  readonly #open = new Map<string, Deno.FsFile>();
  /** Lines not yet written, by path. */
  readonly #pending = new Map<string, string[]>();
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  /** `GROUP_messagelog.txt` paths by group, built once each. */
  readonly #groupPaths = new Map<string, string>();
  readonly #privatePath: string;

  constructor(dataDir: string, log?: Logger) {
    this.#dir = dataDir;
    this.#log = log;
    this.#privatePath = join(dataDir, "messagelog.txt");
  }

  #append(path: string, line: string): void {
    const lines = this.#pending.get(path);
    if (lines) lines.push(line);
    else this.#pending.set(path, [line]);
  }

  /**
   * Writes every buffered line. A file that cannot be written keeps its lines
   * for the next flush, and a partial write is cut back first, so the file
   * never holds half a line.
   *
   * @throws {Error} the first write error, after trying every file.
   */
  flush(): void {
    if (this.#flushTimer !== undefined) clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    if (this.#pending.size === 0) return;
    let failure: unknown;
    for (const [path, lines] of this.#pending) {
      try {
        this.#write(path, encoder.encode(lines.join("\n") + "\n"));
        this.#pending.delete(path);
      } catch (e) {
        failure ??= e;
        this.#closeFile(path);
      }
    }
    if (failure !== undefined) {
      // Lines stay pending: a later flush writes them once there is room.
      this.#flushTimer = setTimeout(() => this.flushQuietly(), LOG_RETRY_MS);
      throw failure;
    }
  }

  /** {@link flush}, logging a failure (once per outage) instead of throwing. */
  flushQuietly(): void {
    try {
      this.flush();
      if (this.#failing) this.#log?.info("Text logs are written again");
      this.#failing = false;
    } catch (e) {
      if (!this.#failing) {
        this.#log?.error(
          "Cannot write the text logs: {error}; the lines are kept and written once possible",
          { error: e instanceof Error ? e.message : String(e) },
        );
      }
      this.#failing = true;
    }
  }

  /** Drops the buffered lines: the writes they record were undone. */
  discardPending(): void {
    this.#pending.clear();
  }

  /** Appends `bytes` to `path` whole, or cuts the file back to where it was. */
  #write(path: string, bytes: Uint8Array): void {
    const file = this.#file(path);
    const before = file.statSync().size;
    try {
      writeAllSync(file, bytes);
    } catch (e) {
      try {
        file.truncateSync(before);
      } catch {
        // the next start's reconcile repairs a cut-short line
      }
      throw e;
    }
  }

  #closeFile(path: string): void {
    const file = this.#open.get(path);
    if (file === undefined) return;
    this.#open.delete(path);
    try {
      file.close();
    } catch {
      // already closed
    }
  }

  /** An open append handle for `path`, least recently used ones closed beyond the cap. */
  #file(path: string): Deno.FsFile {
    let file = this.#open.get(path);
    if (file) {
      this.#open.delete(path);
    } else {
      file = Deno.openSync(path, { append: true, create: true });
      if (this.#open.size >= MAX_OPEN_LOGS) {
        const [oldest, handle] = this.#open.entries().next().value!;
        this.#open.delete(oldest);
        handle.close();
      }
    }
    this.#open.set(path, file);
    return file;
  }

  /** Writes buffered lines and closes the open log files; a later append reopens them. */
  close(): void {
    try {
      this.flush();
    } finally {
      for (const file of this.#open.values()) file.close();
      this.#open.clear();
    }
  }

  groupLogPath(group: string): string {
    let path = this.#groupPaths.get(group);
    if (path === undefined) {
      path = join(this.#dir, `${group}_messagelog.txt`);
      // Group names are never removed; the map holds one short string per group.
      this.#groupPaths.set(group, path);
    }
    return path;
  }

  /** Creates an empty `GROUP_messagelog.txt`; if it cannot now, the first line or the next start will. */
  createGroupLog(group: string): void {
    try {
      Deno.writeTextFileSync(this.groupLogPath(group), "", { append: true });
    } catch (e) {
      this.#log?.warn("Cannot create {path} yet: {error}", {
        path: this.groupLogPath(group),
        error: e instanceof Error ? e.message : String(e),
      });
    }
  }

  appendPrivate(seq: number, at: number, receiver: string, text: string): void {
    this.#append(this.#privatePath, privateLogLine(seq, at, receiver, text));
  }

  appendGroup(group: string, seq: number, at: number, sender: string, text: string): void {
    this.#append(this.groupLogPath(group), groupLogLine(seq, at, sender, text));
  }

  /**
   * Makes every log agree with the store, which is authoritative, where a
   * crash can have left them behind: lines missing at the end, a last line cut
   * short, a missing file. A log that holds lines the store does not is never
   * cut to match: {@link LogMismatchError}.
   *
   * @returns the files repaired (a missing file that is created is not listed).
   * @throws {LogMismatchError} when a log holds lines the store does not.
   */
  async reconcile(store: LogSource): Promise<string[]> {
    // Pending lines first, and no append handle may outlive a file replaced below.
    this.close();
    const repaired: string[] = [];
    const privateText = [...store.privateMessages()]
      .map((m) => privateLogLine(m.seq, m.at, m.receiver, m.text) + "\n").join("");
    if (reconcileFile(this.#privatePath, privateText) === "repaired") {
      repaired.push(this.#privatePath);
    }
    for (const group of await store.listGroups()) {
      const path = this.groupLogPath(group);
      const text = [...store.allGroupMessages(group)]
        .map((m) => groupLogLine(m.seq, m.at, m.sender, m.text) + "\n").join("");
      if (reconcileFile(path, text) === "repaired") repaired.push(path);
    }
    return repaired;
  }
}

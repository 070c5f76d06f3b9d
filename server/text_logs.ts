/**
 * The human-readable record the server keeps beside its database (SPEC §4):
 * `userlog.txt`, `messagelog.txt` and one `GROUP_messagelog.txt` per group.
 * Every write is synchronous, so a line is on disk (in the OS cache, which
 * survives a killed process) before the reply that depends on it goes out.
 *
 * @module
 */

import { join } from "node:path";
import { clearImmediate, setImmediate } from "node:timers";
import { formatTimestamp } from "../shared/time.ts";
import type { ChatStore } from "./store.ts";

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
 * Rewrites `path` with `text` unless it already holds exactly that. Comparing
 * the whole text (not a line count) also repairs a last line cut short by a
 * crash, which would otherwise count as a line and glue onto the next append.
 * The new text goes to a temporary file that is then renamed over the old one,
 * so a crash during the repair leaves the old or the new file, never half.
 */
function rewriteIfDifferent(path: string, text: string): "same" | "created" | "rewritten" {
  const old = readIfExists(path);
  if (old === text) return "same";
  const tmp = `${path}.tmp`;
  Deno.writeTextFileSync(tmp, text);
  Deno.renameSync(tmp, path);
  return old === undefined ? "created" : "rewritten";
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

/**
 * `userlog.txt`: who is online now, numbered 1..n. A login appends a line; a
 * logout rewrites the file so the numbers stay 1..n. Bursts of logouts are
 * coalesced into one rewrite at most every {@link USERLOG_REWRITE_INTERVAL_MS}.
 */
export class UserLog {
  readonly #path: string;
  #entries: UserLogEntry[] = [];
  #lastRewrite = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(dataDir: string) {
    this.#path = join(dataDir, "userlog.txt");
    Deno.writeTextFileSync(this.#path, "");
  }

  add(entry: UserLogEntry): void {
    this.#entries.push(entry);
    if (this.#timer === undefined) appendLine(this.#path, this.#line(this.#entries.length, entry));
  }

  remove(user: string): void {
    const i = this.#entries.findIndex((e) => e.user === user);
    if (i === -1) return;
    this.#entries.splice(i, 1);
    if (this.#timer !== undefined) return;
    const wait = this.#lastRewrite + USERLOG_REWRITE_INTERVAL_MS - performance.now();
    if (wait <= 0) {
      this.#rewrite();
    } else {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#rewrite();
      }, wait);
    }
  }

  /** Writes any pending change now (at shutdown). */
  flush(): void {
    if (this.#timer === undefined) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#rewrite();
  }

  #line(seq: number, e: UserLogEntry): string {
    return `${seq}; ${formatTimestamp(e.at)}; ${e.user}; ${e.ip}; ${e.udpPort}`;
  }

  #rewrite(): void {
    this.#lastRewrite = performance.now();
    const text = this.#entries.map((e, i) => this.#line(i + 1, e) + "\n").join("");
    Deno.writeTextFileSync(this.#path, text);
  }
}

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
  /** Open append handles by path, least recently used first. */
  readonly #open = new Map<string, Deno.FsFile>();
  /** Lines not yet written, by path. */
  readonly #pending = new Map<string, string[]>();
  #flushTimer: ReturnType<typeof setImmediate> | undefined;
  /** `GROUP_messagelog.txt` paths by group, built once each. */
  readonly #groupPaths = new Map<string, string>();
  readonly #privatePath: string;

  constructor(dataDir: string) {
    this.#dir = dataDir;
    this.#privatePath = join(dataDir, "messagelog.txt");
  }

  #append(path: string, line: string): void {
    const lines = this.#pending.get(path);
    if (lines) lines.push(line);
    else this.#pending.set(path, [line]);
    this.#flushTimer ??= setImmediate(() => {
      this.#flushTimer = undefined;
      try {
        this.flush();
      } catch {
        // the lines are in the database; reconcile() restores them at the next start
      }
    });
  }

  /**
   * Writes every buffered line.
   *
   * @throws {Error} the first write error, after trying every file; the lines
   * that failed are dropped here and restored from the store by `reconcile()`.
   */
  flush(): void {
    if (this.#flushTimer !== undefined) clearImmediate(this.#flushTimer);
    this.#flushTimer = undefined;
    if (this.#pending.size === 0) return;
    let failure: unknown;
    for (const [path, lines] of this.#pending) {
      try {
        writeAllSync(this.#file(path), encoder.encode(lines.join("\n") + "\n"));
      } catch (e) {
        failure ??= e;
      }
    }
    this.#pending.clear();
    if (failure !== undefined) throw failure;
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

  /** Creates an empty `GROUP_messagelog.txt` for a new group. */
  createGroupLog(group: string): void {
    Deno.writeTextFileSync(this.groupLogPath(group), "", { append: true });
  }

  appendPrivate(seq: number, at: number, receiver: string, text: string): void {
    this.#append(this.#privatePath, privateLogLine(seq, at, receiver, text));
  }

  appendGroup(group: string, seq: number, at: number, sender: string, text: string): void {
    this.#append(this.groupLogPath(group), groupLogLine(seq, at, sender, text));
  }

  /**
   * Makes every log agree with the store, which is authoritative: a file that
   * differs from what the store's rows would write (a line missing after a
   * crash between the database write and the log write, a line cut short, a
   * missing file) is rewritten from the store.
   *
   * @returns the files rewritten (a missing file that is created is not listed).
   */
  reconcile(store: ChatStore): string[] {
    // Pending lines first, and no append handle may outlive a file replaced below.
    this.close();
    const rewritten: string[] = [];
    const privatePath = join(this.#dir, "messagelog.txt");
    const privateText = [...store.privateMessages()]
      .map((m) => privateLogLine(m.seq, m.at, m.receiver, m.text) + "\n").join("");
    if (rewriteIfDifferent(privatePath, privateText) === "rewritten") rewritten.push(privatePath);
    for (const group of store.listGroups()) {
      const path = this.groupLogPath(group);
      const text = [...store.groupMessages(group)]
        .map((m) => groupLogLine(m.seq, m.at, m.sender, m.text) + "\n").join("");
      if (rewriteIfDifferent(path, text) === "rewritten") rewritten.push(path);
    }
    return rewritten;
  }
}

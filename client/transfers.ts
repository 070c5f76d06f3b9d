/**
 * The client's file transfers as the user sees them: each with a short id, its file and
 * peer, and whether it runs, waits for the user's answer (`--accept ask`) or waits for a
 * free slot (at most `--max-incoming` files come in at once). `/cancel`, `/accept` and
 * `/decline` find them here by id or file name; `/transfers` lists them.
 *
 * ```ts
 * import type { TransferHandle } from "./transfer_driver.ts";
 * declare const handle: TransferHandle;
 * const list = new TransferList();
 * list.add(handle, { file: "clip.mp4", peer: "Hans", size: 1e6, state: "running" });
 * const found = list.find("clip.mp4", (e) => e.state !== "asking");
 * if ("entry" in found) found.entry.handle.cancel("Yoda cancelled it");
 * ```
 *
 * @module
 */

import { formatBytes } from "../shared/transfer/progress.ts";
import type { TransferHandle } from "./transfer_driver.ts";

/** What an incoming file gets: always taken, the user asked, never taken. */
export type AcceptPolicy = "always" | "ask" | "never";

/** The policies, the default first. */
export const ACCEPT_POLICIES: readonly AcceptPolicy[] = ["always", "ask", "never"];

/** Incoming files above this size are refused by default (bytes). */
export const DEFAULT_MAX_FILE_SIZE = 4 * 1024 ** 3;

/** Files that come in at once by default; more wait for a slot. */
export const DEFAULT_MAX_INCOMING = 4;

/** Incoming files that may wait (for an answer or a slot); more are refused. */
export const MAX_WAITING_INCOMING = 16;

/** An unanswered `--accept ask` offer is declined after this long (ms). */
export const ASK_TIMEOUT_MS = 10 * 60 * 1000;

/** Where a transfer is, for the user. */
export type EntryState =
  /** Moving (or finding its path). */
  | "running"
  /** Incoming, waiting for the user's /accept or /decline. */
  | "asking"
  /** Incoming and accepted, waiting until fewer files come in. */
  | "queued";

/** One transfer of the list. */
export interface TransferEntry {
  handle: TransferHandle;
  /** A short form of the transfer id, for /cancel ID. */
  id: string;
  /** The file as the user knows it (sender: as typed; receiver: as offered). */
  file: string;
  peer: string;
  size: number;
  state: EntryState;
  /** The user stopped it (/cancel, /decline, /logout): how its end is told, then. */
  stoppedByUser: string | undefined;
  /** Clears the `--accept ask` timeout. */
  timer?: ReturnType<typeof setTimeout>;
}

/** Characters of the transfer id shown and matched. */
const SHORT_ID = 6;

/** The client's transfers, in the order they began. */
export class TransferList {
  readonly #entries: TransferEntry[] = [];

  /** Adds a transfer. */
  add(
    handle: TransferHandle,
    info: { file: string; peer: string; size: number; state: EntryState },
  ): TransferEntry {
    const entry: TransferEntry = {
      handle,
      id: handle.id.slice(0, SHORT_ID),
      ...info,
      stoppedByUser: undefined,
    };
    this.#entries.push(entry);
    return entry;
  }

  /** Removes a transfer (it ended). */
  remove(handle: TransferHandle): TransferEntry | undefined {
    const i = this.#entries.findIndex((e) => e.handle === handle);
    if (i < 0) return undefined;
    const [entry] = this.#entries.splice(i, 1);
    clearTimeout(entry.timer);
    return entry;
  }

  /** The transfers, oldest first. */
  get entries(): readonly TransferEntry[] {
    return this.#entries;
  }

  /** Incoming transfers that move (or find their path), not the waiting ones. */
  get incomingRunning(): number {
    return this.#entries.filter((e) => e.handle.direction === "receive" && e.state === "running")
      .length;
  }

  /** Incoming transfers that wait for an answer or a slot. */
  get incomingWaiting(): number {
    return this.#entries.filter((e) => e.handle.direction === "receive" && e.state !== "running")
      .length;
  }

  /** The oldest accepted incoming transfer waiting for a slot. */
  nextQueued(): TransferEntry | undefined {
    return this.#entries.find((e) => e.state === "queued");
  }

  /**
   * The one transfer `query` names among those `eligible`: by the start of its id, or by
   * its file name (or the file name's last part). Without a query, the only eligible
   * one. Else a line saying why none or which ones.
   */
  find(
    query: string | undefined,
    eligible: (e: TransferEntry) => boolean = () => true,
  ): { entry: TransferEntry } | { error: string } {
    const candidates = this.#entries.filter(eligible);
    const q = query?.trim();
    const hits = q === undefined || q === ""
      ? candidates
      : candidates.filter((e) =>
        e.id.startsWith(q.toLowerCase()) || e.handle.id.startsWith(q.toLowerCase()) ||
        e.file === q || lastPart(e.file) === q
      );
    if (hits.length === 1) return { entry: hits[0] };
    if (hits.length === 0) {
      return {
        error: q === undefined || q === ""
          ? "No such file transfer."
          : `No file transfer matches ${JSON.stringify(q)}.`,
      };
    }
    return { error: `Which one? ${hits.map(describe).join("; ")}.` };
  }
}

/** "a1b2c3 clip.mp4 (3.0 MiB) to Hans, waiting for an answer" */
export function describe(entry: TransferEntry): string {
  const way = entry.handle.direction === "send" ? `to ${entry.peer}` : `from ${entry.peer}`;
  const state = entry.state === "asking"
    ? ", waiting for your answer"
    : entry.state === "queued"
    ? ", waiting for a free slot"
    : entry.handle.waiting
    ? `, waiting for ${entry.peer} to accept`
    : "";
  return `${entry.id} ${entry.file} (${formatBytes(entry.size)}) ${way}${state}`;
}

/** The last part of a path, as the receiver will name the file. */
function lastPart(path: string): string {
  return path.split(/[\\/]/).pop() ?? path;
}

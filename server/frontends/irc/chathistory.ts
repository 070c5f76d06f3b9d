/**
 * `CHATHISTORY` (IRCv3 draft/chathistory): reading a request and framing the
 * answer as a `chathistory` batch. Pure code; the front end fetches the
 * messages from the store behind `/history`.
 *
 * Supported: `LATEST target * N`, `LATEST target timestamp=T|msgid=M N` (the
 * newest messages after the reference) and `BEFORE target timestamp=T|msgid=M N`.
 *
 * @module
 */

import type { IrcMessage } from "./message.ts";
import { parseServerTime } from "./text.ts";

/** Where a page of history starts. */
export type HistoryRef =
  /** No reference: the newest messages. */
  | { kind: "none" }
  | { kind: "timestamp"; at: number }
  | { kind: "msgid"; id: string };

/** A request the front end can answer. */
export interface ChathistoryRequest {
  subcommand: "LATEST" | "BEFORE";
  target: string;
  ref: HistoryRef;
  /** At most the server's limit. */
  limit: number;
}

/** A request refused with a standard reply: `FAIL CHATHISTORY CODE ...context :text`. */
export interface ChathistoryFailure {
  fail: "NEED_MORE_PARAMS" | "INVALID_PARAMS" | "UNKNOWN_COMMAND";
  context: string[];
  text: string;
}

const SUPPORTED = new Set(["LATEST", "BEFORE"]);
const KNOWN = new Set(["LATEST", "BEFORE", "AFTER", "AROUND", "BETWEEN", "TARGETS"]);

/**
 * Reads the parameters of a `CHATHISTORY` command.
 *
 * @param maxLimit the most messages one answer holds (ISUPPORT `CHATHISTORY`).
 * @example
 * ```ts
 * parseChathistory(["LATEST", "#rebels", "*", "50"], 200);
 * // { subcommand: "LATEST", target: "#rebels", ref: { kind: "none" }, limit: 50 }
 * ```
 */
export function parseChathistory(
  params: string[],
  maxLimit: number,
): ChathistoryRequest | ChathistoryFailure {
  const sub = (params[0] ?? "").toUpperCase();
  if (sub === "") {
    return { fail: "NEED_MORE_PARAMS", context: ["*"], text: "Missing parameters" };
  }
  if (!KNOWN.has(sub)) {
    return { fail: "UNKNOWN_COMMAND", context: [params[0]], text: "Unknown subcommand" };
  }
  if (!SUPPORTED.has(sub)) {
    return {
      fail: "INVALID_PARAMS",
      context: [sub],
      text: `CHATHISTORY ${sub} is not supported: use LATEST or BEFORE`,
    };
  }
  if (params.length < 4) {
    return { fail: "NEED_MORE_PARAMS", context: [sub], text: "Missing parameters" };
  }
  const [, target, refText, limitText] = params;
  const ref = parseRef(refText);
  if (ref === undefined || (sub === "BEFORE" && ref.kind === "none")) {
    return { fail: "INVALID_PARAMS", context: [sub, refText], text: "Invalid message reference" };
  }
  const limit = /^\d{1,9}$/.test(limitText) ? Number(limitText) : 0;
  if (limit < 1) {
    return { fail: "INVALID_PARAMS", context: [sub, limitText], text: "Invalid limit" };
  }
  return {
    subcommand: sub as ChathistoryRequest["subcommand"],
    target,
    ref,
    limit: Math.min(limit, maxLimit),
  };
}

function parseRef(text: string): HistoryRef | undefined {
  if (text === "*") return { kind: "none" };
  const eq = text.indexOf("=");
  const kind = text.slice(0, eq);
  const value = text.slice(eq + 1);
  if (eq === -1 || value === "") return undefined;
  if (kind === "msgid") return { kind: "msgid", id: value };
  if (kind !== "timestamp") return undefined;
  const at = parseServerTime(value);
  return at === undefined ? undefined : { kind: "timestamp", at };
}

/**
 * Wraps history messages in a `chathistory` batch: `BATCH +id chathistory
 * target`, the messages tagged `batch=id`, `BATCH -id`. An empty page is an
 * empty batch.
 */
export function historyBatch(
  serverName: string,
  id: string,
  target: string,
  messages: readonly IrcMessage[],
): IrcMessage[] {
  return [
    { source: serverName, command: "BATCH", params: [`+${id}`, "chathistory", target] },
    ...messages.map((m) => ({ ...m, tags: { ...m.tags, batch: id } })),
    { source: serverName, command: "BATCH", params: [`-${id}`] },
  ];
}

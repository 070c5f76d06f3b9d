/**
 * Message text between IRC and the store the native clients read. IRC text
 * may carry CTCP (`\x01ACTION waves\x01` for `/me waves`) and mIRC formatting
 * codes (bold, colours, ...); native text carries neither (control characters
 * are refused). Pure code.
 *
 * - `/me` travels as the text `/me waves`: native users read it as typed, IRC
 *   receivers get a CTCP ACTION back.
 * - Formatting codes are removed; a tab becomes a space.
 * - Other CTCP requests (VERSION, PING, ...) have no native meaning: the
 *   caller refuses them.
 *
 * @module
 */

import { IRC_MAX_LINE_BYTES } from "../../../shared/limits.ts";
import { type IrcMessage, utf8Length } from "./message.ts";
import { splitText } from "./split.ts";

/** What an IRC message's text is, for the store. */
export type IrcText =
  /** Text to store (an ACTION is `/me ...`). */
  | { kind: "text"; text: string }
  /** A CTCP request other than ACTION, by its verb. */
  | { kind: "ctcp"; verb: string };

const ACTION_PREFIX = "/me ";

// \x02 bold, \x1d italic, \x1f underline, \x1e strike, \x11 monospace,
// \x16 reverse, \x0f reset; \x03 colour with up to two 1–2 digit numbers;
// \x04 hex colour with up to two 6-digit hex numbers.
const FORMATTING =
  // deno-lint-ignore no-control-regex
  /\x03(?:\d{1,2}(?:,\d{1,2})?)?|\x04(?:[0-9A-Fa-f]{6}(?:,[0-9A-Fa-f]{6})?)?|[\x02\x0f\x11\x16\x1d\x1e\x1f]/g;

/**
 * Reads the text of an IRC PRIVMSG or NOTICE.
 *
 * @example
 * ```ts
 * fromIrcText("\x01ACTION waves\x01"); // { kind: "text", text: "/me waves" }
 * fromIrcText("\x02bold\x02 move"); // { kind: "text", text: "bold move" }
 * ```
 */
export function fromIrcText(text: string): IrcText {
  if (text.startsWith("\x01")) {
    const body = text.endsWith("\x01") && text.length > 1 ? text.slice(1, -1) : text.slice(1);
    const space = body.indexOf(" ");
    const verb = (space === -1 ? body : body.slice(0, space)).toUpperCase();
    if (verb !== "ACTION") return { kind: "ctcp", verb };
    return { kind: "text", text: ACTION_PREFIX + clean(space === -1 ? "" : body.slice(space + 1)) };
  }
  return { kind: "text", text: clean(text) };
}

function clean(text: string): string {
  return text.replace(FORMATTING, "").replaceAll("\t", " ");
}

/**
 * Stored text as IRC lines of at most `maxBytes` each: split as
 * {@link splitText} does, and `/me waves` sent as a CTCP ACTION on every line.
 *
 * @example
 * ```ts
 * toIrcTexts("/me waves", 400); // ["\x01ACTION waves\x01"]
 * ```
 */
export function toIrcTexts(text: string, maxBytes: number): string[] {
  if (!text.startsWith(ACTION_PREFIX)) return splitText(text, maxBytes);
  const wrap = CTCP_ACTION.length + 1;
  return splitText(text.slice(ACTION_PREFIX.length), maxBytes - wrap).map((piece) =>
    `${CTCP_ACTION}${piece}\x01`
  );
}

const CTCP_ACTION = "\x01ACTION ";

/**
 * A time as IRCv3 server-time writes it: `YYYY-MM-DDThh:mm:ss.sssZ`, UTC.
 *
 * @example
 * ```ts
 * serverTime(Date.UTC(2023, 5, 1, 15, 0, 1)); // "2023-06-01T15:00:01.000Z"
 * ```
 */
export function serverTime(ms: number): string {
  return new Date(ms).toISOString();
}

const SERVER_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?Z$/;

/** Reads a server-time timestamp; undefined when it is not one. */
export function parseServerTime(text: string): number | undefined {
  if (!SERVER_TIME.test(text)) return undefined;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? ms : undefined;
}

/** Settings of {@link textMessages}. */
export interface TextMessageOptions {
  /** `nick!user@host` of the sender. */
  source: string;
  command: "PRIVMSG" | "NOTICE";
  /** A nick or `#channel`. */
  target: string;
  /** The stored text; `/me ...` goes as a CTCP ACTION (see `text.ts`). */
  text: string;
  /** Tags for every line (they do not count against the 512 bytes). */
  tags?: Record<string, string>;
}

/**
 * The PRIVMSG or NOTICE lines that carry `text` to `target`, each within
 * {@link IRC_MAX_LINE_BYTES} with its prefix and CR LF counted.
 *
 * @example
 * ```ts
 * textMessages({ source: "Hans!Hans@tessenger", command: "PRIVMSG", target: "Yoda", text: "hi" });
 * // [{ source: "Hans!Hans@tessenger", command: "PRIVMSG", params: ["Yoda", "hi"] }]
 * ```
 */
export function textMessages(options: TextMessageOptions): IrcMessage[] {
  const { source, command, target, text, tags } = options;
  const overhead = utf8Length(`:${source} ${command} ${target} :\r\n`);
  return toIrcTexts(text, IRC_MAX_LINE_BYTES - overhead).map((piece) => ({
    ...(tags ? { tags } : {}),
    source,
    command,
    params: [target, piece],
  }));
}

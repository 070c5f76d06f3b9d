/**
 * The IRC line codec: messages as modern.ircdocs.horse describes them
 * (RFC 1459/2812 framing with IRCv3 message tags). Pure code: bytes or text
 * in, messages out, and back.
 *
 * A line is `[@tags SPACE] [:source SPACE] COMMAND [params] CR LF`. Without its
 * tags it is at most {@link IRC_MAX_LINE_BYTES} bytes, CR LF included; the tag
 * data a client sends is at most {@link IRC_MAX_TAG_DATA_BYTES}. A bare LF ends
 * a line as CR LF does, and so does a bare CR.
 *
 * @module
 */

import { IRC_MAX_LINE_BYTES, IRC_MAX_TAG_DATA_BYTES } from "../../../shared/limits.ts";
import { ByteLines } from "../../../shared/lines.ts";

/** One IRC message. */
export interface IrcMessage {
  /** Message tags, key → unescaped value; `""` is a tag without a value. */
  tags?: Record<string, string>;
  /** Who it is from: a server name or `nick!user@host`; absent in client lines. */
  source?: string;
  /** The verb, upper-cased (`PRIVMSG`), or a three-digit numeric (`001`). */
  command: string;
  /** The parameters; the last one may hold spaces (it is sent after `:`). */
  params: string[];
}

/** Why a line from a client was not understood. */
export type IrcLineErrorCode = "too_long" | "tags_too_long" | "bad_utf8" | "malformed";

/** A line that could not be decoded; the stream goes on at the next line. */
export class IrcLineError extends Error {
  /**
   * @param command the line's verb, when it could be read (for replies such as
   *   `FAIL PRIVMSG INVALID_UTF8`).
   */
  constructor(
    readonly code: IrcLineErrorCode,
    message: string,
    readonly command?: string,
  ) {
    super(message);
    this.name = "IrcLineError";
  }
}

const TAG_KEY = /^\+?(?:[A-Za-z0-9.-]+\/)?[A-Za-z0-9-]+$/;
const COMMAND = /^(?:[A-Za-z]+|[0-9]{3})$/;
const LINE_BREAK_OR_NUL = /[\r\n\0]/;

const TAG_ESCAPES: Record<string, string> = {
  ";": "\\:",
  " ": "\\s",
  "\\": "\\\\",
  "\r": "\\r",
  "\n": "\\n",
};
const TAG_UNESCAPES: Record<string, string> = { ":": ";", s: " ", "\\": "\\", r: "\r", n: "\n" };

/**
 * Escapes a tag value for the wire (IRCv3 message-tags).
 *
 * @example
 * ```ts
 * escapeTagValue("a b;c"); // "a\\sb\\:c"
 * ```
 */
export function escapeTagValue(value: string): string {
  return value.replace(/[; \\\r\n]/g, (c) => TAG_ESCAPES[c]);
}

/**
 * Reads an escaped tag value: `\:` `\s` `\\` `\r` `\n` are `;`, space, `\`,
 * CR and LF; a backslash before any other character is dropped, and so is a
 * lone one at the end.
 */
export function unescapeTagValue(raw: string): string {
  if (!raw.includes("\\")) return raw;
  return raw.replace(/\\(.?)/gs, (_, c: string) => TAG_UNESCAPES[c] ?? c);
}

function parseTags(raw: string): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const item of raw.split(";")) {
    if (item === "") continue;
    const eq = item.indexOf("=");
    const key = eq === -1 ? item : item.slice(0, eq);
    // A malformed key is dropped, not the whole line: tags are optional data.
    if (!TAG_KEY.test(key)) continue;
    tags[key] = eq === -1 ? "" : unescapeTagValue(item.slice(eq + 1));
  }
  return tags;
}

/**
 * Parses one line (without its line ending). Spaces between parameters may be
 * repeated; a parameter starting with `:` takes the rest of the line.
 *
 * @throws {IrcLineError} with code `malformed` when there is no valid command.
 * @example
 * ```ts
 * parseMessage("@time=x :Hans!Hans@host PRIVMSG #g :hi there");
 * // { tags: { time: "x" }, source: "Hans!Hans@host", command: "PRIVMSG", params: ["#g", "hi there"] }
 * ```
 */
export function parseMessage(line: string): IrcMessage {
  if (line.includes("\0")) throw new IrcLineError("malformed", "Cannot read line: it holds a NUL");
  let at = 0;
  const word = (): string => {
    const end = line.indexOf(" ", at);
    const w = end === -1 ? line.slice(at) : line.slice(at, end);
    at = end === -1 ? line.length : end;
    while (line.charCodeAt(at) === 0x20) at++;
    return w;
  };
  while (line.charCodeAt(at) === 0x20) at++;
  const msg: IrcMessage = { command: "", params: [] };
  if (line[at] === "@") {
    const raw = word().slice(1);
    const tags = parseTags(raw);
    if (Object.keys(tags).length > 0) msg.tags = tags;
  }
  if (line[at] === ":") msg.source = word().slice(1);
  const command = word();
  if (!COMMAND.test(command)) {
    throw new IrcLineError(
      "malformed",
      command === ""
        ? "Cannot read line: no command"
        : `Cannot read line: invalid command ${JSON.stringify(command.slice(0, 32))}`,
    );
  }
  msg.command = command.toUpperCase();
  while (at < line.length) {
    if (line[at] === ":") {
      msg.params.push(line.slice(at + 1));
      break;
    }
    msg.params.push(word());
  }
  return msg;
}

/**
 * Serializes a message with its CR LF. The last parameter is sent after `:`
 * when it must be (empty, with a space, starting with `:`) and whenever there
 * is more than one parameter, as servers conventionally do for text.
 *
 * @throws {TypeError} when the message cannot be written as one valid line
 *   (a line break or NUL anywhere, a space in a middle parameter, a bad
 *   command or tag key): the caller built it wrong.
 * @example
 * ```ts
 * formatMessage({ source: "srv", command: "001", params: ["Hans", "Welcome"] });
 * // ":srv 001 Hans :Welcome\r\n"
 * ```
 */
export function formatMessage(msg: IrcMessage): string {
  let out = "";
  if (msg.tags) {
    const items: string[] = [];
    for (const [key, value] of Object.entries(msg.tags)) {
      if (!TAG_KEY.test(key)) throw new TypeError(`Cannot format tag key ${JSON.stringify(key)}`);
      items.push(value === "" ? key : `${key}=${escapeTagValue(value)}`);
    }
    if (items.length > 0) out += `@${items.join(";")} `;
  }
  if (msg.source !== undefined) {
    if (msg.source === "" || msg.source.includes(" ") || LINE_BREAK_OR_NUL.test(msg.source)) {
      throw new TypeError(`Cannot format source ${JSON.stringify(msg.source)}`);
    }
    out += `:${msg.source} `;
  }
  if (!COMMAND.test(msg.command)) {
    throw new TypeError(`Cannot format command ${JSON.stringify(msg.command)}`);
  }
  out += msg.command;
  const last = msg.params.length - 1;
  for (let i = 0; i < msg.params.length; i++) {
    const p = msg.params[i];
    if (LINE_BREAK_OR_NUL.test(p)) {
      throw new TypeError(`Cannot format parameter ${JSON.stringify(p)}: line break or NUL`);
    }
    if (i < last) {
      if (p === "" || p.includes(" ") || p.startsWith(":")) {
        throw new TypeError(`Cannot format middle parameter ${JSON.stringify(p)}`);
      }
      out += ` ${p}`;
    } else {
      const colon = last > 0 || p === "" || p.includes(" ") || p.startsWith(":");
      out += colon ? ` :${p}` : ` ${p}`;
    }
  }
  return out + "\r\n";
}

const encoder = new TextEncoder();

/** The UTF-8 length of a string, counted without encoding it. */
export function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/**
 * The bytes of a formatted line (see {@link formatMessage}) that count
 * against {@link IRC_MAX_LINE_BYTES}: everything but the tags, CR LF included.
 */
export function lineBytesWithoutTags(line: string): number {
  if (!line.startsWith("@")) return utf8Length(line);
  const space = line.indexOf(" ");
  return space === -1 ? 0 : utf8Length(line.slice(space + 1));
}

/** Shared by every decoder: a non-streaming decode keeps no state. */
const utf8 = new TextDecoder("utf-8", { fatal: true });
const lossy = new TextDecoder("utf-8");

/** Most bytes one line may hold before its LF: tags, their space, the rest and CR. */
const MAX_PENDING_BYTES = 1 + IRC_MAX_TAG_DATA_BYTES + 1 + IRC_MAX_LINE_BYTES;

/**
 * Splits a byte stream from a client into lines and parses each. A line over
 * the limits, with invalid UTF-8 or that does not parse is reported as an
 * {@link IrcLineError} in its place; the stream stays in sync at the next
 * line end. Blank lines are skipped.
 *
 * Invalid UTF-8 is refused rather than decoded with replacement characters:
 * the text goes into the same store the native clients read, and a message
 * silently changed in transit is worse than one refused with a reason (the
 * server advertises `UTF8ONLY`).
 */
export class IrcLineDecoder {
  readonly #lines = new ByteLines(MAX_PENDING_BYTES);

  /** True when nothing is held: the decoder may be dropped and a new one used. */
  get idle(): boolean {
    return this.#lines.idle;
  }

  /** Feeds bytes; returns each complete line parsed, or an {@link IrcLineError} in its place. */
  push(chunk: Uint8Array): (IrcMessage | IrcLineError)[] {
    const out: (IrcMessage | IrcLineError)[] = [];
    this.#lines.push(chunk, 0, (piece) => this.#split(piece, out), () => out.push(tooLong()));
    return out;
  }

  /** Handles one LF-terminated piece; a CR inside it ends a line too. */
  #split(piece: Uint8Array, out: (IrcMessage | IrcLineError)[]): void {
    let from = 0;
    while (from <= piece.length) {
      const cr = piece.indexOf(0x0d, from);
      const to = cr === -1 ? piece.length : cr;
      if (to > from) out.push(decodeLine(piece.subarray(from, to)));
      if (cr === -1) break;
      from = cr + 1;
    }
  }
}

function tooLong(command?: string): IrcLineError {
  return new IrcLineError(
    "too_long",
    `Input line was too long: at most ${IRC_MAX_LINE_BYTES} bytes without tags`,
    command,
  );
}

/** One line's bytes (no CR, no LF, not empty): checked against the limits and parsed. */
function decodeLine(bytes: Uint8Array): IrcMessage | IrcLineError {
  let restStart = 0;
  if (bytes[0] === 0x40) {
    const space = bytes.indexOf(0x20);
    const tagBytes = (space === -1 ? bytes.length : space) - 1;
    if (tagBytes > IRC_MAX_TAG_DATA_BYTES) {
      return new IrcLineError(
        "tags_too_long",
        `Input line was too long: at most ${IRC_MAX_TAG_DATA_BYTES} bytes of tags`,
        commandOf(bytes),
      );
    }
    restStart = space === -1 ? bytes.length : space + 1;
  }
  // The rest with its CR LF, which the decoder has already taken off.
  if (bytes.length - restStart + 2 > IRC_MAX_LINE_BYTES) return tooLong(commandOf(bytes));
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return new IrcLineError(
      "bad_utf8",
      "Message rejected: it is not valid UTF-8 (set your client's encoding to UTF-8)",
      commandOf(bytes),
    );
  }
  try {
    return parseMessage(text);
  } catch (e) {
    if (e instanceof IrcLineError) return e;
    throw e;
  }
}

/** The verb of a line that is refused, for the reply; undefined when it has none. */
function commandOf(bytes: Uint8Array): string | undefined {
  try {
    return parseMessage(lossy.decode(bytes.subarray(0, Math.min(bytes.length, 8192))))
      .command;
  } catch {
    return undefined;
  }
}

/** {@link formatMessage} encoded as UTF-8 bytes. */
export function encodeMessage(msg: IrcMessage): Uint8Array {
  return encoder.encode(formatMessage(msg));
}

/**
 * The wire protocol between a TESSENGER client and server: one JSON object per
 * line (UTF-8, `\n`-terminated), at most {@link MAX_FRAME_BYTES} bytes per frame.
 * Pure code: no sockets, no clock. `docs/protocol.md` is the full description.
 *
 * @module
 */

import { MAX_FRAME_BYTES } from "./limits.ts";
import { ByteLines } from "./lines.ts";

/** A client request. `id` is chosen by the client and echoed in the response. */
export interface RequestFrame {
  t: "req";
  id: number;
  cmd: string;
  args: string[];
  /**
   * Sent by the client on its own (the names it learns for completion), not
   * typed by the user: the server does not log it as the user's command.
   */
  quiet?: boolean;
}

/** The server's answer to one request. `lines` is what a terminal client prints. */
export interface ResponseFrame {
  t: "res";
  id: number;
  ok: boolean;
  /** Machine-readable outcome, e.g. `"ok"`, `"bad_password"`, `"offline"`. */
  code: string;
  lines: string[];
  data?: Record<string, unknown>;
}

/**
 * A private message delivered to its receiver. Durable: `seq` numbers it in the
 * receiver's inbox stream (from 1, no gaps), and the client acknowledges it
 * with an {@link AckFrame}.
 */
export interface PrivateMessageEvent {
  ev: "msg";
  /** The message's number in the receiver's inbox. */
  seq: number;
  from: string;
  /** When the message was sent, `DD Mon YYYY HH:MM:SS`. */
  ts: string;
  /** The same instant in ms since the epoch. */
  at: number;
  text: string;
  /** True when it was stored while the receiver was offline or not reading. */
  queued?: boolean;
}

/** A group message delivered to a joined member. Durable: `seq` numbers it in the group. */
export interface GroupMessageEvent {
  ev: "groupmsg";
  group: string;
  seq: number;
  from: string;
  ts: string;
  at: number;
  text: string;
  /** True when it arrived while the member was offline or not reading. */
  queued?: boolean;
}

/** An invitation to a group. */
export interface InviteEvent {
  ev: "invite";
  group: string;
  from: string;
  ts: string;
  /** The joined members when the invitation was sent. */
  members: string[];
}

/** A file transfer announced to its receiver by the server. */
export interface TransferEvent {
  ev: "transfer";
  id: string;
  secret: string;
  from: string;
  fromIp: string;
  file: string;
  size: number;
  sha256: string;
  /**
   * The server's UDP port (on the address the client connected to), where the peers bind
   * and the relay is; absent when the server has none.
   */
  serverUdpPort?: number;
  /**
   * The host of that UDP port when it is not the address the client connected to: the
   * sender's node in a cluster, which relays the transfer (docs/cluster.md).
   */
  serverUdpHost?: string;
}

/** Someone joined or left one of your groups, or came online or went offline. */
export interface MemberEvent {
  ev: "member";
  /** The group; absent for `online`/`offline`, which concern any group you share. */
  group?: string;
  user: string;
  change: "joined" | "left" | "online" | "offline";
}

/** A user who shares a group with you set (`text`) or cleared their away message. */
export interface AwayEvent {
  ev: "away";
  user: string;
  text?: string;
}

/** A line from the server that fits no other event (shutdown, limits, backlog summaries). */
export interface NoticeEvent {
  ev: "notice";
  text: string;
}

/** Every server-initiated event, as the command layer produces it. */
export type ServerEvent =
  | PrivateMessageEvent
  | GroupMessageEvent
  | InviteEvent
  | TransferEvent
  | MemberEvent
  | AwayEvent
  | NoticeEvent;

/** An event on the wire. */
export type PushFrame = { t: "push" } & ServerEvent;

/** Pushes by event name. */
export type MessagePush = { t: "push" } & PrivateMessageEvent;
export type GroupMessagePush = { t: "push" } & GroupMessageEvent;
export type InvitePush = { t: "push" } & InviteEvent;
export type TransferPush = { t: "push" } & TransferEvent;
export type MemberPush = { t: "push" } & MemberEvent;
export type NoticePush = { t: "push" } & NoticeEvent;

/** A frame-level error: the line could not be understood as a request. */
export interface ErrorFrame {
  t: "error";
  code: string;
  message: string;
  /** The request id, when it could be read. */
  id?: number;
}

/** Sent by the server just before it closes the connection. */
export interface ByeFrame {
  t: "bye";
  reason: string;
}

/** Everything a server sends. */
export type ServerFrame = ResponseFrame | PushFrame | ErrorFrame | ByeFrame;

/**
 * The client's acknowledgement of durable pushes it has shown: the highest
 * `seq` of its inbox and of each group. Cumulative; no response. The server
 * sends nothing acknowledged again (docs/protocol.md § Delivery).
 */
export interface AckFrame {
  t: "ack";
  /** Highest inbox `seq` shown. */
  inbox?: number;
  /** Highest `seq` shown per group. */
  groups?: Record<string, number>;
}

/** Everything a client sends. */
export type ClientFrame = RequestFrame | AckFrame;

/** Why a line could not be decoded. */
export class FrameError extends Error {
  constructor(readonly code: "too_large" | "bad_utf8" | "bad_json" | "bad_frame", message: string) {
    super(message);
    this.name = "FrameError";
  }
}

const encoder = new TextEncoder();
/**
 * Shared by every {@link FrameDecoder}: a non-streaming decode keeps no state,
 * and one decoder per connection cost memory at 10,000 idle connections.
 */
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Encodes one frame as a JSON line (see {@link frameLine}), ready to write. */
export function encodeFrame(frame: ServerFrame | ClientFrame): Uint8Array {
  return encoder.encode(frameLine(frame));
}

/**
 * One frame as its JSON line (with the `\n`), not yet encoded: the server
 * queues text and encodes everything one write sends at once.
 */
export function frameLine(frame: ServerFrame | ClientFrame): string {
  return JSON.stringify(frame) + "\n";
}

const MAX_ARGS = 64;
const MAX_ID = 2 ** 31 - 1;

/** Most groups one {@link AckFrame} may name. */
const MAX_ACK_GROUPS = 1024;

/** A stream position: an integer 0..2^53. */
function isSeq(v: unknown): v is number {
  return Number.isSafeInteger(v) && (v as number) >= 0;
}

/**
 * Checks that a decoded JSON value is a well-formed request or acknowledgement.
 *
 * @throws {FrameError} with code `bad_frame` naming what is wrong.
 */
export function parseClientFrame(value: unknown): ClientFrame {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new FrameError("bad_frame", "Cannot read frame: not a JSON object");
  }
  const v = value as Record<string, unknown>;
  if (v.t === "ack") return parseAck(v);
  if (v.t !== "req") {
    throw new FrameError("bad_frame", `Cannot read frame: unknown type ${JSON.stringify(v.t)}`);
  }
  if (!Number.isInteger(v.id) || (v.id as number) < 0 || (v.id as number) > MAX_ID) {
    throw new FrameError("bad_frame", "Cannot read request: id must be an integer 0..2147483647");
  }
  if (typeof v.cmd !== "string" || v.cmd.length === 0 || v.cmd.length > 32) {
    throw new FrameError(
      "bad_frame",
      "Cannot read request: cmd must be a string of 1..32 characters",
    );
  }
  const args = v.args ?? [];
  if (!Array.isArray(args) || args.length > MAX_ARGS || !args.every((a) => typeof a === "string")) {
    throw new FrameError(
      "bad_frame",
      `Cannot read request: args must be at most ${MAX_ARGS} strings`,
    );
  }
  return {
    t: "req",
    id: v.id as number,
    cmd: v.cmd,
    args,
    ...(v.quiet === true ? { quiet: true } : {}),
  };
}

function parseAck(v: Record<string, unknown>): AckFrame {
  const ack: AckFrame = { t: "ack" };
  if (v.inbox !== undefined) {
    if (!isSeq(v.inbox)) {
      throw new FrameError("bad_frame", "Cannot read ack: inbox must be a non-negative integer");
    }
    ack.inbox = v.inbox;
  }
  if (v.groups !== undefined) {
    const g = v.groups;
    if (typeof g !== "object" || g === null || Array.isArray(g)) {
      throw new FrameError("bad_frame", "Cannot read ack: groups must be an object");
    }
    const entries = Object.entries(g);
    if (entries.length > MAX_ACK_GROUPS || !entries.every(([, s]) => isSeq(s))) {
      throw new FrameError(
        "bad_frame",
        `Cannot read ack: groups must map at most ${MAX_ACK_GROUPS} names to non-negative integers`,
      );
    }
    ack.groups = g as Record<string, number>;
  }
  return ack;
}

/**
 * Checks that a decoded JSON value is a frame a server may send. Lenient about
 * extra fields, so that newer servers can add them.
 *
 * @throws {FrameError} with code `bad_frame`.
 */
export function parseServerFrame(value: unknown): ServerFrame {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new FrameError("bad_frame", "Cannot read frame: not a JSON object");
  }
  const v = value as Record<string, unknown>;
  switch (v.t) {
    case "res":
      if (!Number.isInteger(v.id) || typeof v.ok !== "boolean" || !Array.isArray(v.lines)) break;
      return v as unknown as ResponseFrame;
    case "push":
      if (typeof v.ev !== "string") break;
      return v as unknown as PushFrame;
    case "error":
    case "bye":
      return v as unknown as ServerFrame;
  }
  throw new FrameError("bad_frame", `Cannot read frame: malformed ${JSON.stringify(v.t)} frame`);
}

/**
 * Splits a byte stream into lines of at most `maxBytes` (newline included) and
 * decodes each as JSON. A line over the limit is reported once and skipped up to
 * its newline, so one oversized frame never desynchronises the stream.
 */
export class FrameDecoder {
  /** The newline counts towards `maxBytes`, so a line's own bytes get one less. */
  readonly #lines: ByteLines;
  readonly #maxBytes: number;

  constructor(maxBytes: number = MAX_FRAME_BYTES) {
    this.#maxBytes = maxBytes;
    this.#lines = new ByteLines(maxBytes - 1);
  }

  /** Bytes held for an incomplete line. */
  get bufferedBytes(): number {
    return this.#lines.bufferedBytes;
  }

  /** True when nothing is held: the decoder may be dropped and a new one used. */
  get idle(): boolean {
    return this.#lines.idle;
  }

  /**
   * Feeds bytes; returns each complete line decoded as JSON, or a
   * {@link FrameError} in its place.
   */
  push(chunk: Uint8Array): (unknown | FrameError)[] {
    const out: (unknown | FrameError)[] = [];
    let start = 0;
    // Fast path for a chunk of whole lines with nothing held: one UTF-8
    // decode for all of them instead of one per line. A region no longer than
    // the limit cannot hold a line over it; invalid UTF-8 anywhere falls back
    // to the line-by-line path below, which reports the bad line alone.
    if (this.#lines.idle) {
      const last = chunk.lastIndexOf(0x0a);
      if (last !== -1 && last < this.#maxBytes) {
        let text: string | undefined;
        try {
          text = utf8.decode(chunk.subarray(0, last));
        } catch {
          text = undefined;
        }
        if (text !== undefined) {
          for (const line of text.split("\n")) {
            if (line.length > 0 && line !== "\r") out.push(parseLine(line));
          }
          start = last + 1;
        }
      }
    }
    this.#lines.push(chunk, start, (line) => {
      // Blank lines are keep-alives: nothing to decode.
      if (line.length > 0 && !(line.length === 1 && line[0] === 0x0d)) {
        out.push(this.#decode(line));
      }
    }, () => {
      out.push(
        new FrameError("too_large", `Cannot read frame: longer than ${this.#maxBytes} bytes`),
      );
    });
    return out;
  }

  #decode(line: Uint8Array): unknown | FrameError {
    let text: string;
    try {
      text = utf8.decode(line);
    } catch {
      return new FrameError("bad_utf8", "Cannot read frame: not valid UTF-8");
    }
    return parseLine(text);
  }
}

/** One decoded line (without its `\n`) as JSON, or a {@link FrameError}. */
function parseLine(text: string): unknown | FrameError {
  if (text.endsWith("\r")) text = text.slice(0, -1);
  try {
    return JSON.parse(text);
  } catch {
    return new FrameError("bad_json", "Cannot read frame: not valid JSON");
  }
}

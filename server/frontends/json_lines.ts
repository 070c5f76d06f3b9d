/**
 * The native front end: TESSENGER's JSON-lines protocol (docs/protocol.md).
 * Frames in (requests and acknowledgements), typed results and events out:
 * each result is rendered as the seed's text lines (what a terminal client
 * prints) plus a `data` object for programs.
 *
 * @module
 */

import { MAX_BAD_FRAMES, MAX_FRAME_BYTES, MAX_SERVER_FRAME_BYTES } from "../../shared/limits.ts";
import {
  FrameDecoder,
  FrameError,
  frameLine,
  parseClientFrame,
  type ServerEvent,
} from "../../shared/protocol.ts";
import { formatTimestamp } from "../../shared/time.ts";
import type { Reply } from "../context.ts";
import type { Codec } from "../outbox.ts";
import type { CommandResult } from "../results.ts";
import type { Frontend, Session } from "../session.ts";

/** Events as JSON push frames; the same text for every native session. */
export const jsonCodec: Codec = {
  key: "json",
  event(event: ServerEvent): string {
    // `{"t":"push",` + the event's own fields: no copy of the event object.
    return `{"t":"push",${JSON.stringify(event).slice(1)}\n`;
  },
};

/** `message` (one), `3 messages`. */
function nMessages(n: number): string {
  return n === 1 ? "message" : `${n} messages`;
}

/** The text lines and data of a success, as docs/protocol.md lists them. */
export function renderResult(result: CommandResult): {
  lines: string[];
  data?: Record<string, unknown>;
} {
  switch (result.type) {
    case "hello":
      return {
        lines: [],
        data: { version: result.version, server: result.server, keepAliveMs: result.keepAliveMs },
      };
    case "ping":
      return {
        lines: [],
        ...(result.token !== undefined ? { data: { token: result.token } } : {}),
      };
    case "user":
      return { lines: [] };
    case "welcome":
      return {
        lines: ["Welcome to TESSENGER!"],
        data: { user: result.user, commands: result.commands },
      };
    case "msgto":
      return {
        lines: [
          result.queued
            ? `${result.to} is offline: message queued at ${result.ts}, delivered at their next login.`
            : `message sent at ${result.ts}.`,
          ...(result.away !== undefined ? [`${result.to} is away: ${result.away}`] : []),
        ],
        data: {
          ts: result.ts,
          seq: result.seq,
          queued: result.queued,
          ...(result.away !== undefined ? { away: result.away } : {}),
        },
      };
    case "activeuser": {
      const lines = result.users.map((u) =>
        `${u.user}, ${u.ip}, ${u.udpPort}, active since ${formatTimestamp(u.since)}.` +
        (u.away !== undefined ? ` Away: ${u.away}` : "")
      );
      if (lines.length === 0) lines.push("no other active user");
      if (result.more > 0) lines.push(`… and ${result.more} more online.`);
      return {
        lines,
        data: {
          users: result.users.map((u) => ({
            user: u.user,
            ip: u.ip,
            udpPort: u.udpPort,
            since: u.since,
            ...(u.away !== undefined ? { away: u.away } : {}),
          })),
          ...(result.more > 0 ? { more: result.more } : {}),
        },
      };
    }
    case "creategroup":
      return {
        lines: [
          `Group chat room has been created, room name: ${result.group}, users in this room: ` +
          [result.creator, ...result.members].join(" "),
        ],
      };
    case "joingroup":
      return { lines: [`Joined the group chat: ${result.group} successfully.`] };
    case "invite":
      return {
        lines: [
          `Invited ${result.invited.join(", ")} to the group chat ${result.group}.` +
          (result.already.length > 0 ? ` Already in it: ${result.already.join(", ")}.` : ""),
        ],
        data: { group: result.group, invited: result.invited, already: result.already },
      };
    case "groupmsg":
      return { lines: ["Group chat message sent."], data: { ts: result.ts, seq: result.seq } };
    case "p2pvideo":
      return {
        lines: [],
        data: {
          id: result.id,
          secret: result.secret,
          to: result.to,
          host: result.host,
          port: result.port,
          file: result.file,
          serverUdpPort: result.serverUdpPort,
        },
      };
    case "history": {
      const { target, messages, kind } = result;
      const lines = [
        messages.length === 0
          ? kind === "group" ? `No messages in ${target} yet.` : `No messages with ${target} yet.`
          : `Last ${nMessages(messages.length)} ${kind === "group" ? "in" : "with"} ${target}:`,
      ];
      for (const m of messages) {
        lines.push(
          kind === "group"
            ? `${m.ts}, ${target}, ${m.from}: ${m.text}`
            : `${m.ts}, ${m.from}: ${m.text}`,
        );
      }
      if (result.more) lines.push("(Older messages are left out: the list is at its size limit.)");
      return {
        lines,
        data: {
          kind,
          target,
          messages: messages.map((m) => ({
            seq: m.seq,
            ts: m.ts,
            from: m.from,
            ...(m.to !== undefined ? { to: m.to } : {}),
            text: m.text,
          })),
          ...(result.more ? { more: true } : {}),
        },
      };
    }
    case "groups": {
      const lines = result.groups.map((g) =>
        g.state === "joined"
          ? `${g.group}: joined, members: ${g.members.join(" ")}`
          : `${g.group}: invited by ${g.invitedBy ?? g.creator}, type /joingroup ${g.group} to join`
      );
      if (lines.length === 0) lines.push("You are in no group chat and have no invitations.");
      return {
        lines,
        data: {
          groups: result.groups.map((g) => ({
            group: g.group,
            state: g.state,
            creator: g.creator,
            ...(g.invitedBy !== undefined ? { invitedBy: g.invitedBy } : {}),
            members: g.members,
          })),
        },
      };
    }
    case "leavegroup":
      return { lines: [`You have left the group chat ${result.group}.`] };
    case "away":
      return result.text === undefined
        ? { lines: ["You are no longer marked as away."] }
        : { lines: [`You are marked as away: ${result.text}`], data: { away: result.text } };
    case "who":
      return {
        lines: [
          `Members of ${result.group}:`,
          ...result.members.map((m) =>
            `  ${m.user}: ${m.state}, ${
              m.away !== undefined ? `away: ${m.away}` : m.online ? "online" : "offline"
            }`
          ),
        ],
        data: { group: result.group, members: result.members },
      };
    case "help":
      return {
        lines: [
          "Commands:",
          ...result.commands.map((c) => `  ${c.usage.padEnd(40)} ${c.summary}`),
        ],
      };
    case "logout":
      return { lines: [`Bye, ${result.user}!`] };
  }
}

/** The `res` frame of a reply, as its JSON line. */
export function responseLine(id: number, reply: Reply): string {
  if (!reply.ok || reply.result === undefined) {
    return frameLine({
      t: "res",
      id,
      ok: reply.ok,
      code: reply.code,
      lines: reply.message !== undefined ? [reply.message] : [],
      ...(reply.detail ? { data: reply.detail } : {}),
    });
  }
  const { lines, data } = renderResult(reply.result);
  return frameLine({ t: "res", id, ok: true, code: reply.code, lines, ...(data ? { data } : {}) });
}

/** What a response becomes when the writes it acknowledged were undone. */
function notSavedLine(id: number): string {
  return frameLine({
    t: "res",
    id,
    ok: false,
    code: "not_saved",
    lines: [
      "Cannot save your request: the server could not write to its disk. " +
      "Nothing was changed; please try again later.",
    ],
  });
}

const encoder = new TextEncoder();

/** The JSON-lines protocol on one connection. */
export class JsonLinesFrontend implements Frontend {
  readonly codec = jsonCodec;
  readonly #session: Session;
  /** Holds a partial frame between reads; dropped while there is none. */
  #decoder: FrameDecoder | undefined;
  #badFrames = 0;

  constructor(session: Session) {
    this.#session = session;
  }

  decode(bytes: Uint8Array): unknown[] {
    const decoder = this.#decoder ??= new FrameDecoder(MAX_FRAME_BYTES);
    const items = decoder.push(bytes);
    if (decoder.idle) this.#decoder = undefined;
    return items;
  }

  bye(reason: string): string {
    return frameLine({ t: "bye", reason });
  }

  handle(item: unknown): void | Promise<void> {
    const session = this.#session;
    let frame;
    try {
      if (item instanceof FrameError) throw item;
      frame = parseClientFrame(item);
    } catch (e) {
      return this.#badFrame(item, e);
    }
    if (frame.t === "ack") {
      session.guard.touch();
      session.delivery?.ack(frame);
      return;
    }
    const verdict = session.guard.admitFrame();
    if (verdict !== "ok") return this.#refuse(frame.id, verdict);
    const { id, cmd } = frame;
    return session.run(cmd, frame.args, { quiet: frame.quiet })
      .then((reply) => this.#respond(id, cmd, reply));
  }

  #respond(id: number, cmd: string, reply: Reply): void {
    const session = this.#session;
    let text = responseLine(id, reply);
    // A UTF-8 byte is at least a third of a UTF-16 code unit: encode only to be sure.
    if (
      text.length * 3 > MAX_SERVER_FRAME_BYTES &&
      encoder.encode(text).length > MAX_SERVER_FRAME_BYTES
    ) {
      // Never send what the client will refuse to decode: it would wait forever.
      session.log.error("Response to {cmd} too large: {n} bytes", {
        cmd,
        n: encoder.encode(text).length,
      });
      text = frameLine({
        t: "res",
        id,
        ok: false,
        code: "too_large",
        lines: ["Cannot send the response: it is too large."],
      });
    }
    session.respond(text, reply, reply.writes ? notSavedLine(id) : undefined);
  }

  #badFrame(item: unknown, e: unknown): void {
    const session = this.#session;
    const err = e instanceof FrameError ? e : new FrameError("bad_frame", String(e));
    this.#badFrames++;
    const id = (item as { id?: unknown })?.id;
    session.outbox.send(frameLine({
      t: "error",
      code: err.code,
      message: err.message,
      ...(Number.isInteger(id) ? { id: id as number } : {}),
    }));
    session.log.warn("Bad frame from {who}: {message}", { who: session.who, message: err.message });
    if (this.#badFrames >= MAX_BAD_FRAMES) session.close("too many malformed frames");
  }

  /** Answers a request over the rate limit; disconnects on sustained abuse. */
  #refuse(id: number, verdict: "rate_limited" | "abuse"): void {
    const session = this.#session;
    if (verdict === "abuse") {
      session.log.warn("Disconnecting {who}: too many requests", { who: session.who });
      session.close("too many requests");
      return;
    }
    if (session.guard.rateLimitedRequests === 1) {
      session.log.warn("{who} is over the request rate; refusing requests", { who: session.who });
    }
    session.outbox.send(frameLine({
      t: "error",
      code: "rate_limited",
      message: "Too many requests: slow down and try again in a moment.",
      id,
    }));
  }
}

/**
 * Server events as IRC lines for one session: a private message is
 * `:from!from@host PRIVMSG nick :text`, a group message the same to `#group`,
 * an invitation `INVITE`, members joining and leaving `JOIN` and `PART`, a
 * notice a server `NOTICE`. Long text is split to fit 512-byte lines.
 * Tags follow the session's capabilities: `time` (server-time) with the
 * time the message was stored, so queued messages keep theirs.
 *
 * @module
 */

import type { ServerEvent } from "../../../shared/protocol.ts";
import type { Codec } from "../../outbox.ts";
import { formatMessage, type IrcMessage } from "./message.ts";
import type { Capability } from "./registration.ts";
import { serverTime, textMessages } from "./text.ts";

/** The host part of every user's `nick!user@host`. */
export const USER_HOST = "tessenger";

/** `nick!nick@tessenger`: a user's source on IRC. */
export function userSource(nick: string): string {
  return `${nick}!${nick}@${USER_HOST}`;
}

/** What the codec needs to know of its session. */
export interface CodecView {
  /** The source of the server's own lines. */
  readonly serverName: string;
  /** The session's nick (`*` before registration). */
  readonly nick: string;
  has(cap: Capability): boolean;
}

/** One session's rendering of events. */
export class IrcCodec implements Codec {
  readonly #view: CodecView;

  constructor(view: CodecView) {
    this.#view = view;
  }

  /**
   * Sessions whose capabilities render group messages alike share one
   * rendering of a run (group lines name no receiver).
   */
  get key(): string {
    return this.#view.has("server-time") ? "irc+time" : "irc";
  }

  /** The tags of a message stored at `at`, by the session's capabilities. */
  tags(at: number): Record<string, string> | undefined {
    return this.#view.has("server-time") ? { time: serverTime(at) } : undefined;
  }

  /** Lines as wire text. */
  render(messages: readonly IrcMessage[]): string {
    let text = "";
    for (const m of messages) text += formatMessage(m);
    return text;
  }

  event(event: ServerEvent): string {
    return this.render(this.messages(event));
  }

  /** An event as IRC messages (none for events IRC has no form for). */
  messages(event: ServerEvent): IrcMessage[] {
    const { nick } = this.#view;
    switch (event.ev) {
      case "msg":
        return textMessages({
          source: userSource(event.from),
          command: "PRIVMSG",
          target: nick,
          text: event.text,
          tags: this.tags(event.at),
        });
      case "groupmsg":
        return textMessages({
          source: userSource(event.from),
          command: "PRIVMSG",
          target: `#${event.group}`,
          text: event.text,
          tags: this.tags(event.at),
        });
      case "invite":
        return [{
          source: userSource(event.from),
          command: "INVITE",
          params: [nick, `#${event.group}`],
        }];
      case "member":
        if (event.group === undefined) return [];
        if (event.change !== "joined" && event.change !== "left") return [];
        return [{
          source: userSource(event.user),
          command: event.change === "joined" ? "JOIN" : "PART",
          params: [`#${event.group}`],
        }];
      case "away":
        if (!this.#view.has("away-notify")) return [];
        return [{
          source: userSource(event.user),
          command: "AWAY",
          params: event.text === undefined ? [] : [event.text],
        }];
      case "notice":
        return this.notice(event.text);
      case "transfer":
        // p2pvideo refuses IRC receivers; this is only a safety net.
        return this.notice(
          `${event.from} tried to send you ${event.file}: files need the TESSENGER client.`,
        );
    }
  }

  /** A server NOTICE to the session, split to fit. */
  notice(text: string): IrcMessage[] {
    const { nick, serverName } = this.#view;
    return textMessages({ source: serverName, command: "NOTICE", target: nick, text });
  }
}

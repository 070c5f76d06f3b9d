/**
 * The welcome burst a client gets once registered: 001–004, the ISUPPORT
 * tokens (005) and the message of the day. Pure code.
 *
 * @module
 */

import { IRC_MAX_LINE_BYTES } from "../../../shared/limits.ts";
import { type IrcMessage, utf8Length } from "./message.ts";
import * as N from "./numerics.ts";
import { splitText } from "./split.ts";

/** What the burst says. */
export interface WelcomeInfo {
  /** The source of the replies, e.g. `tessenger`. */
  serverName: string;
  /** The client's nick (its username). */
  nick: string;
  /** `tessenger/0.1.0`. */
  version: string;
  /** The first line of the greeting (SPEC §2: `Welcome to TESSENGER!`). */
  greeting: string;
  /** When the server started, as the text 003 shows. */
  started: string;
  /** ISUPPORT tokens, `NAME` or `NAME=value` (see {@link isupportMessages}). */
  isupport: readonly string[];
  /** The message of the day, one entry a line; empty or absent sends 422. */
  motd?: readonly string[];
}

/** Most ISUPPORT tokens one 005 line carries (modern.ircdocs.horse advises 13). */
const TOKENS_PER_LINE = 13;

/**
 * 001 RPL_WELCOME to 005 RPL_ISUPPORT, then 375/372/376 (or 422 ERR_NOMOTD).
 *
 * @example
 * ```ts
 * welcomeBurst({ serverName: "tessenger", nick: "Hans", version: "tessenger/0.1.0",
 *   greeting: "Welcome to TESSENGER!", started: "01 Jun 2023 15:00:00", isupport: ["CHANTYPES=#"] });
 * ```
 */
export function welcomeBurst(info: WelcomeInfo): IrcMessage[] {
  const { serverName, nick, version } = info;
  const msg = (command: string, ...params: string[]): IrcMessage => ({
    source: serverName,
    command,
    params: [nick, ...params],
  });
  return [
    msg(N.RPL_WELCOME, info.greeting),
    msg(N.RPL_YOURHOST, `Your host is ${serverName}, running version ${version}`),
    msg(N.RPL_CREATED, `This server was started ${info.started}`),
    // No user modes; the one channel mode is +i (every group is invite-only).
    msg(N.RPL_MYINFO, serverName, version, "i", "i"),
    ...isupportMessages(serverName, nick, info.isupport),
    ...motdMessages(serverName, nick, info.motd ?? []),
  ];
}

/** 005 lines of at most {@link TOKENS_PER_LINE} tokens each. */
export function isupportMessages(
  serverName: string,
  nick: string,
  tokens: readonly string[],
): IrcMessage[] {
  const out: IrcMessage[] = [];
  for (let i = 0; i < tokens.length; i += TOKENS_PER_LINE) {
    out.push({
      source: serverName,
      command: N.RPL_ISUPPORT,
      params: [nick, ...tokens.slice(i, i + TOKENS_PER_LINE), "are supported by this server"],
    });
  }
  return out;
}

/** 375, one 372 `- line` per line (long lines split to fit), 376; or 422 when there is none. */
export function motdMessages(
  serverName: string,
  nick: string,
  motd: readonly string[],
): IrcMessage[] {
  const msg = (command: string, text: string): IrcMessage => ({
    source: serverName,
    command,
    params: [nick, text],
  });
  if (motd.length === 0) return [msg(N.ERR_NOMOTD, "MOTD File is missing")];
  const overhead = utf8Length(`:${serverName} ${N.RPL_MOTD} ${nick} :- \r\n`);
  const lines = motd.flatMap((l) => splitText(l, IRC_MAX_LINE_BYTES - overhead));
  return [
    msg(N.RPL_MOTDSTART, `- ${serverName} Message of the day - `),
    ...lines.map((l) => msg(N.RPL_MOTD, `- ${l}`)),
    msg(N.RPL_ENDOFMOTD, "End of /MOTD command."),
  ];
}

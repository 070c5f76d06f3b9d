/**
 * How the client shows what arrives: pure functions of an event (and the
 * style and user they are shown to), so every line the user reads is covered
 * by a unit test.
 *
 * @module
 */

import type { PushFrame, ResponseFrame } from "../shared/protocol.ts";
import type { ClientEvent, TransferEvent } from "./events.ts";
import { plainStyle, sanitize, type Style } from "./style.ts";

/** Formats a byte count for people: `512 B`, `1.5 KiB`, `12.3 MiB`. */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** Who is reading, and when: what makes a line personal. */
export interface Viewer {
  /** The logged-in user: mentions of this name in messages are highlighted. */
  self?: string;
  /** Today's date as `DD Mon YYYY`: timestamps of today are shown as `HH:MM`. */
  today?: string;
}

/**
 * A timestamp as shown: `HH:MM` when it is of `today`, as sent otherwise.
 *
 * @example
 * ```ts
 * displayTime("01 Jun 2023 15:00:01", "01 Jun 2023"); // "15:00"
 * displayTime("31 May 2023 15:00:01", "01 Jun 2023"); // "31 May 2023 15:00:01"
 * ```
 */
export function displayTime(ts: string, today?: string): string {
  if (today === undefined || !ts.startsWith(`${today} `)) return ts;
  const time = ts.slice(today.length + 1);
  return /^\d\d:\d\d:\d\d$/.test(time) ? time.slice(0, 5) : ts;
}

/** The pattern of `user` as a word of a message, any case (`@Yoda`, `yoda:`). */
function mentionPattern(user: string): RegExp {
  const name = user.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`(?<![A-Za-z0-9_.-])${name}(?![A-Za-z0-9_-])`, "gi");
}

/**
 * Whether a message from someone else names `user` as a word.
 *
 * @example
 * ```ts
 * mentionsUser("ask @yoda about it", "Yoda"); // true
 * mentionsUser("Yodaism", "Yoda"); // false
 * ```
 */
export function mentionsUser(text: string, user: string | undefined): boolean {
  return user !== undefined && user !== "" && mentionPattern(user).test(text);
}

/** Message text, sanitized, with mentions of the viewer highlighted. */
function messageText(text: string, style: Style, self: string | undefined): string {
  const clean = sanitize(text);
  if (self === undefined || self === "") return clean;
  return clean.replace(mentionPattern(self), (m) => style.mention(m));
}

/**
 * The line the client prints for a push from the server. Text from the
 * network is {@link sanitize}d before it is styled.
 */
export function formatPush(p: PushFrame, style: Style = plainStyle, viewer: Viewer = {}): string {
  const s = sanitize;
  const time = (ts: string) => style.time(s(displayTime(ts, viewer.today)));
  switch (p.ev) {
    case "msg":
      return `${time(p.ts)}, ${style.name(s(p.from))}: ${messageText(p.text, style, viewer.self)}`;
    case "groupmsg":
      return `${time(p.ts)}, ${style.group(s(p.group))}, ${style.name(s(p.from))}: ` +
        messageText(p.text, style, viewer.self);
    case "invite":
      return style.system(
        `${s(p.from)} invited you to the group chat ${s(p.group)} ` +
          `(${s(p.members.join(" "))}). Type /joingroup ${s(p.group)} to join.`,
      );
    case "transfer":
      return style.system(`${s(p.from)} is sending you ${s(p.file)} (${formatBytes(p.size)}).`);
    case "member": {
      const who = s(p.user);
      const where = p.group === undefined ? "" : ` the group chat ${s(p.group)}`;
      const what = {
        joined: `${who} joined${where}.`,
        left: `${who} left${where}.`,
        online: `${who} is online.`,
        offline: `${who} went offline.`,
      }[p.change] ?? `${who}: ${s(String(p.change))}`;
      return style.system(what);
    }
    case "away":
      return style.system(
        p.text === undefined ? `${s(p.user)} is back.` : `${s(p.user)} is away: ${s(p.text)}`,
      );
    case "notice":
      return style.system(s(p.text));
    default:
      // A newer server's event this client does not know.
      return style.system(`Server event: ${s((p as { ev: string }).ev)}`);
  }
}

/** The commands line shown after login. */
export function formatCommandList(names: string[], style: Style = plainStyle): string {
  return style.system(
    `Enter one of the following commands (${names.map((n) => `/${n}`).join(", ")}):`,
  );
}

/** One line to show, and whether it reports an error. */
export interface OutputLine {
  text: string;
  error: boolean;
}

/** What a formatter needs besides the event. */
export interface FormatState extends Viewer {
  style: Style;
}

const out = (text: string): OutputLine => ({ text, error: false });
const err = (text: string): OutputLine => ({ text, error: true });

/**
 * The lines the client shows for an event, in text mode.
 *
 * @example
 * ```ts
 * import { plainStyle } from "./style.ts";
 *
 * formatEvent({ kind: "error", code: "unknown_command", message: "Error. Invalid command!" },
 *   { style: plainStyle }); // [{ text: "Error. Invalid command!", error: true }]
 * ```
 */
export function formatEvent(event: ClientEvent, state: FormatState): OutputLine[] {
  const { style } = state;
  switch (event.kind) {
    case "response":
      return formatResponse(event.cmd, event.res, style, state.today);
    case "push":
      // Who in your groups is away is for /who (and --json), not a line each time it changes.
      if (event.push.ev === "away") return [];
      return [out(formatPush(event.push, style, state))];
    case "ready":
      return [out(formatCommandList(event.commands, style))];
    case "error":
      return [err(style.error(sanitize(event.message)))];
    case "disconnected": {
      const reason = sanitize(event.reason).replace(/\.$/, "");
      return [
        err(style.error(
          event.reconnecting
            ? `Disconnected from the server: ${reason}. Reconnecting...`
            : `Disconnected from the server: ${sanitize(event.reason)}`,
        )),
      ];
    }
    case "reconnected":
      return [out(style.system(`Reconnected: logged in again as ${sanitize(event.user)}.`))];
    case "transfer":
      return [formatTransfer(event, style)];
    case "transfer_notice":
      return [out(style.system(sanitize(event.text)))];
  }
}

/**
 * SPEC §3: `FILE has been uploaded` (sender), `Received FILE from SENDER`
 * (receiver), which also says where the file was saved.
 */
export function formatTransfer(event: TransferEvent, style: Style): OutputLine {
  const file = sanitize(event.file);
  const peer = sanitize(event.peer);
  if (event.ok) {
    if (event.direction === "send") return out(`${file} has been uploaded`);
    const saved = event.path === undefined ? "" : ` (saved as ${sanitize(event.path)})`;
    return out(`Received ${file} from ${peer}${saved}`);
  }
  // The transfer code's reasons begin "Cannot complete transfer: "; the line says that already.
  const why = sanitize((event.reason ?? "failed").replace(/^Cannot complete transfer: /, ""));
  const end = /[.!?]$/.test(why) ? "" : ".";
  return err(style.error(
    event.direction === "send"
      ? `Cannot send ${file} to ${peer}: ${why}${end}`
      : `Cannot receive ${file} from ${peer}: ${why}${end}`,
  ));
}

/**
 * The lines for a response: the server's own lines, with names and groups
 * coloured where the response's data says which they are.
 */
export function formatResponse(
  cmd: string,
  res: ResponseFrame,
  style: Style,
  today?: string,
): OutputLine[] {
  if (!res.ok) return res.lines.map((l) => err(style.error(sanitize(l))));
  const lines = res.lines.map(sanitize);
  const styled = res.data ? styledLines(cmd, res.data, res.lines, style, today) : undefined;
  // The server's lines are the reference: the styled form is used only when,
  // without its colours and with full timestamps, it reads exactly the same.
  if (styled) {
    const plain = styledLines(cmd, res.data!, res.lines, plainStyle);
    if (plain?.length === lines.length && plain.every((l, i) => l === lines[i])) {
      return styled.map(out);
    }
  }
  if (cmd === "pass") return lines.map((l) => out(style.system(l)));
  return lines.map(out);
}

/** `message` (one), `3 messages`. */
function nMessages(n: number): string {
  return n === 1 ? "message" : `${n} messages`;
}

// deno-lint-ignore no-explicit-any
type Data = Record<string, any>;

function styledLines(
  cmd: string,
  data: Data,
  lines: string[],
  style: Style,
  today?: string,
): string[] | undefined {
  const s = sanitize;
  const time = (ts: string) => style.time(s(displayTime(ts, today)));
  try {
    switch (cmd) {
      case "activeuser": {
        // The line's time is the server's local time: keep the server's text.
        const users = data.users as { user: string }[];
        if (users.length === 0 || users.length !== lines.length) return undefined;
        return lines.map((line, i) => {
          const prefix = `${users[i].user}, `;
          if (!line.startsWith(prefix)) throw new TypeError("Cannot style: line does not match");
          return `${style.name(s(users[i].user))}, ${s(line.slice(prefix.length))}`;
        });
      }
      case "history": {
        const messages = data.messages as Data[];
        if (messages.length === 0) return undefined;
        const target = s(String(data.target));
        const header = data.kind === "group"
          ? `Last ${nMessages(messages.length)} in ${style.group(target)}:`
          : `Last ${nMessages(messages.length)} with ${style.name(target)}:`;
        return [
          header,
          ...messages.map((m) =>
            data.kind === "group"
              ? `${time(m.ts)}, ${style.group(target)}, ${style.name(s(m.from))}: ` + s(m.text)
              : `${time(m.ts)}, ${style.name(s(m.from))}: ${s(m.text)}`
          ),
        ];
      }
      case "groups": {
        const groups = data.groups as Data[];
        if (groups.length === 0) return undefined;
        return groups.map((g) =>
          g.state === "joined"
            ? `${style.group(s(g.group))}: joined, members: ` +
              (g.members as string[]).map((u) => style.name(s(u))).join(" ")
            : `${style.group(s(g.group))}: invited by ${style.name(s(g.creator))}, ` +
              `type /joingroup ${s(g.group)} to join`
        );
      }
    }
  } catch {
    // Data of an unexpected shape: the server's lines are shown instead.
  }
  return undefined;
}

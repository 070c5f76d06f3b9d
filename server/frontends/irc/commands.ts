/**
 * IRC commands of a registered session, mapped onto the native commands:
 * `PRIVMSG nick` is `/msgto`, `PRIVMSG #G` is `/groupmsg`, `JOIN` is
 * `/joingroup` (or `newgroup` for a name nobody uses), `PART` is
 * `/leavegroup`, `INVITE` is `invite`, `LIST` is `/groups`, `CHATHISTORY`
 * is `/history`. Writes go through the native commands (`session.run`), so
 * the rules, log lines and durability are theirs; queries (NAMES, WHO,
 * WHOIS, ISON, MONITOR) read the ports directly.
 *
 * @module
 */

import {
  GROUP_NAME_PATTERN,
  IRC_MAX_LINE_BYTES,
  USERNAME_PATTERN,
} from "../../../shared/limits.ts";
import { markAway } from "../../handlers.ts";
import type { GroupInfo } from "../../ports.ts";
import type { HistoryItem } from "../../results.ts";
import { historyBatch, parseChathistory } from "./chathistory.ts";
import { userSource } from "./codec.ts";
import type { IrcFrontend } from "./frontend.ts";
import { CHATHISTORY_MAX, MONITOR_MAX } from "./frontend.ts";
import { type IrcMessage, utf8Length } from "./message.ts";
import * as N from "./numerics.ts";
import { packWords } from "./split.ts";
import { fromIrcText, textMessages } from "./text.ts";
import { motdMessages } from "./welcome.ts";

type Handler = (fe: IrcFrontend, params: string[]) => void | Promise<void>;

/** Verbs that work before registration too (the registration machine passes them on). */
const ANY_TIME: Record<string, Handler> = {
  PING: ping,
  QUIT: quit,
};

const REGISTERED: Record<string, Handler> = {
  PRIVMSG: (fe, p) => message(fe, "PRIVMSG", p),
  NOTICE: (fe, p) => message(fe, "NOTICE", p),
  TAGMSG: () => {}, // client-only tags have no native form: accepted and dropped
  JOIN: join,
  PART: part,
  INVITE: invite,
  NAMES: names,
  TOPIC: topic,
  LIST: list,
  WHO: who,
  WHOIS: whois,
  ISON: ison,
  USERHOST: userhost,
  MONITOR: monitor,
  AWAY: away,
  MODE: mode,
  MOTD: motd,
  CHATHISTORY: chathistory,
};

/** Runs one command of a session the registration machine passed on. */
export function runIrcCommand(fe: IrcFrontend, msg: IrcMessage): void | Promise<void> {
  const handler = ANY_TIME[msg.command] ??
    (fe.reg.registered ? REGISTERED[msg.command] : undefined);
  if (handler) return handler(fe, msg.params);
  fe.send([fe.numeric(N.ERR_UNKNOWNCOMMAND, msg.command, "Unknown command")]);
}

/** `461 CMD :Not enough parameters` when `params` has fewer than `n`. */
function needs(fe: IrcFrontend, cmd: string, params: string[], n: number): boolean {
  if (params.length >= n && params.slice(0, n).every((p) => p !== "")) return true;
  fe.send([fe.numeric(N.ERR_NEEDMOREPARAMS, cmd, "Not enough parameters")]);
  return false;
}

/** The group a `#name` is, or undefined (not a channel name). */
function groupName(channel: string): string | undefined {
  const name = channel.startsWith("#") ? channel.slice(1) : undefined;
  return name !== undefined && GROUP_NAME_PATTERN.test(name) ? name : undefined;
}

/** The canonical spelling of a user's name (IRC nicks are case-insensitive), or undefined. */
async function canonicalUser(fe: IrcFrontend, nick: string): Promise<string | undefined> {
  if (!USERNAME_PATTERN.test(nick)) return undefined;
  const entry = await fe.session.services.store.lookupName(nick);
  return entry?.kind === "user" ? entry.name : undefined;
}

/**
 * Numerics carrying a list that may not fit one line (NAMES, MONITOR, ISON):
 * `head` are the parameters before the list, `sep` joins its items.
 */
export function listLines(
  fe: IrcFrontend,
  code: string,
  head: string[],
  items: readonly string[],
  sep = " ",
): IrcMessage[] {
  const prefix = `:${fe.info.serverName} ${code} ${fe.nick} ${head.join(" ")} :\r\n`;
  const budget = IRC_MAX_LINE_BYTES - utf8Length(prefix);
  const lists = sep === " "
    ? packWords(items, budget)
    : packWords(items, budget).map((l) => l.replaceAll(" ", sep));
  return lists.map((l) => fe.numeric(code, ...head, l));
}

/** The lines a member gets on joining: JOIN, the topic, the names. */
export function channelLines(fe: IrcFrontend, info: GroupInfo): IrcMessage[] {
  const channel = `#${info.name}`;
  return [
    { source: userSource(fe.user), command: "JOIN", params: [channel] },
    info.topic
      ? fe.numeric(N.RPL_TOPIC, channel, info.topic)
      : fe.numeric(N.RPL_NOTOPIC, channel, "No topic is set"),
    ...namesLines(fe, info),
  ];
}

function namesLines(fe: IrcFrontend, info: GroupInfo): IrcMessage[] {
  const channel = `#${info.name}`;
  return [
    ...listLines(fe, N.RPL_NAMREPLY, ["=", channel], info.joined),
    fe.numeric(N.RPL_ENDOFNAMES, channel, "End of /NAMES list"),
  ];
}

// PING token
function ping(fe: IrcFrontend, params: string[]): void {
  const server = fe.info.serverName;
  fe.send([{ source: server, command: "PONG", params: [server, params.at(-1) ?? server] }]);
}

// QUIT [reason]
function quit(fe: IrcFrontend, params: string[]): void {
  fe.session.close(params[0] ? `Quit: ${params[0]}` : "Quit");
}

// PRIVMSG|NOTICE target[,target] :text
async function message(fe: IrcFrontend, cmd: "PRIVMSG" | "NOTICE", params: string[]) {
  // A NOTICE is never answered with an error (RFC 2812 3.3.2).
  const quietly = cmd === "NOTICE";
  if (params.length === 0 || params[0] === "") {
    if (!quietly) fe.send([fe.numeric(N.ERR_NORECIPIENT, `No recipient given (${cmd})`)]);
    return;
  }
  if (params.length < 2 || params[1] === "") {
    if (!quietly) fe.send([fe.numeric(N.ERR_NOTEXTTOSEND, "No text to send")]);
    return;
  }
  const text = fromIrcText(params[1]);
  if (text.kind === "ctcp") {
    if (!quietly) fe.send(fe.notice(`CTCP ${text.verb} is not supported here.`));
    return;
  }
  for (const target of params[0].split(",").slice(0, 4)) {
    await messageOne(fe, cmd, target, text.text, quietly);
  }
}

async function messageOne(
  fe: IrcFrontend,
  cmd: "PRIVMSG" | "NOTICE",
  target: string,
  text: string,
  quietly: boolean,
): Promise<void> {
  const group = target.startsWith("#") ? groupName(target) : undefined;
  if (target.startsWith("#") && group === undefined) {
    if (!quietly) fe.send([fe.numeric(N.ERR_NOSUCHCHANNEL, target, "No such channel")]);
    return;
  }
  const to = group === undefined ? await canonicalUser(fe, target) : undefined;
  if (group === undefined && to === undefined) {
    if (!quietly) fe.send([fe.numeric(N.ERR_NOSUCHNICK, target, "No such nick/channel")]);
    return;
  }
  const reply = group !== undefined
    ? await fe.session.run("groupmsg", [group, text])
    : await fe.session.run("msgto", [to!, text]);
  const out: IrcMessage[] = [];
  const result = reply.result;
  if (result?.type === "msgto" || result?.type === "groupmsg") {
    const name = result.type === "msgto" ? result.to : `#${result.group}`;
    if (fe.reg.has("echo-message")) {
      out.push(
        ...textMessages({
          source: userSource(fe.user),
          command: cmd,
          target: name,
          text,
          tags: fe.codec.tags(result.at),
        }),
      );
    }
    if (result.type === "msgto" && !quietly) {
      const away = result.away ?? (await fe.session.services.directory.lookup(result.to))?.away;
      if (result.queued) {
        out.push(fe.numeric(
          N.RPL_AWAY,
          result.to,
          `is offline: message queued at ${result.ts}, delivered at their next login.`,
        ));
      } else if (away !== undefined) {
        out.push(fe.numeric(N.RPL_AWAY, result.to, away));
      }
    }
  } else if (!reply.ok && !quietly) {
    out.push(messageError(fe, target, reply.code, reply.message ?? reply.code));
  }
  fe.respond(reply, out);
}

/** A refused message as the numeric IRC clients know, with the native wording. */
function messageError(fe: IrcFrontend, target: string, code: string, text: string): IrcMessage {
  switch (code) {
    case "unknown_user":
      return fe.numeric(N.ERR_NOSUCHNICK, target, text);
    case "no_group":
      return fe.numeric(N.ERR_NOSUCHCHANNEL, target, text);
    case "not_member":
    case "not_joined":
      return fe.numeric(N.ERR_CANNOTSENDTOCHAN, target, text);
    default:
      return {
        source: fe.info.serverName,
        command: "FAIL",
        params: ["PRIVMSG", code.toUpperCase(), target, text],
      };
  }
}

// JOIN #a[,#b] [keys]
async function join(fe: IrcFrontend, params: string[]): Promise<void> {
  if (!needs(fe, "JOIN", params, 1)) return;
  if (params[0] === "0") {
    fe.send(fe.notice("JOIN 0 is not supported: PART each channel you want to leave."));
    return;
  }
  const { store } = fe.session.services;
  for (const channel of params[0].split(",").slice(0, 10)) {
    const name = groupName(channel);
    if (name === undefined) {
      fe.send([
        fe.numeric(N.ERR_BADCHANMASK, channel, "Bad channel name: # and 1-32 letters or digits"),
      ]);
      continue;
    }
    const info = await store.getGroup(name);
    const state = info?.members.get(fe.user);
    // Already in it (the welcome joined it; clients re-join on reconnect): the names again.
    if (state === "joined") {
      fe.send(namesLines(fe, info!));
      continue;
    }
    if (info !== undefined && state !== "invited") {
      fe.send([
        fe.numeric(N.ERR_INVITEONLYCHAN, channel, "Cannot join channel (+i): you are not invited"),
      ]);
      continue;
    }
    const reply = await fe.session.run(info === undefined ? "newgroup" : "joingroup", [name]);
    const joined = reply.ok ? await store.getGroup(name) : undefined;
    if (joined !== undefined) fe.respond(reply, channelLines(fe, joined));
    else fe.respond(reply, fe.notice(reply.message ?? `Cannot join ${channel}.`));
  }
}

// PART #a[,#b] [reason]
async function part(fe: IrcFrontend, params: string[]): Promise<void> {
  if (!needs(fe, "PART", params, 1)) return;
  for (const channel of params[0].split(",").slice(0, 10)) {
    const name = groupName(channel);
    if (name === undefined) {
      fe.send([fe.numeric(N.ERR_NOSUCHCHANNEL, channel, "No such channel")]);
      continue;
    }
    const reply = await fe.session.run("leavegroup", [name]);
    if (reply.result?.type === "leavegroup") {
      const left = `#${reply.result.group}`;
      fe.respond(reply, [{ source: userSource(fe.user), command: "PART", params: [left] }]);
    } else if (reply.code === "no_group") {
      fe.respond(reply, [fe.numeric(N.ERR_NOSUCHCHANNEL, channel, reply.message ?? "")]);
    } else {
      fe.respond(reply, [fe.numeric(N.ERR_NOTONCHANNEL, channel, reply.message ?? "")]);
    }
  }
}

// INVITE nick #channel
async function invite(fe: IrcFrontend, params: string[]): Promise<void> {
  if (!needs(fe, "INVITE", params, 2)) return;
  const [nick, channel] = params;
  const name = groupName(channel);
  if (name === undefined) {
    fe.send([fe.numeric(N.ERR_NOSUCHCHANNEL, channel, "No such channel")]);
    return;
  }
  const user = await canonicalUser(fe, nick);
  if (user === undefined) {
    fe.send([fe.numeric(N.ERR_NOSUCHNICK, nick, "No such nick")]);
    return;
  }
  const reply = await fe.session.run("invite", [name, user]);
  const r = reply.result;
  if (r?.type === "invite") {
    fe.respond(reply, r.invited.map((u) => fe.numeric(N.RPL_INVITING, u, `#${r.group}`)));
    return;
  }
  const text = reply.message ?? reply.code;
  const numeric = reply.code === "no_group"
    ? fe.numeric(N.ERR_NOSUCHCHANNEL, channel, text)
    : reply.code === "already_member"
    ? fe.numeric(N.ERR_USERONCHANNEL, user, channel, text)
    : reply.code === "not_member" || reply.code === "not_joined"
    ? fe.numeric(N.ERR_NOTONCHANNEL, channel, text)
    : fe.numeric(N.ERR_NOSUCHNICK, nick, text);
  fe.respond(reply, [numeric]);
}

/** The group of `channel` if the session's user has joined it. */
async function joinedGroup(fe: IrcFrontend, channel: string): Promise<GroupInfo | undefined> {
  const name = groupName(channel);
  if (name === undefined) return undefined;
  const info = await fe.session.services.store.getGroup(name);
  return info?.members.get(fe.user) === "joined" ? info : undefined;
}

// NAMES [#channel]
async function names(fe: IrcFrontend, params: string[]): Promise<void> {
  const channel = params[0]?.split(",")[0];
  if (!channel) {
    fe.send([fe.numeric(N.RPL_ENDOFNAMES, "*", "End of /NAMES list")]);
    return;
  }
  const info = await joinedGroup(fe, channel);
  fe.send(
    info ? namesLines(fe, info) : [fe.numeric(N.RPL_ENDOFNAMES, channel, "End of /NAMES list")],
  );
}

// TOPIC #channel [:text]
async function topic(fe: IrcFrontend, params: string[]): Promise<void> {
  if (!needs(fe, "TOPIC", params, 1)) return;
  const channel = params[0];
  const info = await joinedGroup(fe, channel);
  if (info === undefined) {
    fe.send([fe.numeric(N.ERR_NOTONCHANNEL, channel, "You're not on that channel")]);
  } else if (params.length > 1) {
    fe.send([fe.numeric(N.ERR_CHANOPRIVSNEEDED, channel, "Topics cannot be changed here")]);
  } else {
    fe.send([
      info.topic
        ? fe.numeric(N.RPL_TOPIC, channel, info.topic)
        : fe.numeric(N.RPL_NOTOPIC, channel, "No topic is set"),
    ]);
  }
}

// LIST: the session's groups (joined and invited), never anyone else's.
async function list(fe: IrcFrontend): Promise<void> {
  const reply = await fe.session.run("groups", []);
  const out: IrcMessage[] = [fe.numeric(N.RPL_LISTSTART, "Channel", "Users  Name")];
  if (reply.result?.type === "groups") {
    for (const g of reply.result.groups) {
      const about = g.state === "joined"
        ? `members: ${g.members.join(" ")}`
        : `invited by ${g.invitedBy ?? g.creator}: /join #${g.group}`;
      out.push(fe.numeric(N.RPL_LIST, `#${g.group}`, String(g.members.length), about));
    }
  }
  out.push(fe.numeric(N.RPL_LISTEND, "End of /LIST"));
  fe.respond(reply, out);
}

/** One 352 line: `channel user host server nick H|G :0 realname`. */
function whoLine(fe: IrcFrontend, channel: string, nick: string, here: boolean): IrcMessage {
  return fe.numeric(
    N.RPL_WHOREPLY,
    channel,
    nick,
    "tessenger",
    fe.info.serverName,
    nick,
    here ? "H" : "G",
    `0 ${nick}`,
  );
}

// WHO #channel | nick
async function who(fe: IrcFrontend, params: string[]): Promise<void> {
  const mask = params[0] ?? "*";
  const { directory } = fe.session.services;
  const out: IrcMessage[] = [];
  if (mask.startsWith("#")) {
    const info = await joinedGroup(fe, mask);
    if (info) {
      const online = new Map((await directory.list()).map((e) => [e.user, e]));
      for (const u of info.joined) {
        const e = online.get(u);
        out.push(whoLine(fe, mask, u, e !== undefined && e.away === undefined));
      }
    }
  } else {
    const user = await canonicalUser(fe, mask);
    const e = user ? await directory.lookup(user) : undefined;
    if (user && e) out.push(whoLine(fe, "*", user, e.away === undefined));
  }
  out.push(fe.numeric(N.RPL_ENDOFWHO, mask, "End of /WHO list"));
  fe.send(out);
}

// WHOIS nick
async function whois(fe: IrcFrontend, params: string[]): Promise<void> {
  if (params.length === 0) {
    fe.send([fe.numeric(N.ERR_NONICKNAMEGIVEN, "No nickname given")]);
    return;
  }
  const nick = params.at(-1)!;
  const user = await canonicalUser(fe, nick);
  if (user === undefined) {
    fe.send([
      fe.numeric(N.ERR_NOSUCHNICK, nick, "No such nick"),
      fe.numeric(N.RPL_ENDOFWHOIS, nick, "End of /WHOIS list"),
    ]);
    return;
  }
  const { store, directory } = fe.session.services;
  const entry = await directory.lookup(user);
  const shared: string[] = [];
  for (const g of await store.groupsOf(user)) {
    if (g.state !== "joined") continue;
    const info = await store.getGroup(g.group);
    if (info?.members.get(fe.user) === "joined") shared.push(`#${info.name}`);
  }
  const out = [fe.numeric(N.RPL_WHOISUSER, user, user, "tessenger", "*", user)];
  if (shared.length > 0) out.push(...listLines(fe, N.RPL_WHOISCHANNELS, [user], shared));
  out.push(fe.numeric(
    N.RPL_WHOISSERVER,
    user,
    fe.info.serverName,
    entry ? `on ${entry.frontend === "irc" ? "IRC" : "the TESSENGER client"}` : "offline",
  ));
  if (entry?.away !== undefined) out.push(fe.numeric(N.RPL_AWAY, user, entry.away));
  if (entry === undefined) out.push(fe.numeric(N.RPL_AWAY, user, "is offline"));
  out.push(fe.numeric(N.RPL_WHOISACCOUNT, user, user, "is logged in as"));
  if (entry) {
    out.push(fe.numeric(
      N.RPL_WHOISIDLE,
      user,
      "0",
      String(Math.floor(entry.since / 1000)),
      "seconds idle, signon time",
    ));
  }
  out.push(fe.numeric(N.RPL_ENDOFWHOIS, user, "End of /WHOIS list"));
  fe.send(out);
}

/** The online users among `nicks`, in their own spelling. */
async function onlineOf(fe: IrcFrontend, nicks: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const n of nicks) {
    const user = await canonicalUser(fe, n);
    if (user && await fe.session.services.directory.lookup(user)) out.push(user);
  }
  return out;
}

// ISON nick [nick ...]
async function ison(fe: IrcFrontend, params: string[]): Promise<void> {
  const nicks = params.flatMap((p) => p.split(" ")).filter((n) => n !== "").slice(0, 50);
  const online = await onlineOf(fe, nicks);
  fe.send([fe.numeric(N.RPL_ISON, online.join(" "))]);
}

// USERHOST nick [nick ...] (at most 5)
async function userhost(fe: IrcFrontend, params: string[]): Promise<void> {
  const online = await onlineOf(fe, params.slice(0, 5));
  fe.send([fe.numeric(N.RPL_USERHOST, online.map((u) => `${u}=+${u}@tessenger`).join(" "))]);
}

// MONITOR + nicks | - nicks | C | L | S
async function monitor(fe: IrcFrontend, params: string[]): Promise<void> {
  if (!needs(fe, "MONITOR", params, 1)) return;
  const op = params[0];
  const nicks = (params[1] ?? "").split(",").filter((n) => n !== "");
  const { directory } = fe.session.services;
  const status = async (users: string[]) => {
    const on: string[] = [];
    const off: string[] = [];
    for (const u of users) {
      const online = (await directory.lookup(u)) !== undefined;
      fe.monitor.set(u, online);
      (online ? on : off).push(u);
    }
    return [
      ...(on.length ? listLines(fe, N.RPL_MONONLINE, [], on.map(userSource), ",") : []),
      ...(off.length ? listLines(fe, N.RPL_MONOFFLINE, [], off, ",") : []),
    ];
  };
  if (op === "+") {
    const added: string[] = [];
    for (const n of nicks) {
      const user = (await canonicalUser(fe, n)) ?? n;
      if (fe.monitor.has(user)) continue;
      if (fe.monitor.size >= MONITOR_MAX) {
        fe.send([
          fe.numeric(
            N.ERR_MONLISTFULL,
            String(MONITOR_MAX),
            nicks.join(","),
            "Monitor list is full",
          ),
        ]);
        break;
      }
      fe.monitor.set(user, false);
      added.push(user);
    }
    fe.send(await status(added));
  } else if (op === "-") {
    for (const n of nicks) {
      for (const key of fe.monitor.keys()) {
        if (key.toLowerCase() === n.toLowerCase()) fe.monitor.delete(key);
      }
    }
  } else if (op.toUpperCase() === "C") {
    fe.monitor.clear();
  } else if (op.toUpperCase() === "L") {
    fe.send([
      ...listLines(fe, N.RPL_MONLIST, [], [...fe.monitor.keys()], ","),
      fe.numeric(N.RPL_ENDOFMONLIST, "End of MONITOR list"),
    ]);
  } else if (op.toUpperCase() === "S") {
    fe.send(await status([...fe.monitor.keys()]));
  } else {
    fe.send([fe.numeric(N.ERR_UNKNOWNCOMMAND, "MONITOR", `Unknown MONITOR operation ${op}`)]);
  }
}

// AWAY [:text]: shown to senders (301), in WHO, and to members of shared groups (away-notify).
async function away(fe: IrcFrontend, params: string[]): Promise<void> {
  const text = params[0] ? params[0] : undefined;
  await markAway(fe.session.services, fe.user, text);
  fe.send([
    text === undefined
      ? fe.numeric(N.RPL_UNAWAY, "You are no longer marked as being away")
      : fe.numeric(N.RPL_NOWAWAY, "You have been marked as being away"),
  ]);
}

// MODE #channel | nick [changes]: groups are +i and nothing else; users have no modes.
async function mode(fe: IrcFrontend, params: string[]): Promise<void> {
  if (!needs(fe, "MODE", params, 1)) return;
  const [target, change] = params;
  if (target.startsWith("#")) {
    const info = await joinedGroup(fe, target);
    if (info === undefined) {
      fe.send([fe.numeric(N.ERR_NOTONCHANNEL, target, "You're not on that channel")]);
    } else if (change === undefined) {
      fe.send([
        fe.numeric(N.RPL_CHANNELMODEIS, target, "+i"),
        fe.numeric(N.RPL_CREATIONTIME, target, String(Math.floor(info.createdAt / 1000))),
      ]);
    } else if (/^[+-]?b$/.test(change)) {
      fe.send([fe.numeric(N.RPL_ENDOFBANLIST, target, "End of channel ban list")]);
    } else {
      fe.send([fe.numeric(N.ERR_CHANOPRIVSNEEDED, target, "Channel modes cannot be changed here")]);
    }
  } else if (target.toLowerCase() !== fe.nick.toLowerCase()) {
    fe.send([fe.numeric(N.ERR_USERSDONTMATCH, "Cannot change mode for other users")]);
  } else if (change === undefined) {
    fe.send([fe.numeric(N.RPL_UMODEIS, "+")]);
  }
  // A change of one's own modes (clients send +i at connect) is ignored: there are none.
}

// MOTD
function motd(fe: IrcFrontend): void {
  fe.send(motdMessages(fe.info.serverName, fe.nick, fe.info.motd));
}

/** Numbers batch ids; unique within the process is enough (they name one batch of one connection). */
let batches = 0;

// CHATHISTORY LATEST|BEFORE target ref limit
async function chathistory(fe: IrcFrontend, params: string[]): Promise<void> {
  const req = parseChathistory(params, CHATHISTORY_MAX);
  if ("fail" in req) {
    fe.send([{
      source: fe.info.serverName,
      command: "FAIL",
      params: ["CHATHISTORY", req.fail, ...req.context, req.text],
    }]);
    return;
  }
  if (req.ref.kind === "msgid") {
    // Messages carry no msgid tag (MSGREFTYPES=timestamp), so no client has one to send.
    fe.send([{
      source: fe.info.serverName,
      command: "FAIL",
      params: [
        "CHATHISTORY",
        "INVALID_PARAMS",
        req.subcommand,
        "msgid references are not supported",
      ],
    }]);
    return;
  }
  const isGroup = req.target.startsWith("#");
  const name = isGroup ? groupName(req.target) : await canonicalUser(fe, req.target);
  if (name === undefined) {
    fe.send([{
      source: fe.info.serverName,
      command: "FAIL",
      params: ["CHATHISTORY", "INVALID_TARGET", req.subcommand, req.target, "No such target"],
    }]);
    return;
  }
  // The native /history gives the newest messages; a reference narrows them down.
  const reply = await fe.session.run("history", [name, String(CHATHISTORY_MAX)]);
  if (reply.result?.type !== "history") {
    fe.send([{
      source: fe.info.serverName,
      command: "FAIL",
      params: ["CHATHISTORY", "INVALID_TARGET", req.subcommand, req.target, reply.message ?? ""],
    }]);
    return;
  }
  let items: HistoryItem[] = reply.result.messages;
  const ref = req.ref;
  if (ref.kind === "timestamp") {
    items = items.filter((m) => req.subcommand === "BEFORE" ? m.at < ref.at : m.at > ref.at);
  }
  items = items.slice(-req.limit);
  const target = isGroup ? `#${name}` : name;
  const lines = items.flatMap((m) =>
    textMessages({
      source: userSource(m.from),
      command: "PRIVMSG",
      target: isGroup ? target : m.to ?? fe.user,
      text: m.text,
      tags: fe.codec.tags(m.at),
    })
  );
  const batch = fe.reg.has("batch")
    ? historyBatch(fe.info.serverName, `h${++batches}`, target, lines)
    : lines;
  fe.respond(reply, batch);
}

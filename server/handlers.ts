/**
 * One function per command. Each holds only its own logic: the dispatcher in
 * `commands.ts` has already checked the phase and the argument count.
 *
 * @module
 */

import { randomBytes } from "node:crypto";
import { COMMANDS, HISTORY_DEFAULT, HISTORY_MAX, usageOf } from "../shared/commands.ts";
import {
  GROUP_NAME_PATTERN,
  MAX_MESSAGE_CHARS,
  MAX_PASSWORD_CHARS,
  PROTOCOL_VERSION,
  USERNAME_PATTERN,
} from "../shared/limits.ts";
import { frameLine } from "../shared/protocol.ts";
import { formatTimestamp } from "../shared/time.ts";
import type { CommandContext } from "./context.ts";
import { BusyError } from "./limits.ts";
import { verifyPassword } from "./passwords.ts";
import type { GroupInfo } from "./store.ts";

/** SPEC §2 wording, as the client prints it. */
export const LOGIN_TEXT = {
  welcome: "Welcome to TESSENGER!",
  unknownUser: "Invalid Username. Please try again",
  badPassword: "Invalid Password. Please try again",
  nowBlocked: "Invalid Password. Your account has been blocked. Please try again later",
  blocked: "Your account is blocked due to multiple login failures. Please try again later",
} as const;

// A stored hash that no password matches, checked when the user is unknown so
// that a wrong username costs the same time as a wrong password.
const DUMMY_HASH = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$" +
  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

/** Rejects text a log line could not hold: control characters, too long. */
function checkText(ctx: CommandContext, text: string): boolean {
  if (text.length > MAX_MESSAGE_CHARS) {
    ctx.reply.fail("too_long", `Message too long: at most ${MAX_MESSAGE_CHARS} characters.`);
    return false;
  }
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x1f\x7f]/.test(text)) {
    ctx.reply.fail("bad_text", "Message text cannot contain control characters or line breaks.");
    return false;
  }
  return true;
}

/** The receiver of a message or file must be another registered user. */
function checkPeer(ctx: CommandContext, to: string, what: string): boolean {
  if (to === ctx.session.user) {
    ctx.reply.fail("self", `You cannot send ${what} to yourself.`);
    return false;
  }
  if (!ctx.services.store.userExists(to)) {
    ctx.reply.fail("unknown_user", `${to} is not a registered user.`);
    return false;
  }
  return true;
}

// hello VERSION [AGENT]
export function hello(ctx: CommandContext, args: string[]): void {
  const version = Number(args[0]);
  if (version !== PROTOCOL_VERSION) {
    ctx.reply.fail(
      "version",
      `Unsupported protocol version ${
        JSON.stringify(args[0])
      }: this server speaks ${PROTOCOL_VERSION}.`,
    ).close("protocol version mismatch");
    return;
  }
  ctx.session.phase = "login";
  ctx.reply.data = {
    version: PROTOCOL_VERSION,
    server: ctx.services.settings.serverName,
    keepAliveMs: ctx.services.settings.keepAliveMs,
  };
}

// ping [TOKEN]: keep-alive, valid in any phase; echoes the token.
export function ping(ctx: CommandContext, [token]: string[]): void {
  if (token !== undefined) ctx.reply.data = { token };
}

// user USERNAME
export function user(ctx: CommandContext, [name]: string[]): void {
  const { store, throttle } = ctx.services;
  ctx.session.pendingUser = undefined;
  if (!USERNAME_PATTERN.test(name) || !store.userExists(name)) {
    ctx.reply.fail("unknown_user", LOGIN_TEXT.unknownUser);
    return;
  }
  if (throttle.isBlocked(name)) {
    ctx.services.log.warn("{user} tried to log in while blocked", { user: name });
    ctx.reply.fail("blocked", LOGIN_TEXT.blocked).close("blocked");
    return;
  }
  ctx.session.pendingUser = name;
}

// pass PASSWORD UDPPORT
export async function pass(ctx: CommandContext, [password, port]: string[]): Promise<void> {
  const { store, throttle, presence, log } = ctx.services;
  const name = ctx.session.pendingUser;
  if (name === undefined) {
    ctx.reply.fail("no_user", "Send the username first.");
    return;
  }
  const udpPort = Number(port);
  if (!Number.isInteger(udpPort) || udpPort < 0 || udpPort > 65535) {
    ctx.reply.fail("bad_port", `Invalid UDP port ${JSON.stringify(port)}: expected 0-65535.`);
    return;
  }
  if (throttle.isBlocked(name)) {
    ctx.reply.fail("blocked", LOGIN_TEXT.blocked).close("blocked");
    return;
  }
  const stored = store.getPasswordHash(name);
  let valid: boolean;
  try {
    valid = password.length <= MAX_PASSWORD_CHARS &&
      await verifyPassword(password, stored ?? DUMMY_HASH, { forLogin: true }) &&
      stored !== undefined;
  } catch (e) {
    if (!(e instanceof BusyError)) throw e;
    log.warn("Login of {user} refused: too many logins waiting", { user: name });
    ctx.reply.fail("busy", "The server is busy with other logins. Please try again in a moment.");
    return;
  }
  // The session may have closed while the hash was being checked.
  if (ctx.session.phase !== "login") return;
  if (!valid) {
    if (throttle.recordFailure(name)) {
      log.warn("{user} blocked after {n} failed logins", {
        user: name,
        n: ctx.services.settings.maxAttempts,
      });
      ctx.reply.fail("now_blocked", LOGIN_TEXT.nowBlocked).close("blocked");
    } else {
      log.info("{user} failed to log in", { user: name });
      ctx.reply.fail("bad_password", LOGIN_TEXT.badPassword);
    }
    return;
  }
  throttle.recordSuccess(name);
  const now = ctx.services.clock();
  const entry = { user: name, ip: ctx.session.ip, udpPort, since: now };
  if (!presence.join(entry, ctx.outbox)) {
    log.warn("{user} refused: already logged in", { user: name });
    ctx.reply.fail(
      "already_online",
      `${name} is already logged in elsewhere. Log out there first.`,
    ).close("second login");
    return;
  }
  ctx.session.phase = "ready";
  ctx.session.user = name;
  ctx.session.udpPort = udpPort;
  ctx.session.pendingUser = undefined;
  ctx.services.userLog.add({ user: name, at: now, ip: entry.ip, udpPort });
  log.info("{user} is online", { user: name });
  ctx.reply.line(LOGIN_TEXT.welcome);
  ctx.reply.data = { user: name, commands: COMMANDS.map((c) => usageOf(c)) };

  const queued = store.undelivered(name);
  for (const m of queued) {
    ctx.reply.after.push({
      t: "push",
      ev: "msg",
      from: m.sender,
      ts: formatTimestamp(m.at),
      text: m.text,
      queued: true,
    });
  }
  store.markDelivered(queued.map((m) => m.seq));
  if (queued.length > 0) {
    log.info("{user} received {n} queued messages", { user: name, n: queued.length });
  }
}

// /msgto USER TEXT
export function msgto(ctx: CommandContext, [to, text]: string[]): void {
  const { store, presence, messageLogs, clock } = ctx.services;
  const from = ctx.session.user!;
  if (!checkPeer(ctx, to, "a message") || !checkText(ctx, text)) return;
  const at = clock();
  let online = presence.get(to) !== undefined;
  const m = store.addPrivateMessage({ at, sender: from, receiver: to, text, delivered: online });
  messageLogs.appendPrivate(m.seq, at, to, text);
  const ts = formatTimestamp(at);
  ctx.services.log.info("{from} messaged {to}: {text}", { from, to, text });
  // A receiver whose session was just cut off (its send queue overflowed) gets
  // the message at the next login instead of never.
  if (online && !presence.deliver(to, frameLine({ t: "push", ev: "msg", from, ts, text }))) {
    store.markUndelivered(m.seq);
    online = false;
  }
  if (online) {
    ctx.reply.line(`message sent at ${ts}.`);
  } else {
    ctx.reply.code = "queued";
    ctx.reply.line(`${to} is offline: message queued at ${ts}, delivered at their next login.`);
  }
  ctx.reply.data = { ts, seq: m.seq, queued: !online };
}

// /activeuser
export function activeuser(ctx: CommandContext): void {
  const me = ctx.session.user;
  const others = ctx.services.presence.list().filter((e) => e.user !== me);
  if (others.length === 0) ctx.reply.line("no other active user");
  for (const e of others) {
    ctx.reply.line(`${e.user}, ${e.ip}, ${e.udpPort}, active since ${formatTimestamp(e.since)}.`);
  }
  ctx.reply.data = {
    users: others.map((e) => ({ user: e.user, ip: e.ip, udpPort: e.udpPort, since: e.since })),
  };
}

// /creategroup GROUP USER [USER ...]
export function creategroup(ctx: CommandContext, [group, ...invited]: string[]): void {
  const { store, presence, messageLogs, clock, log } = ctx.services;
  const creator = ctx.session.user!;
  const fail = (code: string, why: string) =>
    ctx.reply.fail(code, `Failed to create the group chat ${group}: ${why}`);
  if (!GROUP_NAME_PATTERN.test(group)) {
    fail("bad_name", "the name must be 1-32 letters or digits.");
    return;
  }
  const members = [...new Set(invited.filter((u) => u !== creator))];
  if (members.length === 0) {
    fail("no_members", "invite at least one other user.");
    return;
  }
  for (const u of members) {
    if (!store.userExists(u)) return void fail("unknown_user", `${u} is not a registered user.`);
    if (!presence.get(u)) return void fail("offline", `${u} is offline.`);
  }
  const at = clock();
  if (!store.createGroup(group, creator, members, at)) {
    fail("exists", "group name exists!");
    return;
  }
  messageLogs.createGroupLog(group);
  log.info("{creator} created group {group} with {members}", {
    creator,
    group,
    members: members.join(" "),
  });
  ctx.reply.line(
    `Group chat room has been created, room name: ${group}, users in this room: ` +
      [creator, ...members].join(" "),
  );
  ctx.services.push(members, {
    t: "push",
    ev: "invite",
    group,
    from: creator,
    ts: formatTimestamp(at),
    members: [creator, ...members],
  });
}

/** The group named by /joingroup or /leavegroup, or undefined after the SPEC's error. */
function existingGroup(ctx: CommandContext, group: string): GroupInfo | undefined {
  const info = ctx.services.store.getGroup(group);
  if (!info) ctx.reply.fail("no_group", `Groupchat ${group} doesn't exist.`);
  return info;
}

// /joingroup GROUP
export function joingroup(ctx: CommandContext, [group]: string[]): void {
  const { store } = ctx.services;
  const me = ctx.session.user!;
  const info = existingGroup(ctx, group);
  if (!info) return;
  const state = info.members.get(me);
  if (state === "joined") {
    ctx.reply.fail("already_joined", `You have already joined Groupchat ${group}`);
    return;
  }
  if (state !== "invited") {
    ctx.reply.fail("not_invited", `You are not invited to Groupchat ${group}.`);
    return;
  }
  store.setMembership(group, me, "joined");
  ctx.reply.line(`Joined the group chat: ${group} successfully.`);
}

// /groupmsg GROUP TEXT
export function groupmsg(ctx: CommandContext, [group, text]: string[]): void {
  const { store, messageLogs, clock } = ctx.services;
  const me = ctx.session.user!;
  const info = store.getGroup(group);
  if (!info) {
    ctx.reply.fail("no_group", "The group chat does not exist.");
    return;
  }
  const state = info.members.get(me);
  if (state === undefined) {
    ctx.reply.fail("not_member", "You are not in this group chat.");
    return;
  }
  if (state === "invited") {
    ctx.reply.fail("not_joined", "Please join the group before sending messages.");
    return;
  }
  if (!checkText(ctx, text)) return;
  const at = clock();
  const m = store.addGroupMessage({ group, at, sender: me, text });
  messageLogs.appendGroup(group, m.seq, at, me, text);
  const ts = formatTimestamp(at);
  ctx.services.push(info.joined, { t: "push", ev: "groupmsg", group, from: me, ts, text }, me);
  ctx.reply.line("Group chat message sent.");
  ctx.reply.data = { ts, seq: m.seq };
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

// /p2pvideo USER FILE (the client adds SIZE SHA256)
export function p2pvideo(ctx: CommandContext, [to, file, size, sha256]: string[]): void {
  const { presence, log } = ctx.services;
  const me = ctx.session.user!;
  if (!checkPeer(ctx, to, "a file")) return;
  const peer = presence.get(to);
  if (!peer) {
    ctx.reply.fail("offline", `${to} is offline`);
    return;
  }
  const bytes = Number(size);
  if (
    size === undefined || !Number.isSafeInteger(bytes) || bytes < 0 || sha256 === undefined ||
    !SHA256_HEX.test(sha256)
  ) {
    ctx.reply.fail("bad_file", "The client must send the file's size and SHA-256.");
    return;
  }
  const baseName = file.split(/[\\/]/).pop() ?? "";
  // deno-lint-ignore no-control-regex
  if (baseName === "" || baseName === "." || baseName === ".." || /[\x00-\x1f]/.test(baseName)) {
    ctx.reply.fail("bad_file", `Invalid file name ${JSON.stringify(file)}.`);
    return;
  }
  const id = randomBytes(8).toString("hex");
  const secret = randomBytes(32).toString("base64");
  ctx.services.push([to], {
    t: "push",
    ev: "transfer",
    id,
    secret,
    from: me,
    fromIp: ctx.session.ip,
    file: baseName,
    size: bytes,
    sha256,
  });
  log.info("{from} sends {file} ({size} bytes) to {to}, transfer {id}", {
    from: me,
    file: baseName,
    size: bytes,
    to,
    id,
  });
  ctx.reply.data = { id, secret, to, host: peer.ip, port: peer.udpPort, file: baseName };
}

/** `message` (one), `3 messages`. */
function nMessages(n: number): string {
  return n === 1 ? "message" : `${n} messages`;
}

// /history USER|GROUP [N]
export function history(ctx: CommandContext, [target, count]: string[]): void {
  const { store } = ctx.services;
  const me = ctx.session.user!;
  let limit = HISTORY_DEFAULT;
  if (count !== undefined) {
    limit = /^\d{1,9}$/.test(count) ? Math.min(Number(count), HISTORY_MAX) : 0;
    if (limit < 1) {
      ctx.reply.fail(
        "bad_count",
        `Invalid count ${JSON.stringify(count)}: expected a number from 1 to ${HISTORY_MAX}.`,
      );
      return;
    }
  }
  // A name can be both a user and a group: a group the caller belongs to wins.
  const group = store.getGroup(target);
  const state = group?.members.get(me);
  if (group && state === "invited") {
    ctx.reply.fail("not_joined", "Please join the group before reading its history.");
    return;
  }
  if (group && state === "joined") {
    const messages = store.groupHistory(target, limit);
    if (messages.length === 0) ctx.reply.line(`No messages in ${target} yet.`);
    else ctx.reply.line(`Last ${nMessages(messages.length)} in ${target}:`);
    const items = messages.map((m) => ({
      seq: m.seq,
      ts: formatTimestamp(m.at),
      from: m.sender,
      text: m.text,
    }));
    for (const m of items) ctx.reply.line(`${m.ts}, ${target}, ${m.from}: ${m.text}`);
    ctx.reply.data = { kind: "group", target, messages: items };
    return;
  }
  if (target === me) {
    ctx.reply.fail("self", "There is no history with yourself.");
    return;
  }
  if (!store.userExists(target)) {
    if (group) ctx.reply.fail("not_member", "You are not in this group chat.");
    else ctx.reply.fail("unknown_target", `No user or group named ${target}.`);
    return;
  }
  const messages = store.privateHistory(me, target, limit);
  if (messages.length === 0) ctx.reply.line(`No messages with ${target} yet.`);
  else ctx.reply.line(`Last ${nMessages(messages.length)} with ${target}:`);
  const items = messages.map((m) => ({
    seq: m.seq,
    ts: formatTimestamp(m.at),
    from: m.sender,
    to: m.receiver,
    text: m.text,
  }));
  for (const m of items) ctx.reply.line(`${m.ts}, ${m.from}: ${m.text}`);
  ctx.reply.data = { kind: "user", target, messages: items };
}

// /groups
export function groups(ctx: CommandContext): void {
  const { store } = ctx.services;
  const me = ctx.session.user!;
  const list = store.groupsOf(me).map(({ group, state }) => {
    const info = store.getGroup(group);
    const joined = [...info?.members ?? []].filter(([, s]) => s === "joined").map(([u]) => u);
    return { group, state, creator: info?.creator ?? "", members: joined };
  });
  if (list.length === 0) ctx.reply.line("You are in no group chat and have no invitations.");
  for (const g of list) {
    ctx.reply.line(
      g.state === "joined"
        ? `${g.group}: joined, members: ${g.members.join(" ")}`
        : `${g.group}: invited by ${g.creator}, type /joingroup ${g.group} to join`,
    );
  }
  ctx.reply.data = { groups: list };
}

// /leavegroup GROUP
export function leavegroup(ctx: CommandContext, [group]: string[]): void {
  const { store, log } = ctx.services;
  const me = ctx.session.user!;
  const info = existingGroup(ctx, group);
  if (!info) return;
  const state = info.members.get(me);
  if (state === undefined || !store.removeMembership(group, me)) {
    ctx.reply.fail("not_member", "You are not in this group chat.");
    return;
  }
  log.info("{user} left group {group}", { user: me, group });
  ctx.reply.line(`You have left the group chat ${group}.`);
  if (state === "joined") {
    const others = [...info.members].filter(([u, s]) => s === "joined" && u !== me).map(([u]) => u);
    ctx.services.push(others, {
      t: "push",
      ev: "notice",
      text: `${me} left the group chat ${group}.`,
    });
  }
}

// /help
export function help(ctx: CommandContext): void {
  ctx.reply.line("Commands:");
  for (const c of COMMANDS) ctx.reply.line(`  ${usageOf(c).padEnd(40)} ${c.summary}`);
}

// /logout
export function logout(ctx: CommandContext): void {
  ctx.reply.line(`Bye, ${ctx.session.user}!`).close("logout");
}

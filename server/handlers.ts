/**
 * One function per command. Each holds only its own logic: the dispatcher in
 * `commands.ts` has already checked the phase and the argument count. A
 * handler fills its {@link Reply} with a typed result or a failure; the front
 * end renders it. Everything it reads or writes goes through the ports
 * (`ports.ts`), so the same handler serves one node or a cluster.
 *
 * @module
 */

import { randomBytes } from "node:crypto";
import { COMMANDS, HISTORY_DEFAULT, HISTORY_MAX, usageOf } from "../shared/commands.ts";
import {
  GROUP_NAME_PATTERN,
  HISTORY_MAX_CHARS,
  MAX_ACTIVEUSER_LISTED,
  MAX_AWAY_CHARS,
  MAX_MESSAGE_CHARS,
  MAX_PASSWORD_CHARS,
  PROTOCOL_VERSION,
  USERNAME_PATTERN,
} from "../shared/limits.ts";
import { BREAKING_CHARS } from "../shared/text.ts";
import { formatTimestamp } from "../shared/time.ts";
import type { CommandContext, ServerServices } from "./context.ts";
import { groupEvent, privateEvent } from "./delivery.ts";
import { BusyError } from "./limits.ts";
import { verifyPassword } from "./passwords.ts";
import type { GroupInfo } from "./ports.ts";
import type { HistoryItem } from "./results.ts";

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

/** How often a login waiting for its turn (other checks of the username under way) asks again. */
const RESERVE_RETRY_MS = 20;
/** How many times it asks before answering `busy`. */
const RESERVE_RETRIES = 250;

/** Rejects text a log line could not hold: line breaks, control characters, too long. */
function checkText(
  ctx: CommandContext,
  text: string,
  max = MAX_MESSAGE_CHARS,
  what = "Message",
): boolean {
  if (text.length > max) {
    ctx.reply.fail("too_long", `${what} too long: at most ${max} characters.`);
    return false;
  }
  if (BREAKING_CHARS.test(text)) {
    ctx.reply.fail("bad_text", "Message text cannot contain control characters or line breaks.");
    return false;
  }
  return true;
}

/** The receiver of a message or file must be another registered user. */
async function checkPeer(ctx: CommandContext, to: string, what: string): Promise<boolean> {
  if (to === ctx.session.user) {
    ctx.reply.fail("self", `You cannot send ${what} to yourself.`);
    return false;
  }
  if (!USERNAME_PATTERN.test(to) || !(await ctx.services.store.userExists(to))) {
    ctx.reply.fail("unknown_user", `${to} is not a registered user.`);
    return false;
  }
  return true;
}

/** `in 8 seconds` for a wait in milliseconds. */
function inSeconds(ms: number): string {
  const s = Math.max(1, Math.ceil(ms / 1000));
  return `in ${s} second${s === 1 ? "" : "s"}`;
}

/** Refuses a login: the SPEC's blocked wording, how long to wait, then bye. */
function blocked(ctx: CommandContext, retryAfterMs: number): void {
  ctx.reply.fail("blocked", LOGIN_TEXT.blocked).close("blocked");
  ctx.reply.detail = { retryAfterSeconds: Math.ceil(retryAfterMs / 1000) };
}

/** Refuses a login from an address over its failure budget. */
function addressLimited(ctx: CommandContext, retryAfterMs: number): void {
  ctx.services.log.warn("Login from {ip} refused: too many failed logins from the address", {
    ip: ctx.session.ip,
  });
  ctx.reply.fail(
    "address_limited",
    `Too many failed logins from your address. Please try again ${inSeconds(retryAfterMs)}.`,
  ).close("too many failed logins");
  ctx.reply.detail = { retryAfterSeconds: Math.ceil(retryAfterMs / 1000) };
}

// hello VERSION [AGENT]
export function hello(ctx: CommandContext, args: string[]): void {
  const version = Number(args[0]);
  if (version !== PROTOCOL_VERSION) {
    ctx.reply.fail(
      "version",
      `Unsupported protocol version ${
        JSON.stringify(args[0])
      }: this server speaks ${PROTOCOL_VERSION}. Please upgrade your TESSENGER client.`,
    ).close("protocol version mismatch");
    return;
  }
  ctx.session.phase = "login";
  const { serverName, keepAliveMs } = ctx.services.settings;
  ctx.reply.set({ type: "hello", version: PROTOCOL_VERSION, server: serverName, keepAliveMs });
}

// ping [TOKEN]: keep-alive, valid in any phase; echoes the token.
export function ping(ctx: CommandContext, [token]: string[]): void {
  ctx.reply.set({ type: "ping", ...(token !== undefined ? { token } : {}) });
}

// user USERNAME
export async function user(ctx: CommandContext, [name]: string[]): Promise<void> {
  const { store, throttle, log } = ctx.services;
  ctx.session.pendingUser = undefined;
  const limited = await throttle.addressBlockedFor(ctx.session.ip);
  if (limited > 0) return addressLimited(ctx, limited);
  if (!USERNAME_PATTERN.test(name) || !(await store.userExists(name))) {
    await throttle.unknownUser(ctx.session.ip);
    ctx.reply.fail("unknown_user", LOGIN_TEXT.unknownUser);
    return;
  }
  const wait = await throttle.blockedFor(name);
  if (wait > 0) {
    log.warn("{user} tried to log in while blocked", { user: name });
    return blocked(ctx, wait);
  }
  ctx.session.pendingUser = name;
  ctx.reply.set({ type: "user", user: name });
}

// pass PASSWORD UDPPORT
export async function pass(ctx: CommandContext, [password, port]: string[]): Promise<void> {
  const { store, throttle, directory, log, settings } = ctx.services;
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
  // A password is checked only with a reservation: parallel logins of one
  // username can never check more than the attempts left before a block.
  for (let tries = 0;; tries++) {
    const r = await throttle.reserve(name, ctx.session.ip);
    if (r.kind === "go") break;
    if (r.kind === "blocked") return blocked(ctx, r.retryAfterMs);
    if (r.kind === "address_limited") return addressLimited(ctx, r.retryAfterMs);
    if (ctx.session.phase !== "login") return;
    if (tries >= RESERVE_RETRIES) {
      ctx.reply.fail("busy", "The server is busy with other logins. Please try again in a moment.");
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, RESERVE_RETRY_MS));
  }
  let valid: boolean;
  try {
    const stored = await store.getPasswordHash(name);
    valid = password.length <= MAX_PASSWORD_CHARS &&
      await verifyPassword(password, stored ?? DUMMY_HASH, { forLogin: true }) &&
      stored !== undefined;
  } catch (e) {
    await throttle.settle(name, ctx.session.ip, "unchecked");
    if (!(e instanceof BusyError)) throw e;
    log.warn("Login of {user} refused: too many logins waiting", { user: name });
    ctx.reply.fail("busy", "The server is busy with other logins. Please try again in a moment.");
    return;
  }
  // Settled even when the session closed meanwhile: a guess always counts.
  const verdict = await throttle.settle(name, ctx.session.ip, valid ? "ok" : "failed");
  if (ctx.session.phase !== "login") return;
  if (verdict === "now_blocked") {
    log.warn("{user} blocked after {n} failed logins", { user: name, n: settings.maxAttempts });
    ctx.reply.fail("now_blocked", LOGIN_TEXT.nowBlocked).close("blocked");
    ctx.reply.detail = { retryAfterSeconds: settings.blockSeconds };
    return;
  }
  if (verdict === "failed") {
    log.info("{user} failed to log in", { user: name });
    ctx.reply.fail("bad_password", LOGIN_TEXT.badPassword);
    return;
  }
  const now = ctx.services.clock();
  const entry = {
    user: name,
    ip: ctx.session.ip,
    udpPort,
    since: now,
    frontend: ctx.session.frontend,
    node: settings.node,
  };
  if (!(await directory.claim(entry))) {
    log.warn("{user} refused: already logged in", { user: name });
    ctx.reply.fail(
      "already_online",
      `${name} is already logged in elsewhere. Log out there first.`,
    ).close("second login");
    return;
  }
  if (ctx.session.phase !== "login") {
    // The connection went away while the user was being claimed.
    await directory.release(name, now);
    return;
  }
  ctx.session.phase = "ready";
  ctx.session.user = name;
  ctx.session.udpPort = udpPort;
  ctx.session.pendingUser = undefined;
  ctx.session.entry = entry;
  ctx.services.userLog.add({ user: name, at: now, ip: entry.ip, udpPort });
  log.info("{user} is online", { user: name });
  const cursors = await store.cursors(name);
  ctx.control.loggedIn(entry, cursors);
  ctx.reply.set({ type: "welcome", user: name, commands: COMMANDS.map((c) => usageOf(c)) });
  // Invitations sent while the user was away, shown after the welcome.
  for (const g of await store.groupsOf(name)) {
    if (g.state !== "invited") continue;
    ctx.reply.after.push({
      ev: "notice",
      text: `${g.invitedBy ?? "Someone"} invited you to the group chat ${g.group}: ` +
        `type /joingroup ${g.group} to join.`,
    });
  }
  // The login has happened: telling the others is not worth failing it for.
  await announcePresence(ctx.services, name, "online").catch((e) =>
    log.warn("Cannot tell {user}'s groups they are online: {error}", {
      user: name,
      error: e instanceof Error ? e.message : String(e),
    })
  );
}

/** Tells everyone who shares a joined group with `user` that they came online or went offline. */
export async function announcePresence(
  services: ServerServices,
  user: string,
  change: "online" | "offline",
): Promise<void> {
  const { store, router } = services;
  const peers = new Set<string>();
  for (const group of (await store.cursors(user)).groups.keys()) {
    for (const u of (await store.getGroup(group))?.joined ?? []) peers.add(u);
  }
  peers.delete(user);
  if (peers.size > 0) router.toUsers([...peers], { ev: "member", user, change });
}

// /msgto USER TEXT
export async function msgto(ctx: CommandContext, [to, text]: string[]): Promise<void> {
  const { store, router, clock, log } = ctx.services;
  const from = ctx.session.user!;
  if (!(await checkPeer(ctx, to, "a message")) || !checkText(ctx, text)) return;
  const at = clock();
  // The receiver's away text is read while the message is stored. Only a
  // decoration: a directory out of reach (a cluster's Redis) must not turn a
  // stored message into an error reply, which would have the sender send it again.
  const [m, receiver] = await Promise.all([
    store.addPrivateMessage({ at, sender: from, receiver: to, text }),
    ctx.services.directory.lookup(to).catch(() => undefined),
  ]);
  // Metadata only: what people write is theirs, not the server log's.
  log.info("{from} messaged {to}", { from, to });
  const online = await router.toUser(to, privateEvent(m));
  if (!online) ctx.reply.note("queued");
  ctx.reply.set({
    type: "msgto",
    to,
    ts: formatTimestamp(at),
    at,
    seq: m.seq,
    queued: !online,
    ...(online && receiver?.away !== undefined ? { away: receiver.away } : {}),
  });
}

// /activeuser
export async function activeuser(ctx: CommandContext): Promise<void> {
  const me = ctx.session.user;
  const others = (await ctx.services.directory.list()).filter((e) => e.user !== me);
  const listed = others.slice(0, MAX_ACTIVEUSER_LISTED);
  ctx.reply.set({
    type: "activeuser",
    users: listed.map((e) => ({
      user: e.user,
      ip: e.ip,
      udpPort: e.udpPort,
      since: e.since,
      frontend: e.frontend,
      ...(e.away !== undefined ? { away: e.away } : {}),
    })),
    more: others.length - listed.length,
  });
}

// /creategroup GROUP USER [USER ...]
export async function creategroup(
  ctx: CommandContext,
  [group, ...invited]: string[],
): Promise<void> {
  const { store, clock, log } = ctx.services;
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
    if (!USERNAME_PATTERN.test(u) || !(await store.userExists(u))) {
      return void fail("unknown_user", `${u} is not a registered user.`);
    }
  }
  const taken = await store.lookupName(group);
  if (taken?.kind === "user") {
    fail("exists", `${taken.name} is a username; pick another name.`);
    return;
  }
  const at = clock();
  if (taken !== undefined || !(await store.createGroup(group, creator, members, at))) {
    fail("exists", "group name exists!");
    return;
  }
  log.info("{creator} created group {group} with {members}", {
    creator,
    group,
    members: members.join(" "),
  });
  ctx.control.delivery?.subscribe(group, 0);
  ctx.reply.set({ type: "creategroup", group, creator, members });
  sendInvites(ctx, group, members, [creator, ...members], at);
}

/**
 * Tells the invitees who are online, naming everyone in the group (joined or
 * invited); the others see the invitation at their next login.
 */
function sendInvites(
  ctx: CommandContext,
  group: string,
  invitees: string[],
  members: string[],
  at: number,
): void {
  ctx.services.router.toUsers(invitees, {
    ev: "invite",
    group,
    from: ctx.session.user!,
    ts: formatTimestamp(at),
    members,
  });
}

// /invite GROUP USER [USER ...]
export async function invite(ctx: CommandContext, [group, ...users]: string[]): Promise<void> {
  const { store, clock, log } = ctx.services;
  const me = ctx.session.user!;
  const info = await existingGroup(ctx, group);
  if (!info) return;
  const state = info.members.get(me);
  if (state !== "joined") {
    ctx.reply.fail(
      state === "invited" ? "not_joined" : "not_member",
      state === "invited"
        ? "Please join the group before inviting others."
        : "You are not in this group chat.",
    );
    return;
  }
  const wanted = [...new Set(users)];
  for (const u of wanted) {
    if (!USERNAME_PATTERN.test(u) || !(await store.userExists(u))) {
      ctx.reply.fail("unknown_user", `${u} is not a registered user.`);
      return;
    }
  }
  const fresh = wanted.filter((u) => !info.members.has(u));
  const already = wanted.filter((u) => info.members.has(u));
  if (fresh.length === 0) {
    ctx.reply.fail(
      "already_member",
      `${already.join(", ")} ${already.length === 1 ? "is" : "are"} already in ${info.name}.`,
    );
    return;
  }
  for (const u of fresh) await store.invite(info.name, u, me);
  log.info("{user} invited {users} to {group}", {
    user: me,
    users: fresh.join(" "),
    group: info.name,
  });
  ctx.reply.set({ type: "invite", group: info.name, invited: fresh, already });
  const everyone = [info.creator, ...[...info.members.keys()].filter((u) => u !== info.creator)];
  sendInvites(ctx, info.name, fresh, everyone, clock());
}

/** Tells the joined members of `group` but `user` that `user` joined or left. */
function memberChange(
  ctx: CommandContext,
  group: GroupInfo,
  user: string,
  change: "joined" | "left",
  members: readonly string[] = group.joined,
): void {
  ctx.services.router.toUsers(members, { ev: "member", group: group.name, user, change }, user);
}

/** The group named by /joingroup or /leavegroup, or undefined after the SPEC's error. */
async function existingGroup(ctx: CommandContext, group: string): Promise<GroupInfo | undefined> {
  const info = await ctx.services.store.getGroup(group);
  if (!info) ctx.reply.fail("no_group", `Groupchat ${group} doesn't exist.`);
  return info;
}

// /joingroup GROUP
export async function joingroup(ctx: CommandContext, [group]: string[]): Promise<void> {
  const { store } = ctx.services;
  const me = ctx.session.user!;
  const info = await existingGroup(ctx, group);
  if (!info) return;
  const state = info.members.get(me);
  if (state === "joined") {
    ctx.reply.fail("already_joined", `You have already joined Groupchat ${info.name}`);
    return;
  }
  if (state !== "invited") {
    ctx.reply.fail("not_invited", `You are not invited to Groupchat ${info.name}.`);
    return;
  }
  await store.join(info.name, me);
  ctx.control.delivery?.subscribe(info.name, info.lastSeq);
  ctx.reply.set({ type: "joingroup", group: info.name });
  memberChange(ctx, info, me, "joined");
}

// /groupmsg GROUP TEXT
export async function groupmsg(ctx: CommandContext, [group, text]: string[]): Promise<void> {
  const { store, router, clock } = ctx.services;
  const me = ctx.session.user!;
  const info = await store.getGroup(group);
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
  const m = await store.addGroupMessage({ group: info.name, at, sender: me, text });
  ctx.control.delivery?.ownMessage(info.name, m.seq);
  router.toUsers(info.joined, groupEvent(m), me);
  ctx.reply.set({ type: "groupmsg", group: info.name, ts: formatTimestamp(at), at, seq: m.seq });
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

// /p2pvideo USER FILE (the client adds SIZE SHA256)
export async function p2pvideo(
  ctx: CommandContext,
  [to, file, size, sha256]: string[],
): Promise<void> {
  const { directory, router, log } = ctx.services;
  const me = ctx.session.user!;
  if (ctx.session.frontend !== "native") {
    ctx.reply.fail("unsupported", "File transfers need the TESSENGER client: they go over UDP.");
    return;
  }
  if (!(await checkPeer(ctx, to, "a file"))) return;
  const peer = await directory.lookup(to);
  if (!peer) {
    ctx.reply.fail("offline", `${to} is offline`);
    return;
  }
  if (peer.frontend !== "native") {
    ctx.reply.fail("unsupported", `${to} is on IRC and cannot receive UDP transfers`);
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
  if (baseName === "" || baseName === "." || baseName === ".." || BREAKING_CHARS.test(baseName)) {
    ctx.reply.fail("bad_file", `Invalid file name ${JSON.stringify(file)}.`);
    return;
  }
  const id = randomBytes(8).toString("hex");
  const secret = randomBytes(32).toString("base64");
  // The peers may bind and relay through the UDP port (docs/transfer.md § NAT traversal).
  const udp = ctx.services.udp;
  const serverUdpPort = udp?.register(id, secret) ? udp.port : undefined;
  await router.toUser(to, {
    ev: "transfer",
    id,
    secret,
    from: me,
    fromIp: ctx.session.ip,
    file: baseName,
    size: bytes,
    sha256,
    serverUdpPort,
    // The receiver may be on another node: the relay is this node's.
    ...(serverUdpPort !== undefined && ctx.services.settings.udpHost !== undefined
      ? { serverUdpHost: ctx.services.settings.udpHost }
      : {}),
  });
  log.info("{from} sends {file} ({size} bytes) to {to}, transfer {id}", {
    from: me,
    file: baseName,
    size: bytes,
    to,
    id,
  });
  ctx.reply.set({
    type: "p2pvideo",
    id,
    secret,
    to,
    host: peer.ip,
    port: peer.udpPort,
    file: baseName,
    serverUdpPort,
  });
}

/**
 * The newest items whose text fits {@link HISTORY_MAX_CHARS}, oldest first;
 * `more` when older ones were left out for size.
 */
function boundItems(items: HistoryItem[]): { messages: HistoryItem[]; more: boolean } {
  let chars = 0;
  let i = items.length;
  while (i > 0 && chars + items[i - 1].text.length <= HISTORY_MAX_CHARS) {
    chars += items[i - 1].text.length;
    i--;
  }
  return { messages: items.slice(i), more: i > 0 };
}

// /history USER|GROUP [N]
export async function history(ctx: CommandContext, [target, count]: string[]): Promise<void> {
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
  const group = await store.getGroup(target);
  if (group) {
    const state = group.members.get(me);
    if (state === "invited") {
      ctx.reply.fail("not_joined", "Please join the group before reading its history.");
      return;
    }
    if (state === undefined) {
      ctx.reply.fail("not_member", "You are not in this group chat.");
      return;
    }
    const items = (await store.groupHistory(group.name, limit)).map((m) => ({
      seq: m.seq,
      ts: formatTimestamp(m.at),
      at: m.at,
      from: m.sender,
      text: m.text,
    }));
    ctx.reply.set({ type: "history", kind: "group", target: group.name, ...boundItems(items) });
    return;
  }
  if (target === me) {
    ctx.reply.fail("self", "There is no history with yourself.");
    return;
  }
  if (!USERNAME_PATTERN.test(target) || !(await store.userExists(target))) {
    ctx.reply.fail("unknown_target", `No user or group named ${target}.`);
    return;
  }
  const items = (await store.privateHistory(me, target, limit)).map((m) => ({
    seq: m.seq,
    ts: formatTimestamp(m.at),
    at: m.at,
    from: m.sender,
    to: m.receiver,
    text: m.text,
  }));
  ctx.reply.set({ type: "history", kind: "user", target, ...boundItems(items) });
}

// /groups
export async function groups(ctx: CommandContext): Promise<void> {
  const { store } = ctx.services;
  const me = ctx.session.user!;
  const list = [];
  for (const { group, state, invitedBy } of await store.groupsOf(me)) {
    const info = await store.getGroup(group);
    list.push({
      group,
      state,
      creator: info?.creator ?? "",
      ...(invitedBy !== undefined ? { invitedBy } : {}),
      members: [...info?.joined ?? []],
    });
  }
  ctx.reply.set({ type: "groups", groups: list });
}

// /leavegroup GROUP
export async function leavegroup(ctx: CommandContext, [group]: string[]): Promise<void> {
  const { store, log } = ctx.services;
  const me = ctx.session.user!;
  const info = await existingGroup(ctx, group);
  if (!info) return;
  const state = info.members.get(me);
  if (state === undefined) {
    ctx.reply.fail("not_member", "You are not in this group chat.");
    return;
  }
  const others = info.joined.filter((u) => u !== me);
  if (!(await store.leave(info.name, me))) {
    ctx.reply.fail("not_member", "You are not in this group chat.");
    return;
  }
  ctx.control.delivery?.unsubscribe(info.name);
  log.info("{user} left group {group}", { user: me, group: info.name });
  ctx.reply.set({ type: "leavegroup", group: info.name });
  if (state === "joined") memberChange(ctx, info, me, "left", others);
}

/**
 * Sets (or, with no text, clears) `user`'s away text, and tells the joined
 * members of their groups with an `away` event (IRC's away-notify). The
 * native `/away` and IRC's `AWAY` both come here.
 */
export async function markAway(
  services: CommandContext["services"],
  user: string,
  text: string | undefined,
): Promise<void> {
  const { directory, store, router } = services;
  await directory.setAway(user, text);
  const others = new Set<string>();
  for (const g of await store.groupsOf(user)) {
    if (g.state !== "joined") continue;
    for (const u of (await store.getGroup(g.group))?.joined ?? []) others.add(u);
  }
  others.delete(user);
  router.toUsers([...others], { ev: "away", user, ...(text !== undefined ? { text } : {}) });
}

// /away [TEXT]
export async function away(ctx: CommandContext, [text]: string[]): Promise<void> {
  const me = ctx.session.user!;
  if (text !== undefined && !checkText(ctx, text, MAX_AWAY_CHARS, "Away text")) return;
  await markAway(ctx.services, me, text);
  // Metadata only, as for messages.
  ctx.services.log.info(text === undefined ? "{user} is back" : "{user} is away", { user: me });
  ctx.reply.set({ type: "away", ...(text !== undefined ? { text } : {}) });
}

// /who GROUP
export async function who(ctx: CommandContext, [group]: string[]): Promise<void> {
  const me = ctx.session.user!;
  const info = await existingGroup(ctx, group);
  if (!info) return;
  if (!info.members.has(me)) {
    ctx.reply.fail("not_member", "You are not in this group chat.");
    return;
  }
  const { directory } = ctx.services;
  const members = await Promise.all(
    [...info.members].sort(([a], [b]) => a.localeCompare(b)).map(async ([user, state]) => {
      const entry = await directory.lookup(user);
      return {
        user,
        state,
        online: entry !== undefined,
        ...(entry?.away !== undefined ? { away: entry.away } : {}),
      };
    }),
  );
  ctx.reply.set({ type: "who", group: info.name, members });
}

// /help
export function help(ctx: CommandContext): void {
  ctx.reply.set({
    type: "help",
    commands: COMMANDS.map((c) => ({ usage: usageOf(c), summary: c.summary })),
  });
}

// /logout
export function logout(ctx: CommandContext): void {
  ctx.reply.set({ type: "logout", user: ctx.session.user! }).close("logout");
}

// newgroup GROUP: a group of one, its creator (an IRC JOIN of a name nobody uses).
export async function newgroup(ctx: CommandContext, [group]: string[]): Promise<void> {
  const { store, clock, log } = ctx.services;
  const creator = ctx.session.user!;
  if (!GROUP_NAME_PATTERN.test(group)) {
    ctx.reply.fail(
      "bad_name",
      `Failed to create the group chat ${group}: the name must be 1-32 letters or digits.`,
    );
    return;
  }
  if (!(await store.createGroup(group, creator, [], clock()))) {
    ctx.reply.fail("exists", `Failed to create the group chat ${group}: group name exists!`);
    return;
  }
  log.info("{creator} created group {group}", { creator, group });
  ctx.control.delivery?.subscribe(group, 0);
  ctx.reply.set({ type: "creategroup", group, creator, members: [] });
}

/**
 * The IRC front end on one connection: lines in, the registration machine
 * (`registration.ts`) until the welcome, then IRC commands mapped onto the
 * native ones (`commands.ts`); events out through the session's codec
 * (`codec.ts`). The login is the native `user` + `pass`, so lockout,
 * throttle, the duplicate-login rule and the log lines are the same.
 *
 * Delivery: a message stays undelivered until the client confirms it. An IRC
 * client has no acknowledgement, but TCP keeps order: the server sends
 * `PING :token` after the lines it has queued, and the matching PONG confirms
 * every message queued before that PING. The sweep sends one whenever
 * messages wait for confirmation and none is outstanding (and as a
 * keep-alive when the client has been quiet).
 *
 * Flood control: a session over its request rate has each line held back
 * (fake lag, as IRC servers do) instead of refused; one that keeps flooding
 * is closed with `Excess Flood`.
 *
 * @module
 */

import { GROUP_NAME_PATTERN, MAX_BAD_FRAMES } from "../../../shared/limits.ts";
import { formatTimestamp } from "../../../shared/time.ts";
import type { Reply } from "../../context.ts";
import type { FrameVerdict } from "../../limits.ts";
import type { Frontend, Session } from "../../session.ts";
import { IrcCodec, USER_HOST, userSource } from "./codec.ts";
import { channelLines, listLines, runIrcCommand } from "./commands.ts";
import { formatMessage, IrcLineDecoder, IrcLineError, type IrcMessage } from "./message.ts";
import * as N from "./numerics.ts";
import { type LoginOutcome, Registration, type RegistrationStep } from "./registration.ts";
import { welcomeBurst } from "./welcome.ts";

/** What every IRC session of a server shares. */
export interface IrcServerInfo {
  /** The source of the server's lines, e.g. `tessenger`. */
  serverName: string;
  /** `tessenger/0.1.0`. */
  version: string;
  /** When the server started (ms since the epoch). */
  started: number;
  /** The message of the day, one entry a line. */
  motd: readonly string[];
  /** How long a session may be quiet before the server pings it. */
  keepAliveMs: number;
  /** How long a line over the request rate is held back. */
  fakeLagMs: number;
}

/** Most nicks one MONITOR list holds (ISUPPORT `MONITOR`). */
export const MONITOR_MAX = 100;

/** Most messages one CHATHISTORY answer holds (ISUPPORT `CHATHISTORY`). */
export const CHATHISTORY_MAX = 200;

/** The ISUPPORT tokens of the welcome burst. */
export function isupportTokens(): string[] {
  return [
    "NETWORK=TESSENGER",
    "CASEMAPPING=ascii",
    "CHANTYPES=#",
    "CHANMODES=,,,i",
    "CHANNELLEN=33",
    "NICKLEN=32",
    "TARGMAX=PRIVMSG:4,NOTICE:4,JOIN:10,PART:10,NAMES:1,WHOIS:1",
    `MONITOR=${MONITOR_MAX}`,
    `CHATHISTORY=${CHATHISTORY_MAX}`,
    "MSGREFTYPES=timestamp",
    "UTF8ONLY",
    "SAFELIST",
  ];
}

/** A PING sent for confirmation: what had been queued when it was. */
interface OutstandingPing {
  token: string;
  sentAt: number;
  positions: Map<string, { sent: number; acked: number }> | undefined;
}

/** The IRC protocol on one connection. */
export class IrcFrontend implements Frontend {
  readonly codec: IrcCodec;
  readonly reg: Registration;
  readonly session: Session;
  readonly info: IrcServerInfo;
  /** Nicks this session monitors, with whether each was online at the last look. */
  readonly monitor = new Map<string, boolean>();
  readonly #decoder = new IrcLineDecoder();
  #badLines = 0;
  /** The reply of the native login, answered with the welcome burst. */
  #loginReply: Reply | undefined;
  #pingCount = 0;
  #ping: OutstandingPing | undefined;
  #lastHeard: number;

  constructor(session: Session, info: IrcServerInfo) {
    this.session = session;
    this.info = info;
    this.reg = new Registration({ serverName: info.serverName, userHost: USER_HOST });
    const reg = this.reg;
    this.codec = new IrcCodec({
      serverName: info.serverName,
      get nick() {
        return reg.nick;
      },
      has: (cap) => reg.has(cap),
    });
    this.#lastHeard = session.services.clock();
  }

  /** The session's nick (`*` until registered). */
  get nick(): string {
    return this.reg.nick;
  }

  /** The logged-in user. */
  get user(): string {
    return this.session.state.user!;
  }

  decode(bytes: Uint8Array): unknown[] {
    return this.#decoder.push(bytes);
  }

  bye(reason: string): string {
    return formatMessage({
      command: "ERROR",
      params: [`Closing link: ${this.session.state.ip} (${reason})`],
    });
  }

  /** Queues lines as they are (not a command's response). */
  send(messages: readonly IrcMessage[]): void {
    if (messages.length > 0) this.session.outbox.send(this.codec.render(messages));
  }

  /** A numeric addressed to this client. */
  numeric(code: string, ...params: string[]): IrcMessage {
    return { source: this.info.serverName, command: code, params: [this.nick, ...params] };
  }

  /** A server NOTICE to this client (split to fit). */
  notice(text: string): IrcMessage[] {
    return this.codec.notice(text);
  }

  /**
   * Queues the lines answering a native command: they wait for the writes the
   * command made to be durable, and a notice replaces them if the writes were
   * undone.
   */
  respond(reply: Reply, messages: readonly IrcMessage[]): void {
    const fallback = this.codec.render(this.notice(
      "Cannot save your request: the server could not write to its disk. " +
        "Nothing was changed; please try again later.",
    ));
    this.session.respond(this.codec.render(messages), reply, fallback);
  }

  handle(input: unknown): void | Promise<void> {
    this.#lastHeard = this.session.services.clock();
    if (input instanceof IrcLineError) return this.#badLine(input);
    const msg = input as IrcMessage;
    if (msg.command === "PONG") {
      this.session.guard.touch();
      return this.#pong(msg);
    }
    const verdict = this.session.guard.admitFrame();
    if (verdict === "ok") return this.#dispatch(msg);
    return this.#lagged(msg, verdict);
  }

  /**
   * A line over the request rate: held back until the rate allows it (fake
   * lag; reading waits meanwhile, so the flood backs up in the client's own
   * socket), or, for a client that keeps flooding, the end of the session.
   */
  async #lagged(msg: IrcMessage, verdict: FrameVerdict): Promise<void> {
    const { guard, log } = this.session;
    while (verdict === "rate_limited") {
      if (guard.rateLimitedRequests === 1) {
        log.warn("{who} is over the request rate; holding its lines back", {
          who: this.session.who,
        });
      }
      await new Promise((resolve) => setTimeout(resolve, this.info.fakeLagMs));
      if (this.session.outbox.closing) return;
      verdict = guard.admitFrame();
    }
    if (verdict === "abuse") {
      log.warn("Disconnecting {who}: excess flood", { who: this.session.who });
      this.session.close("Excess Flood");
      return;
    }
    return this.#dispatch(msg);
  }

  #dispatch(msg: IrcMessage): void | Promise<void> {
    if (this.session.outbox.closing) return;
    const step = this.reg.handle(msg);
    if (step) return this.#apply(step);
    const pending = runIrcCommand(this, msg);
    if (pending) return pending.catch((e) => this.#failed(msg, e));
  }

  /** Sends a step's replies, runs its effect, closes when it says so. */
  async #apply(step: RegistrationStep): Promise<void> {
    this.send(step.replies);
    const effect = step.effect;
    if (effect?.kind === "login") {
      const outcome = await this.#login(effect.user, effect.password);
      return this.#apply(this.reg.loginResult(outcome));
    }
    if (effect?.kind === "welcome") await this.#welcome();
    if (step.close !== undefined) this.session.close(step.close);
  }

  /** The native login: `user`, then `pass` (no UDP port: IRC has no file transfers). */
  async #login(name: string, password: string): Promise<LoginOutcome> {
    const { session } = this;
    // Nicks are case-insensitive on IRC: log in with the account's own spelling.
    const entry = await session.services.store.lookupName(name);
    const user = entry?.kind === "user" ? entry.name : name;
    if (session.state.phase === "hello") session.state.phase = "login";
    let reply = await session.run("user", [user]);
    if (reply.ok) reply = await session.run("pass", [password, "0"]);
    if (!reply.ok) return { code: reply.code, text: reply.message ?? reply.code };
    this.#loginReply = reply;
    return { code: "ok", text: "Welcome to TESSENGER!" };
  }

  /** 001–005, the MOTD, every joined group as a JOIN, invitations as INVITE. */
  async #welcome(): Promise<void> {
    const { store } = this.session.services;
    const user = this.user;
    const lines: IrcMessage[] = welcomeBurst({
      serverName: this.info.serverName,
      nick: user,
      version: this.info.version,
      greeting: "Welcome to TESSENGER!",
      started: formatTimestamp(this.info.started),
      isupport: isupportTokens(),
      motd: this.info.motd,
    });
    for (const { group, state, invitedBy } of await store.groupsOf(user)) {
      if (!GROUP_NAME_PATTERN.test(group)) continue;
      if (state === "joined") {
        const info = await store.getGroup(group);
        if (info) lines.push(...channelLines(this, info));
      } else {
        lines.push({
          source: userSource(invitedBy ?? this.info.serverName),
          command: "INVITE",
          params: [user, `#${group}`],
        });
      }
    }
    const reply = this.#loginReply!;
    this.#loginReply = undefined;
    // The native login's notices of pending invitations: IRC has INVITE for them (above).
    reply.after.length = 0;
    this.respond(reply, lines);
    this.session.log.info("{user} is on IRC", { user });
  }

  /** A command that threw (a port out of reach): logged, answered, and the session goes on. */
  #failed(msg: IrcMessage, e: unknown): void {
    this.session.log.error("IRC {cmd} from {who} failed: {error}", {
      cmd: msg.command,
      who: this.session.who,
      error: e instanceof Error ? e.message : String(e),
    });
    this.send([{
      source: this.info.serverName,
      command: "FAIL",
      params: [msg.command, "INTERNAL", "Cannot run the command: internal server error."],
    }]);
  }

  #badLine(e: IrcLineError): void {
    this.#badLines++;
    if (e.code === "bad_utf8") {
      this.send([{
        source: this.info.serverName,
        command: "FAIL",
        params: [e.command ?? "*", "INVALID_UTF8", e.message],
      }]);
    } else if (e.code === "malformed") {
      this.send([this.numeric(N.ERR_UNKNOWNCOMMAND, e.command ?? "*", e.message)]);
    } else {
      this.send([this.numeric(N.ERR_INPUTTOOLONG, e.message)]);
    }
    this.session.log.warn("Bad line from {who}: {message}", {
      who: this.session.who,
      message: e.message,
    });
    if (this.#badLines >= MAX_BAD_FRAMES) this.session.close("too many malformed lines");
  }

  /** Called by the sweep: confirmation pings, keep-alives, MONITOR changes. */
  tick(): void {
    if (!this.reg.registered || this.session.outbox.closing) return;
    const now = this.session.services.clock();
    if (this.#ping === undefined) {
      const waiting = this.#unconfirmed();
      if (waiting || now - this.#lastHeard >= this.info.keepAliveMs) this.#sendPing(now);
    }
    if (this.monitor.size > 0) {
      this.#checkMonitor().catch((e) => this.#failed({ command: "MONITOR", params: [] }, e));
    }
  }

  /** True when messages were queued that the client has not confirmed. */
  #unconfirmed(): boolean {
    const d = this.session.delivery;
    if (d === undefined) return false;
    for (const p of d.positions().values()) if (p.sent > p.acked) return true;
    return false;
  }

  #sendPing(now: number): void {
    const token = `tessenger-${++this.#pingCount}`;
    this.session.outbox.send(formatMessage({ command: "PING", params: [token] }));
    // Taken after the PING is queued (queuing it settles any open run):
    // everything counted as sent is before it on the wire.
    this.#ping = { token, sentAt: now, positions: this.session.delivery?.positions() };
  }

  #pong(msg: IrcMessage): void {
    const ping = this.#ping;
    if (ping === undefined || msg.params.at(-1) !== ping.token) return;
    this.#ping = undefined;
    const d = this.session.delivery;
    if (d === undefined || ping.positions === undefined) return;
    const groups: Record<string, number> = {};
    let inbox: number | undefined;
    for (const [key, p] of ping.positions) {
      if (key === "") inbox = p.sent;
      else groups[key] = p.sent;
    }
    d.ack({ inbox, groups });
    if (this.#unconfirmed()) this.#sendPing(this.session.services.clock());
  }

  /** Tells the client which monitored nicks came online or went offline since the last look. */
  async #checkMonitor(): Promise<void> {
    const { directory } = this.session.services;
    const on: string[] = [];
    const off: string[] = [];
    for (const [nick, was] of this.monitor) {
      const now = (await directory.lookup(nick)) !== undefined;
      if (now === was) continue;
      this.monitor.set(nick, now);
      (now ? on : off).push(nick);
    }
    if (on.length > 0) this.send(listLines(this, N.RPL_MONONLINE, [], on.map(userSource), ","));
    if (off.length > 0) this.send(listLines(this, N.RPL_MONOFFLINE, [], off, ","));
  }
}

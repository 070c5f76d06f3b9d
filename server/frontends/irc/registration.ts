/**
 * IRC connection registration as a pure state machine: capability
 * negotiation (`CAP LS 302` / `REQ` / `END`), SASL PLAIN through
 * `AUTHENTICATE`, `PASS`, `NICK` and `USER`. It takes parsed messages and
 * returns the replies to send and what the server must do; it never touches
 * a socket, the store or the clock.
 *
 * The login itself (password check, lockout, throttle, the duplicate-login
 * rule, the log lines) is the server's native login: the machine asks for it
 * with a `login` effect and is told the outcome with {@link Registration.loginResult}.
 * With SASL the login runs at `AUTHENTICATE` (the client waits for 903/904
 * before `CAP END`); with `PASS` it runs once `NICK` and `USER` are in. The
 * nick is the username; after a SASL login the account's name is the nick.
 *
 * @module
 */

import { USERNAME_PATTERN } from "../../../shared/limits.ts";
import type { IrcMessage } from "./message.ts";
import * as N from "./numerics.ts";
import { parsePlain, SaslPayload } from "./sasl.ts";

/** The IRCv3 capabilities the front door offers, in the order `CAP LS` lists them. */
export const CAPABILITIES = [
  "sasl",
  "server-time",
  "echo-message",
  "message-tags",
  "away-notify",
  "cap-notify",
  "batch",
  "draft/chathistory",
] as const;

/** One capability the front door offers. */
export type Capability = typeof CAPABILITIES[number];

/** Values shown to `CAP LS 302` clients. */
const CAP_VALUES: Partial<Record<Capability, string>> = { sasl: "PLAIN" };

/** The outcome of a login, as the native login reports it. */
export interface LoginOutcome {
  /**
   * The native login's code: `ok`, `unknown_user`, `bad_password`,
   * `now_blocked`, `blocked`, `already_online`, `busy` (docs/protocol.md).
   */
  code: string;
  /** The native login's line (SPEC §2 wording), shown in the numeric's text. */
  text: string;
}

/** What the server must do after a step. */
export type RegistrationEffect =
  /** Run the native login with these credentials, then call {@link Registration.loginResult}. */
  | { kind: "login"; user: string; password: string; via: "pass" | "sasl" }
  /** Registration is complete: send the welcome burst and start the session as `nick`. */
  | { kind: "welcome"; nick: string };

/** The result of one call: lines to send, then an effect, then maybe a close. */
export interface RegistrationStep {
  replies: IrcMessage[];
  effect?: RegistrationEffect;
  /** Close the connection (after the replies) with this reason (`ERROR :...`). */
  close?: string;
}

/** Settings of a {@link Registration}. */
export interface RegistrationOptions {
  /** The source of the server's replies, e.g. `tessenger`. */
  serverName: string;
  /** The host shown in `nick!user@host` (900 RPL_LOGGEDIN). */
  userHost: string;
}

/** Commands the machine answers; the rest are the session's once registered. */
const REGISTRATION_COMMANDS = new Set(["CAP", "AUTHENTICATE", "PASS", "NICK", "USER"]);

/** Commands a client may send before it is registered without being told 451. */
const ALLOWED_BEFORE = new Set(["PING", "PONG", "QUIT"]);

/** Codes after which the native login closes the connection. */
const CLOSING_CODES = new Set(["now_blocked", "blocked", "already_online"]);

/** One connection's registration. */
export class Registration {
  readonly #options: RegistrationOptions;
  /** Capabilities the client has enabled. */
  readonly caps = new Set<Capability>();
  /** `CAP LS 302` or later: values in LS, cap-notify implied. */
  #cap302 = false;
  /** Between `CAP LS`/`REQ` and `CAP END`: registration waits. */
  #negotiating = false;
  #nick: string | undefined;
  #userReceived = false;
  #password: string | undefined;
  /** The mechanism chosen by `AUTHENTICATE PLAIN`, while its payload arrives. */
  #sasl: SaslPayload | undefined;
  /** The username a SASL login is pending for. */
  #saslUser: string | undefined;
  /** The account a SASL login succeeded for. */
  #account: string | undefined;
  #pending: "pass" | "sasl" | undefined;
  #registered = false;

  constructor(options: RegistrationOptions) {
    this.#options = options;
  }

  /** True once the welcome burst was asked for. */
  get registered(): boolean {
    return this.#registered;
  }

  /** The nick to address replies to: `*` until one is known. */
  get nick(): string {
    return this.#account ?? this.#nick ?? "*";
  }

  /** True while a login effect waits for {@link loginResult}; hand over no message meanwhile. */
  get pending(): boolean {
    return this.#pending !== undefined;
  }

  /** Whether the client enabled `cap`. */
  has(cap: Capability): boolean {
    return this.caps.has(cap);
  }

  /**
   * Takes one message from the client.
   *
   * @returns the step, or undefined when the message is the session's (any
   *   command but CAP, AUTHENTICATE, PASS, NICK and USER once registered;
   *   PING, PONG and QUIT at any time).
   * @throws {Error} when called while {@link pending}: the driver must wait.
   */
  handle(msg: IrcMessage): RegistrationStep | undefined {
    if (this.#pending) throw new Error("Cannot handle a message: a login is pending");
    switch (msg.command) {
      case "CAP":
        return this.#cap(msg.params);
      case "AUTHENTICATE":
        return this.#authenticate(msg.params);
      case "PASS":
        return this.#pass(msg.params);
      case "NICK":
        return this.#nickCommand(msg.params);
      case "USER":
        return this.#user(msg.params);
    }
    if (this.#registered || ALLOWED_BEFORE.has(msg.command)) return undefined;
    return this.#reply(N.ERR_NOTREGISTERED, "You have not registered");
  }

  /** Whether {@link handle} answers `command` (in some phase). */
  static handles(command: string): boolean {
    return REGISTRATION_COMMANDS.has(command);
  }

  /**
   * The outcome of the login the last `login` effect asked for.
   *
   * @throws {Error} when no login is pending.
   */
  loginResult(outcome: LoginOutcome): RegistrationStep {
    const via = this.#pending;
    if (via === undefined) throw new Error("Cannot take a login result: no login is pending");
    this.#pending = undefined;
    const ok = outcome.code === "ok";
    if (via === "sasl") {
      if (ok) {
        const account = this.#saslUser!;
        this.#account = account;
        this.#saslUser = undefined;
        const nick = account;
        const step = this.#step(
          this.#msg(
            N.RPL_LOGGEDIN,
            `${nick}!${nick}@${this.#options.userHost}`,
            account,
            `You are now logged in as ${account}`,
          ),
          this.#msg(N.RPL_SASLSUCCESS, "SASL authentication successful"),
        );
        return this.#tryComplete(step);
      }
      this.#saslUser = undefined;
      if (outcome.code === "already_online") return this.#alreadyOnline(outcome);
      const step = this.#reply(N.ERR_SASLFAIL, outcome.text);
      if (CLOSING_CODES.has(outcome.code)) step.close = outcome.text;
      return step;
    }
    if (ok) {
      this.#registered = true;
      return { replies: [], effect: { kind: "welcome", nick: this.nick } };
    }
    if (outcome.code === "already_online") return this.#alreadyOnline(outcome);
    // A refused PASS ends the connection: registration cannot be retried on it.
    const step = outcome.code === "busy"
      ? { replies: [] }
      : this.#reply(N.ERR_PASSWDMISMATCH, outcome.text);
    return { ...step, close: outcome.text };
  }

  #alreadyOnline(outcome: LoginOutcome): RegistrationStep {
    const step = this.#step(this.#msg(N.ERR_NICKNAMEINUSE, this.#nick ?? "*", outcome.text));
    step.close = outcome.text;
    return step;
  }

  // CAP LS [version] | LIST | REQ :caps | END
  #cap(params: string[]): RegistrationStep {
    const sub = params[0]?.toUpperCase();
    switch (sub) {
      case "LS": {
        const version = Number(params[1] ?? "0");
        if (Number.isInteger(version) && version >= 302) {
          this.#cap302 = true;
          this.caps.add("cap-notify");
        }
        if (!this.#registered) this.#negotiating = true;
        return this.#step(this.#capList("LS", this.#capTokens()));
      }
      case "LIST":
        return this.#step(this.#capList("LIST", [...this.caps]));
      case "REQ": {
        if (!this.#registered) this.#negotiating = true;
        const requested = (params[1] ?? "").trim();
        return this.#step(this.#capReq(requested));
      }
      case "END":
        if (this.#registered || !this.#negotiating) return { replies: [] };
        this.#negotiating = false;
        return this.#tryComplete({ replies: [] });
      case undefined:
        return this.#reply(N.ERR_NEEDMOREPARAMS, "CAP", "Not enough parameters");
      default:
        return this.#reply(N.ERR_INVALIDCAPCMD, params[0], "Invalid CAP command");
    }
  }

  #capTokens(): string[] {
    return CAPABILITIES.map((c) => {
      const value = CAP_VALUES[c];
      return this.#cap302 && value ? `${c}=${value}` : c;
    });
  }

  /**
   * `CAP nick LS :...`. The list is far shorter than a line, so the multi-line
   * form of 302 (`CAP nick LS * :...`) is never needed.
   */
  #capList(sub: string, tokens: string[]): IrcMessage {
    return this.#capMsg(sub, tokens.join(" "));
  }

  #capReq(requested: string): IrcMessage {
    const tokens = requested === "" ? [] : requested.split(/ +/);
    const changes: [Capability, boolean][] = [];
    for (const t of tokens) {
      const off = t.startsWith("-");
      const name = off ? t.slice(1) : t;
      if (!(CAPABILITIES as readonly string[]).includes(name)) {
        return this.#capMsg("NAK", requested);
      }
      // cap-notify stays on for 302 clients (IRCv3 capability negotiation).
      if (off && name === "cap-notify" && this.#cap302) return this.#capMsg("NAK", requested);
      changes.push([name as Capability, !off]);
    }
    if (changes.length === 0) return this.#capMsg("NAK", requested);
    for (const [cap, on] of changes) on ? this.caps.add(cap) : this.caps.delete(cap);
    return this.#capMsg("ACK", requested);
  }

  // AUTHENTICATE PLAIN | chunk | + | *
  #authenticate(params: string[]): RegistrationStep {
    const arg = params[0];
    if (arg === undefined || arg === "") {
      return this.#reply(N.ERR_NEEDMOREPARAMS, "AUTHENTICATE", "Not enough parameters");
    }
    if (this.#account !== undefined || this.#registered) {
      return this.#reply(N.ERR_SASLALREADY, "You have already authenticated using SASL");
    }
    if (!this.caps.has("sasl")) {
      return this.#reply(N.ERR_SASLFAIL, "SASL authentication failed: request the sasl capability");
    }
    if (arg === "*") {
      if (this.#sasl === undefined) {
        return this.#reply(N.ERR_SASLFAIL, "SASL authentication failed: nothing to abort");
      }
      this.#sasl = undefined;
      return this.#reply(N.ERR_SASLABORTED, "SASL authentication aborted");
    }
    if (this.#sasl === undefined) {
      if (arg.toUpperCase() !== "PLAIN") {
        return this.#step(
          this.#msg(N.RPL_SASLMECHS, "PLAIN", "are available SASL mechanisms"),
          this.#msg(N.ERR_SASLFAIL, "SASL authentication failed"),
        );
      }
      this.#sasl = new SaslPayload();
      return { replies: [{ command: "AUTHENTICATE", params: ["+"] }] };
    }
    const chunk = this.#sasl.push(arg);
    if (chunk.kind === "more") return { replies: [] };
    this.#sasl = undefined;
    if (chunk.kind === "too_long") {
      return this.#reply(N.ERR_SASLTOOLONG, "SASL message too long");
    }
    const creds = chunk.kind === "done" ? parsePlain(chunk.payload) : undefined;
    if (!creds) {
      return this.#reply(N.ERR_SASLFAIL, "SASL authentication failed: malformed PLAIN payload");
    }
    if (creds.authzid !== "" && creds.authzid !== creds.authcid) {
      return this.#reply(N.ERR_SASLFAIL, "SASL authentication failed: cannot act as another user");
    }
    this.#pending = "sasl";
    this.#saslUser = creds.authcid;
    return {
      replies: [],
      effect: { kind: "login", user: creds.authcid, password: creds.password, via: "sasl" },
    };
  }

  // PASS password
  #pass(params: string[]): RegistrationStep {
    if (this.#registered) return this.#reply(N.ERR_ALREADYREGISTERED, "You may not reregister");
    if (params.length === 0) {
      return this.#reply(N.ERR_NEEDMOREPARAMS, "PASS", "Not enough parameters");
    }
    this.#password = params[0];
    return { replies: [] };
  }

  // NICK nick
  #nickCommand(params: string[]): RegistrationStep {
    const nick = params[0];
    if (nick === undefined || nick === "") {
      return this.#reply(N.ERR_NONICKNAMEGIVEN, "No nickname given");
    }
    if (this.#registered || this.#account !== undefined) {
      if (nick === this.nick) return { replies: [] };
      return this.#reply(N.ERR_NICKLOCKED, "Your nick is your username: it cannot be changed");
    }
    if (!USERNAME_PATTERN.test(nick)) {
      return this.#reply(N.ERR_ERRONEUSNICKNAME, nick, "Erroneous nickname");
    }
    this.#nick = nick;
    return this.#tryComplete({ replies: [] });
  }

  // USER username mode unused :realname
  #user(params: string[]): RegistrationStep {
    if (this.#registered) return this.#reply(N.ERR_ALREADYREGISTERED, "You may not reregister");
    if (params.length < 4 || params[0] === "") {
      return this.#reply(N.ERR_NEEDMOREPARAMS, "USER", "Not enough parameters");
    }
    this.#userReceived = true;
    return this.#tryComplete({ replies: [] });
  }

  /** Finishes registration when nothing is missing or pending; adds to `step`. */
  #tryComplete(step: RegistrationStep): RegistrationStep {
    const haveNick = this.#nick !== undefined || this.#account !== undefined;
    if (
      this.#registered || !haveNick || !this.#userReceived || this.#negotiating ||
      this.#sasl !== undefined || this.#pending
    ) {
      return step;
    }
    if (this.#account !== undefined) {
      this.#registered = true;
      return { ...step, effect: { kind: "welcome", nick: this.#account } };
    }
    if (this.#password === undefined) {
      const text = "Password required: connect with your password (PASS) or log in with SASL";
      return {
        replies: [...step.replies, this.#msg(N.ERR_PASSWDMISMATCH, text)],
        close: text,
      };
    }
    this.#pending = "pass";
    return {
      ...step,
      effect: { kind: "login", user: this.#nick!, password: this.#password, via: "pass" },
    };
  }

  /** A numeric addressed to the client: `:server NUM nick ...params`. */
  #msg(numeric: string, ...params: string[]): IrcMessage {
    return { source: this.#options.serverName, command: numeric, params: [this.nick, ...params] };
  }

  #capMsg(sub: string, ...params: string[]): IrcMessage {
    return {
      source: this.#options.serverName,
      command: "CAP",
      params: [this.nick, sub, ...params],
    };
  }

  #reply(numeric: string, ...params: string[]): RegistrationStep {
    return { replies: [this.#msg(numeric, ...params)] };
  }

  #step(...replies: IrcMessage[]): RegistrationStep {
    return { replies };
  }
}

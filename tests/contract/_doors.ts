/**
 * The contract suite's view of a front door: the same chat operations, each
 * with one outcome, whatever the wire. `nativeDoor` speaks the JSON-lines
 * protocol; `ircDoor` speaks IRC (PRIVMSG, JOIN, INVITE, PART, CHATHISTORY,
 * ISON) and reads its numerics. Each IRC operation ends with a PING, so its
 * answer is every line before the PONG.
 *
 * @module
 */

import { RawClient } from "../helpers/raw_client.ts";
import { RawIrcClient } from "../helpers/raw_irc_client.ts";
import type { TestServer } from "../helpers/test_server.ts";
import type { IrcMessage } from "../../server/frontends/irc/message.ts";

/** What an operation came to, in the native protocol's codes. */
export type Outcome =
  | { ok: true; queued: boolean }
  | { ok: false; code: string };

/** A message a user was shown. */
export interface Shown {
  from: string;
  text: string;
  /** For a group message. */
  group?: string;
}

/** A logged-in user on one door. */
export interface Chatter {
  readonly user: string;
  msgto(to: string, text: string): Promise<Outcome>;
  /** Creates `group` and invites `invitees` (IRC: JOIN of a new name, then INVITE). */
  createGroup(group: string, invitees: string[]): Promise<Outcome>;
  join(group: string): Promise<Outcome>;
  invite(group: string, users: string[]): Promise<Outcome>;
  groupmsg(group: string, text: string): Promise<Outcome>;
  leave(group: string): Promise<Outcome>;
  /** The texts of the last `n` messages of a group, oldest first. */
  history(group: string, n: number): Promise<string[]>;
  /** Which of `users` are online. */
  online(users: string[]): Promise<string[]>;
  /** The messages shown so far, once the server has sent everything it had for this user. */
  shown(): Promise<Shown[]>;
  close(): Promise<void>;
}

/** A front door under contract. */
export interface Door {
  readonly name: string;
  /** Logs in; a refused login is its outcome. */
  login(t: TestServer, user: string, password: string): Promise<Chatter | Outcome>;
}

/** The native JSON-lines door. */
export const nativeDoor: Door = {
  name: "native",
  async login(t, user, password) {
    const c = await RawClient.connect(t.port);
    await c.expectOk("hello", ["2"]);
    for (const [cmd, args] of [["user", [user]], ["pass", [password, "0"]]] as const) {
      const res = await c.request(cmd, [...args]);
      if (!res.ok) {
        await c.close();
        return { ok: false, code: res.code };
      }
    }
    return new NativeChatter(user, c);
  },
};

class NativeChatter implements Chatter {
  constructor(readonly user: string, readonly c: RawClient) {}

  async #run(cmd: string, args: string[]): Promise<Outcome> {
    const res = await this.c.request(cmd, args);
    return res.ok ? { ok: true, queued: res.code === "queued" } : { ok: false, code: res.code };
  }

  msgto(to: string, text: string) {
    return this.#run("msgto", [to, text]);
  }
  createGroup(group: string, invitees: string[]) {
    return this.#run("creategroup", [group, ...invitees]);
  }
  join(group: string) {
    return this.#run("joingroup", [group]);
  }
  invite(group: string, users: string[]) {
    return this.#run("invite", [group, ...users]);
  }
  groupmsg(group: string, text: string) {
    return this.#run("groupmsg", [group, text]);
  }
  leave(group: string) {
    return this.#run("leavegroup", [group]);
  }
  async history(group: string, n: number): Promise<string[]> {
    const res = await this.c.request("history", [group, String(n)]);
    return (res.data?.messages as { text: string }[] ?? []).map((m) => m.text);
  }
  async online(users: string[]): Promise<string[]> {
    const res = await this.c.request("activeuser");
    const on = new Set((res.data?.users as { user: string }[] ?? []).map((u) => u.user));
    return users.filter((u) => on.has(u));
  }
  async shown(): Promise<Shown[]> {
    await this.c.request("ping");
    return this.c.pushes().filter((p) => p.ev === "msg" || p.ev === "groupmsg").map((p) => ({
      from: p.from,
      text: p.text,
      ...(p.ev === "groupmsg" ? { group: p.group } : {}),
    }));
  }
  close() {
    return this.c.close();
  }
}

/** The IRC door, with echo-message so that a sent message is confirmed. */
export const ircDoor: Door = {
  name: "irc",
  async login(t, user, password) {
    const c = await RawIrcClient.connect(t.server.ircPort!);
    await c.send(
      "CAP LS 302",
      "CAP REQ :echo-message server-time batch draft/chathistory",
      `PASS ${password}`,
      `NICK ${user}`,
      `USER ${user.toLowerCase()} 0 * :${user}`,
      "CAP END",
    );
    const m = await c.expect((m) => ["376", "422", "464", "433", "ERROR"].includes(m.command));
    if (m.command === "376" || m.command === "422") return new IrcChatter(user, c);
    const text = m.params.at(-1) ?? "";
    await c.close();
    if (m.command === "433") return { ok: false, code: "already_online" };
    return { ok: false, code: /blocked/.test(text) ? "blocked" : "bad_password" };
  },
};

class IrcChatter implements Chatter {
  #sync = 0;
  constructor(readonly user: string, readonly c: RawIrcClient) {}

  /** Sends `lines`, then a PING; resolves with every line that came before its PONG. */
  async #roundTrip(...lines: string[]): Promise<IrcMessage[]> {
    const token = `contract-${++this.#sync}`;
    await this.c.send(...lines, `PING :${token}`);
    const out: IrcMessage[] = [];
    await this.c.expect((m) => {
      if (m.command === "PONG" && m.params.at(-1) === token) return true;
      out.push(m);
      return false;
    });
    return out;
  }

  /** The first error numeric among `lines` as a native code, or undefined. */
  #error(lines: IrcMessage[]): Outcome | undefined {
    const codes: Record<string, string> = {
      "401": "unknown_user",
      "403": "no_group",
      "404": "not_member",
      "442": "not_member",
      "443": "already_member",
      "473": "not_invited",
      "476": "bad_name",
    };
    for (const m of lines) {
      if (codes[m.command] !== undefined) return { ok: false, code: codes[m.command] };
      if (/^[45]\d\d$/.test(m.command)) return { ok: false, code: `irc_${m.command}` };
    }
    return undefined;
  }

  #mine(m: IrcMessage): boolean {
    return (m.source ?? "").split("!")[0].toLowerCase() === this.user.toLowerCase();
  }

  async msgto(to: string, text: string): Promise<Outcome> {
    const lines = await this.#roundTrip(`PRIVMSG ${to} :${text}`);
    const failed = this.#error(lines);
    if (failed) return failed;
    const queued = lines.some((m) => m.command === "301" && /is offline/.test(m.params.at(-1)!));
    const echoed = lines.some((m) => m.command === "PRIVMSG" && this.#mine(m));
    return echoed ? { ok: true, queued } : { ok: false, code: "no_echo" };
  }

  async createGroup(group: string, invitees: string[]): Promise<Outcome> {
    const joined = await this.join(group);
    if (!joined.ok) return joined.code === "not_invited" ? { ok: false, code: "exists" } : joined;
    return invitees.length > 0 ? await this.invite(group, invitees) : joined;
  }

  async join(group: string): Promise<Outcome> {
    const lines = await this.#roundTrip(`JOIN #${group}`);
    const failed = this.#error(lines);
    if (failed) return failed;
    const ok = lines.some((m) => m.command === "JOIN" && this.#mine(m));
    return ok ? { ok: true, queued: false } : { ok: false, code: "no_join" };
  }

  async invite(group: string, users: string[]): Promise<Outcome> {
    const lines = await this.#roundTrip(...users.map((u) => `INVITE ${u} #${group}`));
    const failed = this.#error(lines);
    if (failed) return failed;
    const invited = lines.filter((m) => m.command === "341").length;
    return invited === users.length ? { ok: true, queued: false } : { ok: false, code: "no_341" };
  }

  async groupmsg(group: string, text: string): Promise<Outcome> {
    const lines = await this.#roundTrip(`PRIVMSG #${group} :${text}`);
    const failed = this.#error(lines);
    if (failed) return failed;
    const echoed = lines.some((m) => m.command === "PRIVMSG" && this.#mine(m));
    return echoed ? { ok: true, queued: false } : { ok: false, code: "no_echo" };
  }

  async leave(group: string): Promise<Outcome> {
    const lines = await this.#roundTrip(`PART #${group}`);
    const failed = this.#error(lines);
    if (failed) return failed;
    const parted = lines.some((m) => m.command === "PART" && this.#mine(m));
    return parted ? { ok: true, queued: false } : { ok: false, code: "no_part" };
  }

  async history(group: string, n: number): Promise<string[]> {
    const lines = await this.#roundTrip(`CHATHISTORY LATEST #${group} * ${n}`);
    // The batch's lines only: live messages may arrive during the round trip too.
    return lines.filter((m) => m.command === "PRIVMSG" && m.tags?.batch !== undefined)
      .map((m) => m.params.at(-1)!);
  }

  async online(users: string[]): Promise<string[]> {
    const lines = await this.#roundTrip(`ISON ${users.join(" ")}`);
    const ison = lines.find((m) => m.command === "303")?.params.at(-1) ?? "";
    const on = new Set(ison.split(" ").filter((u) => u !== ""));
    return users.filter((u) => on.has(u));
  }

  async shown(): Promise<Shown[]> {
    await this.#roundTrip();
    // Not the lines of a CHATHISTORY batch: those are history, not messages shown as they came.
    const live = (m: IrcMessage) =>
      m.command === "PRIVMSG" && !this.#mine(m) && m.tags?.batch === undefined;
    return this.c.received.filter(live).map((m) => {
      const target = m.params[0];
      return {
        from: (m.source ?? "").split("!")[0],
        text: m.params.at(-1)!,
        ...(target.startsWith("#") ? { group: target.slice(1) } : {}),
      };
    });
  }

  close() {
    return this.c.close();
  }
}

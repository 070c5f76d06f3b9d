/**
 * The names the client has seen: users (from `/activeuser`, messages,
 * invitations) and groups (from `/groups`, `/creategroup`, invitations). It
 * feeds tab completion. No IO: it only learns from {@link ClientEvent}s.
 *
 * @module
 */

import type { CompletionSource } from "./completion.ts";
import type { ClientEvent } from "./events.ts";
import { COMMANDS } from "../shared/commands.ts";

/** Known users and groups, learned from events. */
export class Roster {
  /** The logged-in user, once known. */
  self: string | undefined;
  readonly users: Set<string> = new Set();
  readonly groups: Set<string> = new Set();

  /** Updates the roster from one event. */
  learn(event: ClientEvent): void {
    switch (event.kind) {
      case "ready":
        this.self = event.user;
        break;
      case "push":
        this.#learnPush(event.push);
        break;
      case "response":
        if (event.res.ok) this.#learnResponse(event.cmd, event.args, event.res.data);
        break;
    }
  }

  #learnPush(p: Extract<ClientEvent, { kind: "push" }>["push"]): void {
    switch (p.ev) {
      case "msg":
      case "transfer":
        this.users.add(p.from);
        break;
      case "groupmsg":
        this.users.add(p.from);
        this.groups.add(p.group);
        break;
      case "member":
        this.users.add(p.user);
        if (p.group !== undefined) this.groups.add(p.group);
        break;
      case "invite":
        this.groups.add(p.group);
        for (const u of [p.from, ...p.members]) this.users.add(u);
        break;
    }
  }

  #learnResponse(cmd: string, args: string[], data: Record<string, unknown> | undefined): void {
    switch (cmd) {
      case "activeuser":
        for (const u of arrayOf(data?.users)) {
          if (typeof u?.user === "string") this.users.add(u.user);
        }
        break;
      case "groups":
        if (!Array.isArray(data?.groups)) break;
        this.groups.clear();
        for (const g of arrayOf(data.groups)) {
          if (typeof g?.group === "string") this.groups.add(g.group);
          for (const u of arrayOf(g?.members)) if (typeof u === "string") this.users.add(u);
        }
        break;
      case "creategroup":
        this.groups.add(args[0]);
        for (const u of args.slice(1)) this.users.add(u);
        break;
      case "joingroup":
        this.groups.add(args[0]);
        break;
      case "leavegroup":
        this.groups.delete(args[0]);
        break;
      case "msgto":
      case "p2pvideo":
        this.users.add(args[0]);
        break;
      case "history":
        if (data?.kind === "user") this.users.add(args[0]);
        if (data?.kind === "group") this.groups.add(args[0]);
        break;
    }
  }

  /** What completion offers now: every command, known users but oneself, known groups. */
  completionSource(): CompletionSource {
    const users = [...this.users].filter((u) => u !== this.self);
    return { commands: COMMANDS, users, groups: [...this.groups] };
  }
}

// deno-lint-ignore no-explicit-any
function arrayOf(value: unknown): any[] {
  return Array.isArray(value) ? value : [];
}

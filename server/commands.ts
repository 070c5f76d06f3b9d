/**
 * The command table: verb → handler, argument rules, and the phase the session
 * must be in. Shared checks run here once, so handlers hold only their logic.
 *
 * @module
 */

import { findCommand, maxArgs, minArgs, usageOf } from "../shared/commands.ts";
import { type CommandContext, Reply, type SessionPhase } from "./context.ts";
import * as h from "./handlers.ts";
import { UnavailableError } from "./ports.ts";

/** How the server runs one verb. */
export interface CommandEntry {
  handler: (ctx: CommandContext, args: string[]) => void | Promise<void>;
  /** The phase the session must be in; `any` for verbs valid in every phase. */
  phase: SessionPhase | "any";
  minArgs: number;
  maxArgs: number;
  /** Shown when the argument count is wrong. */
  usage: string;
  /** Whether the server log records "USER issued /verb command". */
  logged: boolean;
}

function userCommand(
  name: string,
  handler: CommandEntry["handler"],
  extraWireArgs = 0,
): [string, CommandEntry] {
  const spec = findCommand(name);
  if (!spec) throw new Error(`Cannot register command: no spec for ${name}`);
  return [name, {
    handler,
    phase: "ready",
    minArgs: minArgs(spec),
    maxArgs: maxArgs(spec) + extraWireArgs,
    usage: `Usage: ${usageOf(spec)}`,
    logged: true,
  }];
}

/** A verb for logged-in users that clients send but nobody types (not in `/help`). */
function wireCommand(
  name: string,
  handler: CommandEntry["handler"],
  min: number,
  max: number,
  usage: string,
): [string, CommandEntry] {
  return [name, { handler, phase: "ready", minArgs: min, maxArgs: max, usage, logged: true }];
}

/** Every verb the server understands. */
export const COMMAND_TABLE: ReadonlyMap<string, CommandEntry> = new Map([
  ["hello", {
    handler: h.hello,
    phase: "hello",
    minArgs: 1,
    maxArgs: 2,
    usage: "Usage: hello VERSION [AGENT]",
    logged: false,
  }],
  ["user", {
    handler: h.user,
    phase: "login",
    minArgs: 1,
    maxArgs: 1,
    usage: "Usage: user USERNAME",
    logged: false,
  }],
  ["pass", {
    handler: h.pass,
    phase: "login",
    minArgs: 2,
    maxArgs: 2,
    usage: "Usage: pass PASSWORD UDPPORT",
    logged: false,
  }],
  ["ping", {
    handler: h.ping,
    phase: "any",
    minArgs: 0,
    maxArgs: 1,
    usage: "Usage: ping [TOKEN]",
    logged: false,
  }],
  wireCommand("newgroup", h.newgroup, 1, 1, "Usage: newgroup GROUP"),
  userCommand("msgto", h.msgto),
  userCommand("activeuser", h.activeuser),
  userCommand("creategroup", h.creategroup),
  userCommand("joingroup", h.joingroup),
  userCommand("invite", h.invite),
  userCommand("groupmsg", h.groupmsg),
  userCommand("p2pvideo", h.p2pvideo, 2),
  userCommand("history", h.history),
  userCommand("groups", h.groups),
  userCommand("leavegroup", h.leavegroup),
  userCommand("away", h.away),
  userCommand("who", h.who),
  userCommand("help", h.help),
  userCommand("logout", h.logout),
]);

/** Why a verb cannot run in the session's phase: `[code, line]`. */
function phaseError(session: SessionPhase, needed: CommandEntry["phase"]): [string, string] {
  if (session === "hello") return ["need_hello", "Start with: hello 1"];
  if (session === "closing") return ["closing", "The session is closing."];
  if (needed === "ready") return ["need_login", "Please log in first."];
  if (needed === "hello") return ["hello_done", "Hello was already sent."];
  return ["logged_in", "You are already logged in."];
}

/** How a request is run. */
export interface RunOptions {
  /**
   * The client sent it on its own, not the user (`quiet` on the wire): not
   * logged as "USER issued /verb command" (at debug level instead).
   */
  quiet?: boolean;
}

/**
 * Runs one request through the table and resolves with its reply. Unknown
 * verbs, wrong phases and wrong argument counts are answered here; anything a
 * handler throws becomes an `internal` error reply (and a log line), never a
 * crash. The reply records whether the handler wrote to the store, and in
 * which epochs, so the front end's response waits for those writes.
 */
export async function runCommand(
  ctx: Omit<CommandContext, "reply">,
  cmd: string,
  args: string[],
  options: RunOptions = {},
): Promise<Reply> {
  const reply = new Reply();
  const full = { ...ctx, reply };
  const { store } = ctx.services;
  const writes = store.writes;
  const epoch = store.epoch;
  const pending = dispatch(full, cmd, args, options);
  if (pending) await pending;
  if (store.writes !== writes) reply.writes = { epoch, epochTo: store.epoch };
  return reply;
}

/**
 * Runs one request through the table. Unknown verbs, wrong phases and wrong
 * argument counts are answered here; anything a handler throws becomes an
 * `internal` error reply (and a log line), never a crash.
 */
export function dispatch(
  ctx: CommandContext,
  cmd: string,
  args: string[],
  options: RunOptions = {},
): void | Promise<void> {
  const entry = COMMAND_TABLE.get(cmd);
  if (!entry) {
    ctx.reply.fail("unknown_command", "Error. Invalid command!");
    return;
  }
  if (entry.phase !== "any" && ctx.session.phase !== entry.phase) {
    ctx.reply.fail(...phaseError(ctx.session.phase, entry.phase));
    return;
  }
  if (args.length < entry.minArgs || args.length > entry.maxArgs) {
    ctx.reply.fail("usage", entry.usage);
    return;
  }
  if (entry.logged && options.quiet) {
    ctx.services.log.debug("{user} issued /{cmd} (asked by the client itself)", {
      user: ctx.session.user,
      cmd,
    });
  } else if (entry.logged) {
    ctx.services.log.info("{user} issued /{cmd} command", { user: ctx.session.user, cmd });
  }
  // Most handlers are synchronous: no promise is made for them.
  let pending: void | Promise<void>;
  try {
    pending = entry.handler(ctx, args);
  } catch (e) {
    return failed(ctx, cmd, e);
  }
  if (pending) return pending.catch((e) => failed(ctx, cmd, e));
}

/** Turns what a handler threw into an `internal` error reply and a log line. */
function failed(ctx: CommandContext, cmd: string, e: unknown): void {
  if (e instanceof UnavailableError) {
    ctx.services.log.warn("/{cmd} from {user} failed: {error}", {
      cmd,
      user: ctx.session.user ?? "-",
      error: e.cause instanceof Error ? e.cause.message : e.message,
    });
    ctx.reply.fail("unavailable", e.message);
    return;
  }
  ctx.services.log.error("/{cmd} from {user} failed: {error}", {
    cmd,
    user: ctx.session.user ?? "-",
    error: e instanceof Error ? e.message : String(e),
  });
  ctx.reply.fail("internal", "Cannot run the command: internal server error.");
}

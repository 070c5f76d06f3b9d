/**
 * What a command handler is given: the session it runs for, the server's
 * services, and a {@link Reply} to fill. Handlers never touch a socket or a
 * wire format.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import type { ServerEvent } from "../shared/protocol.ts";
import type { Clock } from "../shared/time.ts";
import type { Delivery } from "./delivery.ts";
import type { ChatStore, Cursors, Directory, PresenceEntry, Router, Throttle } from "./ports.ts";
import type { CommandResult } from "./results.ts";

/** Settings the handlers read. */
export interface ServerSettings {
  maxAttempts: number;
  blockSeconds: number;
  serverName: string;
  /** How often clients should send `ping`, announced in the `hello` response. */
  keepAliveMs?: number;
  /** This node's name (`local` on a single node). */
  node: string;
  /** In a cluster: the host other nodes' clients reach this node's UDP port at. */
  udpHost?: string;
}

/** `userlog.txt` (SPEC §4): who is online on this node. */
export interface OnlineLog {
  add(entry: { user: string; at: number; ip: string; udpPort: number }): void;
  remove(user: string): void;
}

/** Everything shared by all sessions of one server. */
export interface ServerServices {
  store: ChatStore;
  directory: Directory;
  router: Router;
  throttle: Throttle;
  userLog: OnlineLog;
  clock: Clock;
  log: Logger;
  settings: ServerSettings;
  /** The UDP port (bindings, relay) that brokered transfers are registered with, if any. */
  udp?: { readonly port: number; register(id: string, secret: string): boolean };
}

/** Where a session is in its life. */
export type SessionPhase = "hello" | "login" | "ready" | "closing";

/** The per-connection state handlers read and change. */
export interface SessionState {
  phase: SessionPhase;
  /** The remote IP address. */
  ip: string;
  /** The front door the session came in by. */
  frontend: "native" | "irc";
  /** The username given to `user`, waiting for `pass`. */
  pendingUser?: string;
  /** Set once logged in. */
  user?: string;
  udpPort?: number;
  /** The presence entry claimed at login. */
  entry?: PresenceEntry;
}

/** What a handler may ask of its session beyond its state. */
export interface SessionControl {
  /**
   * Called once the user is claimed in the directory: attaches the session to
   * the router and starts streaming what the user missed, after the response.
   */
  loggedIn(entry: PresenceEntry, cursors: Cursors): void;
  /** The session's delivery state once logged in. */
  readonly delivery: Delivery | undefined;
}

/** The answer a handler builds; the front end renders and sends it. */
export class Reply {
  ok = true;
  code = "ok";
  /** The failure's line (SPEC wording where SPEC names it). */
  message: string | undefined;
  /** What a success produced. */
  result: CommandResult | undefined;
  /** Extra data for a failure (e.g. `retryAfterSeconds`). */
  detail: Record<string, unknown> | undefined;
  /**
   * The store epochs of the writes the request made, when it made any: the
   * response waits for them to be durable, and is replaced by an error if they
   * were undone (see `server/outbox.ts`). Set by the dispatcher.
   */
  writes: { epoch: number; epochTo: number } | undefined;
  /** When set, the session closes after sending the response. */
  closeReason: string | undefined;
  /** Events for this session, sent right after the response. */
  readonly after: ServerEvent[] = [];
  /** A success that is worth a note (e.g. `queued`): the code, with ok still true. */
  note(code: string): this {
    this.code = code;
    return this;
  }

  /** Sets the result of a success. */
  set(result: CommandResult): this {
    this.result = result;
    return this;
  }

  /** Marks the reply as failed with a machine-readable code and one line. */
  fail(code: string, text: string): this {
    this.ok = false;
    this.code = code;
    this.message = text;
    this.result = undefined;
    this.detail = undefined;
    return this;
  }

  /** Asks the session to close once the response is out. */
  close(reason: string): this {
    this.closeReason = reason;
    return this;
  }
}

/** One handler call. */
export interface CommandContext {
  session: SessionState;
  control: SessionControl;
  services: ServerServices;
  reply: Reply;
}

/**
 * What a command handler is given: the session it runs for, the server's
 * services, and a {@link Reply} to fill. Handlers never touch a socket.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import type { PushFrame } from "../shared/protocol.ts";
import type { Clock } from "../shared/time.ts";
import type { LoginThrottle } from "./login_throttle.ts";
import type { Presence } from "./presence.ts";
import type { ChatStore } from "./store.ts";
import type { MessageLogs, UserLog } from "./text_logs.ts";

/** Settings the handlers read. */
export interface ServerSettings {
  maxAttempts: number;
  blockSeconds: number;
  serverName: string;
  /** How often clients should send `ping`, announced in the `hello` response. */
  keepAliveMs?: number;
}

/** Everything shared by all sessions of one server. */
export interface ServerServices {
  store: ChatStore;
  presence: Presence;
  userLog: UserLog;
  messageLogs: MessageLogs;
  throttle: LoginThrottle;
  clock: Clock;
  log: Logger;
  settings: ServerSettings;
  /**
   * Encodes a push once and queues it for each online recipient but `except`
   * (see {@link Presence.deliverAll}: pass a group's cached member list as is).
   */
  push(users: readonly string[], frame: PushFrame, except?: string): void;
}

/** Where a session is in its life. */
export type SessionPhase = "hello" | "login" | "ready" | "closing";

/** The per-connection state handlers read and change. */
export interface SessionState {
  phase: SessionPhase;
  /** The remote IP address. */
  ip: string;
  /** The username given to `user`, waiting for `pass`. */
  pendingUser?: string;
  /** Set once logged in. */
  user?: string;
  udpPort?: number;
}

/** The answer a handler builds; the session encodes and sends it. */
export class Reply {
  ok = true;
  code = "ok";
  lines: string[] = [];
  data: Record<string, unknown> | undefined;
  /** Pushes for this session, sent after the response. */
  readonly after: PushFrame[] = [];
  /** When set, the session closes after sending the response. */
  closeReason: string | undefined;

  line(text: string): this {
    this.lines.push(text);
    return this;
  }

  /** Marks the reply as failed with a machine-readable code and one line. */
  fail(code: string, text: string): this {
    this.ok = false;
    this.code = code;
    this.lines.push(text);
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
  services: ServerServices;
  reply: Reply;
  /** The session's send queue, for joining presence. */
  outbox: import("./presence.ts").Outbox;
}

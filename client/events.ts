/**
 * What the client shows, as events: a response, a push, the end of login, a
 * local error, the end of the connection. The text formatter (`format.ts`)
 * and the `--json` formatter (`json_output.ts`) both turn these into lines.
 *
 * @module
 */

import type { PushFrame, ResponseFrame } from "../shared/protocol.ts";

/** The server's answer to a command the user (or the login flow) sent. */
export interface ResponseEvent {
  kind: "response";
  /** The verb without its slash (`msgto`), or `user` / `pass` during login. */
  cmd: string;
  /** The arguments sent; never shown for `pass`. */
  args: string[];
  res: ResponseFrame;
}

/** Something the server sent on its own. */
export interface PushEvent {
  kind: "push";
  push: PushFrame;
}

/** Login succeeded; commands can be typed. */
export interface ReadyEvent {
  kind: "ready";
  user: string;
  /** Command names without their slash. */
  commands: string[];
}

/** A problem found by the client itself (unknown command, cannot connect). */
export interface ErrorEvent {
  kind: "error";
  code: string;
  message: string;
}

/** The connection ended without a logout. */
export interface DisconnectedEvent {
  kind: "disconnected";
  reason: string;
  /** The client is trying to log back in. */
  reconnecting?: boolean;
}

/** Logged back in after a lost connection. */
export interface ReconnectedEvent {
  kind: "reconnected";
  user: string;
}

/** A file transfer ended. */
export interface TransferEvent {
  kind: "transfer";
  direction: "send" | "receive";
  /** The file as the user named it (sender) or as it was offered (receiver). */
  file: string;
  /** The other user. */
  peer: string;
  ok: boolean;
  /** Bytes moved and time taken, on success. */
  bytes?: number;
  elapsedMs?: number;
  /** Receiver: where the file was saved. */
  path?: string;
  /** On success: whether the bytes went straight to the peer or through the server's relay. */
  via?: "direct" | "relay";
  /** Why it failed. */
  reason?: string;
  /** Bytes an earlier, interrupted attempt had moved, so not sent again. */
  resumedBytes?: number;
}

/**
 * What the client itself tells about a file transfer: an incoming file waits for an
 * answer (`offer`), one waits for a free slot (`queued`), or is refused by the
 * `--accept never` policy or the limits (`refused`).
 */
export interface TransferNoticeEvent {
  kind: "transfer_notice";
  code: "offer" | "queued" | "refused";
  /** The short transfer id (for /accept, /decline, /cancel). */
  id: string;
  file: string;
  peer: string;
  size: number;
  /** The line to show. */
  text: string;
}

/** Everything the client shows. */
export type ClientEvent =
  | ResponseEvent
  | PushEvent
  | ReadyEvent
  | ErrorEvent
  | DisconnectedEvent
  | ReconnectedEvent
  | TransferEvent
  | TransferNoticeEvent;

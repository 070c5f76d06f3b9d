/**
 * What a successful command produced, as data. Handlers fill one of these;
 * each front end renders it its own way (`frontends/json_lines.ts` as the
 * seed's text lines plus a `data` object, `frontends/irc.ts` as numerics and
 * messages). Failures are a code and one line of text (see `Reply.fail`).
 *
 * @module
 */

/** One online user as `/activeuser` lists them. */
export interface ActiveUser {
  user: string;
  ip: string;
  udpPort: number;
  /** Login time, ms since the epoch. */
  since: number;
  frontend: "native" | "irc";
  away?: string;
}

/** One message as `/history` lists it. */
export interface HistoryItem {
  /** Log number (private) or group seq. */
  seq: number;
  /** `DD Mon YYYY HH:MM:SS`. */
  ts: string;
  at: number;
  from: string;
  /** The receiver, for private messages. */
  to?: string;
  text: string;
}

/** One of the caller's groups as `/groups` lists them. */
export interface GroupListing {
  group: string;
  state: "invited" | "joined";
  creator: string;
  /** Who sent the invitation, for `invited`. */
  invitedBy?: string;
  /** The joined members. */
  members: string[];
}

/** One member of a group as `/who` lists them. */
export interface GroupMember {
  user: string;
  state: "invited" | "joined";
  online: boolean;
  /** The member's away text, when online and set. */
  away?: string;
}

/** Every success, by command. */
export type CommandResult =
  | { type: "hello"; version: number; server: string; keepAliveMs?: number }
  | { type: "ping"; token?: string }
  | { type: "user"; user: string }
  | { type: "welcome"; user: string; commands: string[] }
  | {
    type: "msgto";
    to: string;
    ts: string;
    at: number;
    /** Log number of the message. */
    seq: number;
    /** The receiver was offline: the message waits for their next login. */
    queued: boolean;
    /** The receiver's away text, when they set one. */
    away?: string;
  }
  | {
    type: "activeuser";
    users: ActiveUser[];
    /** Online users left out of `users` to bound the response. */
    more: number;
  }
  | { type: "creategroup"; group: string; creator: string; members: string[] }
  | { type: "joingroup"; group: string }
  | {
    type: "invite";
    group: string;
    /** The users invited now. */
    invited: string[];
    /** The users asked for who were already members or invited. */
    already: string[];
  }
  | { type: "groupmsg"; group: string; ts: string; at: number; seq: number }
  | {
    type: "p2pvideo";
    id: string;
    secret: string;
    to: string;
    host: string;
    port: number;
    file: string;
    /** The server's UDP port for bindings and the relay, if it has one. */
    serverUdpPort?: number;
  }
  | {
    type: "history";
    kind: "user" | "group";
    target: string;
    messages: HistoryItem[];
    /** Older messages exist beyond the size bound: ask again with `before` = the first seq. */
    more: boolean;
  }
  | { type: "groups"; groups: GroupListing[] }
  | { type: "leavegroup"; group: string }
  /** `text` undefined: no longer away. */
  | { type: "away"; text?: string }
  | { type: "who"; group: string; members: GroupMember[] }
  | { type: "help"; commands: { usage: string; summary: string }[] }
  | { type: "logout"; user: string };

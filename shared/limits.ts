/**
 * Named limits of the wire protocol and the server. One place, so that an
 * operator or a reviewer finds every number here.
 *
 * @module
 */

/** Protocol version spoken by this build. */
export const PROTOCOL_VERSION = 2;

/** Largest frame (one JSON line, newline included) either side accepts, in bytes. */
export const MAX_FRAME_BYTES = 64 * 1024;

/**
 * Largest frame a client accepts from the server. Larger than
 * {@link MAX_FRAME_BYTES} because some responses grow with the number of users
 * (`/activeuser` with thousands online); the server never sends a bigger one.
 */
export const MAX_SERVER_FRAME_BYTES = 4 * 1024 * 1024;

/** Malformed frames tolerated from one connection before it is disconnected. */
export const MAX_BAD_FRAMES = 5;

/**
 * A session's outbound queue over this (text in UTF-16 code units, bytes for
 * ASCII) is "behind": the server stops reading its requests and skips live
 * messages for it, which it then fetches from the store once the queue has
 * drained. So a slow reader is never cut off and loses nothing.
 */
export const OUTBOX_HIGH_WATER_BYTES = 256 * 1024;

/** Frames queued for a client that does not read, beyond which notices are dropped. */
export const MAX_SEND_QUEUE_FRAMES = 1024;

/** Queued for a client that does not read, beyond which notices are dropped (UTF-16 units). */
export const MAX_SEND_QUEUE_BYTES = 1024 * 1024;

/** Messages one page of a backlog (or a catch-up) fetches from the store. */
export const BACKLOG_PAGE_MESSAGES = 100;

/**
 * Group messages missed while offline that are replayed at login, per group;
 * older ones are counted in a notice and left to `/history`.
 */
export const GROUP_REPLAY_MAX = 200;

/** Message text one `/history` response holds at most (characters); older ones are cut. */
export const HISTORY_MAX_CHARS = 256 * 1024;

/** Users one `/activeuser` response lists at most; the rest are counted. */
export const MAX_ACTIVEUSER_LISTED = 1000;

/** Longest `/away` text, in characters: it is shown with every reply to a message. */
export const MAX_AWAY_CHARS = 200;

/** Longest message text a user may send, in characters. */
export const MAX_MESSAGE_CHARS = 4000;

/** Usernames: letters, digits, `_`, `-`, `.`; 1 to 32 characters. */
export const USERNAME_PATTERN = /^[A-Za-z0-9_.-]{1,32}$/;

/** Group names: letters and digits only (SPEC §3), 1 to 32 characters. */
export const GROUP_NAME_PATTERN = /^[A-Za-z0-9]{1,32}$/;

/** Longest password accepted at login, in characters. */
export const MAX_PASSWORD_CHARS = 256;

/**
 * Longest interval between two keep-alive `ping`s a client sends; it pings more
 * often when the server's `hello` response asks for it (`data.keepAliveMs`).
 */
export const KEEPALIVE_INTERVAL_MS = 30_000;

/**
 * IRC front door: the most bytes of one line without its tags, CR LF included
 * (RFC 1459 §2.3, as modern.ircdocs.horse keeps it).
 */
export const IRC_MAX_LINE_BYTES = 512;

/**
 * IRC front door: the most bytes of tag data (after `@`, before the space) a
 * client may send, and the most a server may add (IRCv3 message-tags).
 */
export const IRC_MAX_TAG_DATA_BYTES = 4094;

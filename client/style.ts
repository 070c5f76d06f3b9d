/**
 * Colours for the client's lines: names, groups, errors and system lines.
 * Colour is used only on a terminal and never when `NO_COLOR` is set
 * (https://no-color.org) or `TERM` is `dumb`; {@link plainStyle} is the
 * identity, so every formatter can be tested without escape codes.
 *
 * @module
 */

import { sanitizeForDisplay } from "../shared/text.ts";

/** How the formatters decorate the parts of a line. */
export interface Style {
  /** A username; each name keeps one colour. */
  name(user: string): string;
  /** A group name. */
  group(group: string): string;
  /** A whole error line. */
  error(text: string): string;
  /** A whole line from the client or the server about the session (notices, invitations). */
  system(text: string): string;
  /** A timestamp. */
  time(ts: string): string;
  /** The reader's own name where a message mentions it. */
  mention(text: string): string;
}

const identity = (s: string) => s;

/** No decoration at all: pipes, files, `NO_COLOR`, tests. */
export const plainStyle: Style = {
  name: identity,
  group: identity,
  error: identity,
  system: identity,
  time: identity,
  mention: identity,
};

const sgr = (code: string) => (s: string) => `\x1b[${code}m${s}\x1b[0m`;

/**
 * Colours usernames may get. Red (errors), yellow (system lines) and magenta
 * (groups) are kept for their own meaning.
 */
const NAME_COLOURS = ["32", "34", "36", "92", "94", "96"];

/** Picks a stable colour for a name (FNV-1a hash of its UTF-16 units). */
export function nameColourIndex(user: string, colours = NAME_COLOURS.length): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < user.length; i++) {
    h ^= user.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % colours;
}

/** ANSI colours for a terminal. */
export const ansiStyle: Style = {
  name: (u) => sgr(NAME_COLOURS[nameColourIndex(u)])(u),
  group: sgr("1;35"),
  error: sgr("31"),
  system: sgr("33"),
  time: sgr("2"),
  mention: sgr("1;7"),
};

/** What {@link shouldUseColor} looks at. */
export interface ColourEnvironment {
  /** The value of `NO_COLOR`, if set. */
  noColor?: string;
  /** The value of `TERM`, if set. */
  term?: string;
  /** Whether the output is a terminal. */
  isTerminal: boolean;
}

/**
 * Decides whether to colour: only on a terminal, and not when `NO_COLOR` is
 * set to a non-empty value or `TERM` is `dumb`.
 *
 * @example
 * ```ts
 * shouldUseColor({ isTerminal: true, noColor: "1" }); // false
 * ```
 */
export function shouldUseColor(env: ColourEnvironment): boolean {
  if (!env.isTerminal) return false;
  if (env.noColor !== undefined && env.noColor !== "") return false;
  return env.term !== "dumb";
}

/** Reads an environment variable, as unset when the permission is missing. */
export function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/**
 * Makes text from the network safe to print: control characters (C0, DEL, C1)
 * and line separators become U+FFFD, so a message can never move the cursor or
 * change the terminal's colours, and characters that reorder or hide text
 * (bidi overrides, zero-width spaces) are removed (`shared/text.ts`).
 */
export function sanitize(text: string): string {
  return sanitizeForDisplay(text);
}

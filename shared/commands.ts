/**
 * The commands a user types, as both sides know them: name, parameters, usage
 * and a one-line summary. The client uses this table to split a typed line into
 * arguments, for `/help` and for completion; the server uses it to check
 * argument counts before a handler runs.
 *
 * @module
 */

/** Messages `/history` shows when no count is given. */
export const HISTORY_DEFAULT = 20;

/** The most messages one `/history` shows. */
export const HISTORY_MAX = 200;

/** How one command is typed. */
export interface CommandSpec {
  /** The verb without its slash, e.g. `msgto`. */
  name: string;
  /** Fixed parameters, in order. */
  params: string[];
  /** A final parameter that takes the rest of the line, spaces kept (e.g. `TEXT`). */
  rest?: string;
  /** The `rest` parameter may be left out (`/away [TEXT]`, `/cancel [ID|FILE]`). */
  restOptional?: boolean;
  /**
   * The `rest` parameter names a file: written as a shell would, quoted ("my file.txt",
   * 'my file.txt') or with backslash escapes (my\ file.txt), it is taken unquoted;
   * written plainly, as typed (spaces inside kept, the ends trimmed).
   */
  quoted?: boolean;
  /** A final parameter that takes one or more words (e.g. `USER...`). */
  variadic?: string;
  /** Parameters that may be left out, after `params`. */
  optional?: string[];
  /** One line saying what it does. */
  summary: string;
  /** Other names that run the same command (`/quit` for `/logout`). */
  aliases?: string[];
  /** Answered by the client itself; the server never sees it. */
  local?: boolean;
}

/** Every command a logged-in user can type, in the order `/help` lists them. */
export const COMMANDS: readonly CommandSpec[] = [
  { name: "msgto", params: ["USER"], rest: "TEXT", summary: "send a private message" },
  { name: "activeuser", params: [], summary: "list the other users online" },
  {
    name: "creategroup",
    params: ["GROUP"],
    variadic: "USER",
    summary: "create a group and invite users to it",
  },
  { name: "joingroup", params: ["GROUP"], summary: "join a group you were invited to" },
  {
    name: "invite",
    params: ["GROUP"],
    variadic: "USER",
    summary: "invite users (online or not) to a group you are in",
  },
  { name: "groupmsg", params: ["GROUP"], rest: "TEXT", summary: "send a message to a group" },
  {
    name: "p2pvideo",
    params: ["USER"],
    rest: "FILE",
    quoted: true,
    summary: "send a file straight to a user over UDP",
  },
  {
    name: "history",
    params: ["USER|GROUP"],
    optional: ["N"],
    summary: `show the last N messages with a user or in a group (default ${HISTORY_DEFAULT})`,
  },
  { name: "groups", params: [], summary: "list your groups and invitations" },
  { name: "leavegroup", params: ["GROUP"], summary: "leave a group" },
  {
    name: "away",
    params: [],
    rest: "TEXT",
    restOptional: true,
    summary: "say you are away; whoever messages you sees TEXT; alone: back",
  },
  {
    name: "who",
    params: ["GROUP"],
    summary: "the members of a group: joined or invited, online, away",
  },
  {
    name: "r",
    params: [],
    rest: "TEXT",
    summary: "reply to the last user who sent you a private message",
    local: true,
  },
  {
    name: "query",
    params: [],
    optional: ["USER|GROUP"],
    summary: "send the lines you type without a command to USER or GROUP; alone: stop",
    local: true,
  },
  {
    name: "help",
    params: [],
    optional: ["COMMAND"],
    summary: "list the commands, or explain one",
    local: true,
  },
  {
    name: "transfers",
    params: [],
    summary: "list the files coming and going, and those waiting for your answer",
    local: true,
  },
  {
    name: "accept",
    params: [],
    rest: "ID|FILE",
    restOptional: true,
    quoted: true,
    summary: "let a file that waits for your answer come (alone: the only one waiting)",
    local: true,
  },
  {
    name: "decline",
    params: [],
    rest: "ID|FILE",
    restOptional: true,
    quoted: true,
    summary: "refuse a file that waits for your answer",
    local: true,
  },
  {
    name: "cancel",
    params: [],
    rest: "ID|FILE",
    restOptional: true,
    quoted: true,
    summary: "stop a file transfer, either way (alone: the only one running)",
    local: true,
  },
  { name: "logout", params: [], summary: "end the session", aliases: ["quit", "exit"] },
];

const BY_NAME = new Map(
  COMMANDS.flatMap((c) => [c.name, ...c.aliases ?? []].map((name) => [name, c] as const)),
);

/** Looks a command up by its verb or an alias (without the slash). */
export function findCommand(name: string): CommandSpec | undefined {
  return BY_NAME.get(name);
}

/** `/msgto USER TEXT`, `/creategroup GROUP USER [USER ...]`. */
export function usageOf(spec: CommandSpec): string {
  const parts = [`/${spec.name}`, ...spec.params];
  if (spec.rest) parts.push(spec.restOptional ? `[${spec.rest}]` : spec.rest);
  if (spec.variadic) parts.push(spec.variadic, `[${spec.variadic} ...]`);
  for (const o of spec.optional ?? []) parts.push(`[${o}]`);
  return parts.join(" ");
}

/** The least number of arguments the command takes. */
export function minArgs(spec: CommandSpec): number {
  return spec.params.length + ((spec.rest && !spec.restOptional) || spec.variadic ? 1 : 0);
}

/** The most arguments the command takes (`Infinity` for variadic ones). */
export function maxArgs(spec: CommandSpec): number {
  if (spec.variadic) return Infinity;
  return spec.params.length + (spec.rest ? 1 : 0) + (spec.optional?.length ?? 0);
}

/** A typed line split into its verb and arguments. */
export interface ParsedLine {
  /** The verb without its slash; empty when the line does not start with `/`. */
  name: string;
  args: string[];
}

/**
 * Splits a typed line by the command's shape: words are separated by spaces,
 * and a `rest` parameter keeps everything after the space that ends the last
 * fixed argument, spaces included (leading ones too). A `rest` of spaces only
 * counts as missing.
 *
 * @example
 * ```ts
 * parseCommandLine("/msgto bob hello  there"); // { name: "msgto", args: ["bob", "hello  there"] }
 * parseCommandLine("/msgto bob   indented"); // { name: "msgto", args: ["bob", "  indented"] }
 * ```
 */
export function parseCommandLine(line: string): ParsedLine {
  const trimmed = line.replace(/^\s+/, "");
  if (!trimmed.startsWith("/")) return { name: "", args: [] };
  const space = trimmed.search(/\s/);
  const name = space === -1 ? trimmed.slice(1) : trimmed.slice(1, space);
  let rest = space === -1 ? "" : trimmed.slice(space + 1);
  const spec = findCommand(name);
  const args: string[] = [];
  const fixed = spec?.rest ? spec.params.length : Infinity;
  while (args.length < fixed) {
    rest = rest.replace(/^ +/, "");
    if (rest === "") break;
    const end = rest.indexOf(" ");
    if (end === -1) {
      args.push(rest);
      rest = "";
      break;
    }
    args.push(rest.slice(0, end));
    rest = rest.slice(end + 1);
  }
  if (spec?.rest && rest.trim() !== "") {
    args.push(spec.quoted ? unquoteShellWord(rest.trim()) ?? rest.trim() : rest);
  }
  return { name, args };
}

/**
 * The value of `text` read as one shell word: quotes removed ('…' literal, "…" with \"
 * and \\ escapes) and a backslash before a space, quote or backslash taken as escaping it
 * (before anything else it stays, so Windows paths survive). Undefined when `text` has
 * no quote or escape, is more than one word, or leaves a quote open.
 *
 * @example
 * ```ts
 * unquoteShellWord('"my file.txt"'); // "my file.txt"
 * unquoteShellWord("my\\ file.txt"); // "my file.txt"
 * unquoteShellWord("my file.txt"); // undefined: two words, no quoting
 * ```
 */
export function unquoteShellWord(text: string): string | undefined {
  let out = "";
  let quoting = false;
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end === -1) return undefined;
      out += text.slice(i + 1, end);
      quoting = true;
      i = end + 1;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < text.length && text[j] !== '"'; j++) {
        if (text[j] === "\\" && (text[j + 1] === '"' || text[j + 1] === "\\")) j++;
        out += text[j];
      }
      if (j >= text.length) return undefined;
      quoting = true;
      i = j + 1;
    } else if (c === "\\" && i + 1 < text.length && " '\"\\".includes(text[i + 1])) {
      out += text[i + 1];
      quoting = true;
      i += 2;
    } else if (c === " " || c === "\t") {
      return undefined; // a second word
    } else {
      out += c;
      i++;
    }
  }
  return quoting ? out : undefined;
}

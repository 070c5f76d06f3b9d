/**
 * Tab completion of what the user is typing: command names, then usernames
 * and group names where the command's parameters take them. A pure function,
 * so it is tested without a terminal; `TerminalIO` calls it as its completer.
 *
 * @module
 */

import type { CommandSpec } from "../shared/commands.ts";

/** What completion can offer besides the commands. */
export interface CompletionSource {
  /** Every command, as `shared/commands.ts` lists them. */
  commands: readonly CommandSpec[];
  /** Known usernames (the user's own name left out). */
  users: Iterable<string>;
  /** Known group names. */
  groups: Iterable<string>;
}

/** The kind of value a parameter name stands for. */
function candidatesFor(param: string | undefined, source: CompletionSource): string[] {
  switch (param) {
    case "USER":
      return [...source.users];
    case "GROUP":
      return [...source.groups];
    case "USER|GROUP":
      return [...new Set([...source.users, ...source.groups])];
    default:
      return [];
  }
}

/** The `/creategroup` GROUP is a new name: nothing known can complete it. */
const NEW_NAME_COMMANDS = new Set(["creategroup"]);

/** The parameter the `index`-th argument (from 0) fills, if any completion applies. */
function paramAt(spec: CommandSpec, index: number): string | undefined {
  if (index === 0 && NEW_NAME_COMMANDS.has(spec.name)) return undefined;
  if (index < spec.params.length) return spec.params[index];
  if (spec.rest) return undefined;
  if (spec.variadic) return spec.variadic;
  return spec.optional?.[index - spec.params.length];
}

/**
 * Candidates starting with `prefix`, sorted. Case-sensitive like the names
 * themselves; readline can only append to what was typed, never change it.
 */
function matching(candidates: string[], prefix: string): string[] {
  return candidates.filter((c) => c.startsWith(prefix)).sort();
}

/**
 * Completes the line typed so far (up to the cursor), in the form node's
 * readline expects: the candidates, and the part of the line they replace.
 * A single candidate gets a trailing space, so typing can go straight on.
 *
 * @example
 * ```ts
 * import { COMMANDS } from "../shared/commands.ts";
 *
 * completeLine("/msg", { commands: COMMANDS, users: [], groups: [] });
 * // [["/msgto "], "/msg"]
 * completeLine("/msgto Yo", { commands: COMMANDS, users: ["Yoda"], groups: [] });
 * // [["Yoda "], "Yo"]
 * ```
 */
export function completeLine(line: string, source: CompletionSource): [string[], string] {
  const start = line.length - line.trimStart().length;
  const typed = line.slice(start);
  if (typed === "" || (typed.startsWith("/") && !/\s/.test(typed))) {
    const names = source.commands.map((c) => `/${c.name}`);
    const hits = matching(names, typed === "" ? "/" : typed);
    return [hits.length === 1 ? [hits[0] + " "] : hits, typed];
  }
  if (!typed.startsWith("/")) return [[], typed];
  const words = typed.split(/ +/);
  const word = words[words.length - 1];
  const spec = source.commands.find((c) => `/${c.name}` === words[0]);
  if (!spec) return [[], word];
  const index = words.length - 2;
  let candidates = candidatesFor(paramAt(spec, index), source);
  // A user listed once in /creategroup need not be offered again.
  if (spec.variadic && index >= spec.params.length) {
    const listed = new Set(words.slice(1 + spec.params.length, -1));
    candidates = candidates.filter((c) => !listed.has(c));
  }
  const hits = matching(candidates, word);
  return [hits.length === 1 ? [hits[0] + " "] : hits, word];
}

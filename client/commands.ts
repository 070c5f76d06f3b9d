/**
 * What the client knows about commands by itself: `/help` and `/help CMD`,
 * "did you mean" for a mistyped verb, and the lengths a line may have before
 * it is sent. Pure functions of the command table in `shared/commands.ts`.
 *
 * @module
 */

import { COMMANDS, type CommandSpec, findCommand, usageOf } from "../shared/commands.ts";
import { MAX_MESSAGE_CHARS } from "../shared/limits.ts";

/** Every name a command answers to, with the command. */
const NAMES: readonly [string, CommandSpec][] = COMMANDS.flatMap((c) =>
  [c.name, ...c.aliases ?? []].map((n) => [n, c] as [string, CommandSpec])
);

/** Edit distance with adjacent transpositions (`mgsto` is one edit from `msgto`). */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}

/**
 * The command a mistyped verb most likely meant: the same letters in another
 * case, or (from three letters on) the one verb it begins (`msg` → `msgto`),
 * or one within two edits (one for verbs of up to four letters). Undefined
 * when nothing is that close.
 *
 * @example
 * ```ts
 * suggestCommand("mgsto"); // "msgto"
 * suggestCommand("nope"); // undefined
 * ```
 */
export function suggestCommand(verb: string): string | undefined {
  const typed = verb.toLowerCase();
  const exact = NAMES.find(([n]) => n === typed);
  if (exact) return exact[0];
  if (typed.length <= 2) return undefined;
  const prefixed = NAMES.filter(([n]) => n.startsWith(typed));
  if (prefixed.length === 1) return prefixed[0][0];
  const limit = typed.length <= 4 ? 1 : 2;
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const [n] of NAMES) {
    const dist = distance(typed, n);
    if (dist < bestDistance) [best, bestDistance] = [n, dist];
  }
  return best;
}

/** The line for an unknown verb: SPEC's text, and the likely command when there is one. */
export function unknownCommandText(verb: string): string {
  const guess = suggestCommand(verb);
  return guess === undefined
    ? "Error. Invalid command!"
    : `Error. Invalid command! Did you mean /${guess}?`;
}

/**
 * What `/help` prints: every command with its usage and summary, or, for
 * `/help CMD`, that command's usage, summary and aliases.
 *
 * @returns the lines, and whether CMD was a command.
 */
export function helpLines(topic?: string): { ok: boolean; lines: string[] } {
  if (topic === undefined) {
    return {
      ok: true,
      lines: [
        "Commands:",
        ...COMMANDS.map((c) => `  ${usageOf(c).padEnd(40)} ${c.summary}`),
        "Type /help COMMAND for one command.",
      ],
    };
  }
  const verb = topic.replace(/^\//, "");
  const spec = findCommand(verb);
  if (!spec) {
    const guess = suggestCommand(verb);
    const hint = guess === undefined ? "" : ` Did you mean /${guess}?`;
    return { ok: false, lines: [`No command /${verb}.${hint} Type /help for the list.`] };
  }
  const lines = [`Usage: ${usageOf(spec)}`, `${capitalize(spec.summary)}.`];
  if (spec.aliases?.length) {
    lines.push(`Also typed as ${spec.aliases.map((a) => `/${a}`).join(" or ")}.`);
  }
  return { ok: true, lines };
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * Why a command line must not be sent, before anything goes to the server: a
 * message text longer than the server accepts. Undefined when it may go.
 */
export function lengthError(spec: CommandSpec, args: string[]): string | undefined {
  if (spec.rest === undefined) return undefined;
  const text = args[spec.params.length];
  if (text === undefined || text.length <= MAX_MESSAGE_CHARS) return undefined;
  return `Message too long: ${text.length} characters, at most ${MAX_MESSAGE_CHARS}. ` +
    "Nothing was sent.";
}

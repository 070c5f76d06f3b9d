/**
 * The command line of every `bench:*` task: strict `node:util` parseArgs, `--help` (or `-h`)
 * prints the usage, and a bad flag or value is one line on stderr and exit status 2.
 *
 * ```ts
 * import { benchFlags, runBench } from "./cli.ts";
 *
 * const USAGE = "Usage: deno task bench:demo [--runs N]";
 * await runBench("bench:demo", () => {
 *   const flags = benchFlags(["--runs", "2"], { runs: { type: "string", default: "3" } }, USAGE);
 *   if (flags) console.log(`${flags.runs} runs`);
 *   return Promise.resolve(0);
 * });
 * ```
 *
 * @module
 */

import type { ParseArgsOptionsConfig } from "node:util";
import { parseFlags, UsageError } from "../shared/cli_args.ts";

/**
 * Parses a bench's flags. With `--help` anywhere, prints `usage` and returns undefined.
 *
 * @throws {UsageError} on an unknown flag, a missing value or a positional argument.
 */
export function benchFlags<O extends ParseArgsOptionsConfig>(
  argv: string[],
  options: O,
  usage: string,
) {
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(usage);
    return undefined;
  }
  const { values, positionals } = parseFlags(argv, options, usage);
  if (positionals.length > 0) {
    throw new UsageError(`Unexpected argument: ${JSON.stringify(positionals[0])}`, usage);
  }
  return values;
}

/**
 * Runs a bench's main and returns its exit status: a {@link UsageError} becomes its one
 * line (prefixed with the task's name) and status 2.
 */
export async function runBench(
  task: string,
  main: () => Promise<number | void>,
): Promise<number> {
  try {
    return (await main()) ?? 0;
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`${task}: ${e.message}\nRun deno task ${task} --help for the flags.`);
    return 2;
  }
}

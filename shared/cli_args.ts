/**
 * Checks of command-line values shared by the subcommands. Each failure is a
 * {@link UsageError}: `main.ts` prints its one line and the usage, exit 2.
 *
 * @module
 */

import { isIP } from "node:net";
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";

/** A bad command line. The message is one line, shown as is. */
export class UsageError extends Error {
  constructor(message: string, readonly usage?: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Parses a TCP/UDP port, 0–65535 (0 only where `allowZero`). */
export function parsePort(text: string, what: string, allowZero = false): number {
  const n = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(n) || n > 65535 || (n === 0 && !allowZero)) {
    throw new UsageError(
      `Invalid ${what}: ${JSON.stringify(text)}. Expected an integer ${allowZero ? 0 : 1}-65535`,
    );
  }
  return n;
}

/** Accepts an IPv4 or IPv6 address, or `localhost`. */
export function parseHost(text: string, what = "IP address"): string {
  if (text !== "localhost" && isIP(text) === 0) {
    throw new UsageError(
      `Invalid ${what}: ${JSON.stringify(text)}. Expected an IPv4 or IPv6 address`,
    );
  }
  return text;
}

/** Parses a whole number within a range. */
export function parseIntIn(text: string, what: string, min: number, max: number): number {
  const n = /^-?\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(
      `Invalid ${what}: ${JSON.stringify(text)}. Expected an integer ${min}-${max}`,
    );
  }
  return n;
}

/**
 * Parses a byte size such as `500M`, `2G`, `1048576`, `100MB`. `K`, `M`, `G`, `T` count
 * in `base` (1024 by default; the benches count in 1000); `KiB`, `MiB`… always in 1024.
 */
export function parseByteSize(text: string, what: string, base: 1000 | 1024 = 1024): number {
  const m = /^(\d+(?:\.\d+)?)([KMGT]?)(i?)B?$/i.exec(text);
  if (!m) {
    throw new UsageError(`Invalid ${what}: ${JSON.stringify(text)}. Expected e.g. 500M or 2G`);
  }
  const power = ["", "K", "M", "G", "T"].indexOf(m[2].toUpperCase());
  return Math.floor(Number(m[1]) * (m[3] ? 1024 : base) ** power);
}

/**
 * Maps a `node:util` parseArgs error to a one-line {@link UsageError}.
 */
export function argsError(e: unknown, usage: string, argv: string[] = []): UsageError {
  const first = (e instanceof Error ? e.message : String(e)).split("\n")[0];
  // Node's wording goes on with advice about positionals; the option is what matters.
  const unknown = /^Unknown option '[^']+'/.exec(first);
  if (unknown) return new UsageError(unknown[0], usage);
  // "--port --json": the value is missing, and what follows is another option.
  const ambiguous = /^Option '(-[^' ]+)' argument is ambiguous/.exec(first);
  if (ambiguous) {
    const next = argv[argv.indexOf(ambiguous[1]) + 1];
    return new UsageError(
      `Missing value for ${ambiguous[1]}${next === undefined ? "" : ` (found ${next})`}`,
      usage,
    );
  }
  const missing = /^Option '(-[^' ]+)(?: <value>)?' argument missing/.exec(first);
  if (missing) return new UsageError(`Missing value for ${missing[1]}`, usage);
  return new UsageError(first, usage);
}

/**
 * Parses flags and positionals strictly (unknown flags are errors). A value
 * that looks like a negative number (`--port -5`) is taken as the flag's
 * value, so that its own check says what is wrong with it.
 *
 * @throws {UsageError} with a one-line reason and `usage`.
 */
export function parseFlags<O extends ParseArgsOptionsConfig>(
  argv: string[],
  options: O,
  usage: string,
) {
  const args = argv.flatMap((arg, i) => {
    const next = argv[i + 1];
    const option = arg.startsWith("--") ? options[arg.slice(2)] : undefined;
    if (option?.type === "string" && next !== undefined && /^-\d/.test(next)) {
      return [`${arg}=${next}`];
    }
    const previous = argv[i - 1];
    const takenBy = previous?.startsWith("--") ? options[previous.slice(2)] : undefined;
    if (takenBy?.type === "string" && /^-\d/.test(arg)) return [];
    return [arg];
  });
  try {
    return parseArgs({ args, allowPositionals: true, strict: true, options });
  } catch (e) {
    throw argsError(e, usage, args);
  }
}

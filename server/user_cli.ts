/**
 * `tessenger user add NAME` and `tessenger user passwd NAME`: edit the
 * accounts in the store, asking for the password without echo.
 *
 * @module
 */

import { join } from "node:path";
import { parseFlags, UsageError } from "../shared/cli_args.ts";
import { USERNAME_PATTERN } from "../shared/limits.ts";
import { parseCredentials } from "./credentials.ts";
import { hashPassword } from "./passwords.ts";
import { ensureDataDir } from "./server.ts";
import { SqliteStore } from "./local/sqlite_store.ts";
import { linesOf } from "../shared/lines.ts";

export const USER_USAGE =
  "Usage: tessenger user <add|passwd> NAME [--data-dir DIR] [--credentials FILE] [--print-hash]";

export const USER_HELP = `${USER_USAGE}

Adds a user, or changes a user's password, in the server's database. The
password is asked for twice without echo (or read as one line from a pipe).

  add NAME          create the account (fails if it exists)
  passwd NAME       change the password (fails if the account does not exist)
  --data-dir DIR    the server's data directory   (default .)
  --credentials FILE
                    the server's accounts file: a user listed there gets that
                    password back at every server start, so this warns and
                    prints the line to put there  (default credentials.txt)
  --print-hash      also print "NAME HASH", a line for credentials.txt (default off)
  -h, --help        show this help`;

/** The line of `path` that lists `name`, if the file exists and does. */
async function credentialsLine(path: string, name: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new UsageError(`Cannot read ${path}: ${e instanceof Error ? e.message : e}`);
  }
  return parseCredentials(text, path).entries.find((e) => e.user === name)?.line;
}

/** Reads a password from the terminal without echo, or a line from a pipe. */
async function readPassword(prompt: string): Promise<string> {
  if (!Deno.stdin.isTerminal()) {
    for await (const line of linesOf(Deno.stdin.readable)) return line;
    throw new UsageError("No password given on standard input");
  }
  const enc = new TextEncoder();
  await Deno.stdout.write(enc.encode(prompt));
  Deno.stdin.setRaw(true);
  const chars: number[] = [];
  const buf = new Uint8Array(64);
  try {
    read: while (true) {
      const n = await Deno.stdin.read(buf);
      if (n === null) break;
      for (const b of buf.subarray(0, n)) {
        if (b === 13 || b === 10) break read;
        if (b === 3) throw new UsageError("Cancelled");
        if (b === 127 || b === 8) chars.pop();
        else chars.push(b);
      }
    }
  } finally {
    Deno.stdin.setRaw(false);
    await Deno.stdout.write(enc.encode("\n"));
  }
  return new TextDecoder().decode(new Uint8Array(chars));
}

/** Runs `tessenger user ARGS`; returns the exit code. */
export async function userMain(argv: string[]): Promise<number> {
  const parsed = parseFlags(argv, {
    "data-dir": { type: "string" },
    credentials: { type: "string" },
    "print-hash": { type: "boolean" },
    help: { type: "boolean", short: "h" },
  }, USER_USAGE);
  const { values: v, positionals: p } = parsed;
  if (v.help) {
    console.log(USER_HELP);
    return 0;
  }
  const [action, name] = p;
  if ((action !== "add" && action !== "passwd") || name === undefined || p.length !== 2) {
    throw new UsageError("Expected: user add NAME, or user passwd NAME", USER_USAGE);
  }
  if (!USERNAME_PATTERN.test(name)) {
    throw new UsageError(
      `Invalid username ${JSON.stringify(name)}: use 1-32 letters, digits, _ . -`,
      USER_USAGE,
    );
  }
  const dataDir = v["data-dir"] ?? ".";
  await ensureDataDir(dataDir);
  const store = new SqliteStore(join(dataDir, "tessenger.db"));
  try {
    const exists = await store.userExists(name);
    if (action === "add" && exists) throw new UsageError(`User ${name} already exists`);
    if (action === "passwd" && !exists) throw new UsageError(`User ${name} does not exist`);
    const credentials = v.credentials ?? "credentials.txt";
    const line = await credentialsLine(credentials, name);
    const password = await readPassword(`Password for ${name}: `);
    if (password === "" || password.includes(" ")) {
      throw new UsageError("The password must be non-empty and contain no spaces");
    }
    if (Deno.stdin.isTerminal() && await readPassword("Again: ") !== password) {
      throw new UsageError("The passwords do not match");
    }
    const hash = await hashPassword(password);
    await store.setPasswordHash(name, hash, Date.now());
    console.log(action === "add" ? `Added user ${name}.` : `Changed the password of ${name}.`);
    // The file wins at the next server start: say so, and give the line that keeps this password.
    if (line !== undefined) {
      console.error(
        `Warning: ${name} is also in ${credentials} (line ${line}), which the server imports ` +
          "at every start: this password lasts only until the next start. Replace that line " +
          "with the one below, or delete it.",
      );
    }
    if (v["print-hash"] || line !== undefined) console.log(`${name} ${hash}`);
    return 0;
  } finally {
    store.closeSync();
  }
}

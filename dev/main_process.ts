/**
 * Runs the real `main.ts` (server or client) as a child `deno run` process.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

/** Absolute path of the program's entry point. */
export const MAIN_PATH: string = fileURLToPath(new URL("../main.ts", import.meta.url));

/** The permissions `deno task server` / `deno task client` grant, net limited to loopback. */
export const MAIN_PERMISSIONS: readonly string[] = [
  "--allow-net=127.0.0.1",
  "--allow-read",
  "--allow-write",
  "--allow-env=NO_COLOR,TERM",
];

/** The `deno run` arguments that start `main.ts` with `args`. */
export function mainArgs(
  args: string[],
  denoFlags: readonly string[] = MAIN_PERMISSIONS,
): string[] {
  return ["run", ...denoFlags, MAIN_PATH, ...args];
}

/** How a finished run of `main.ts` ended. */
export interface MainRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** How {@link runMain} runs the program. */
export interface RunMainOptions {
  /** Text piped to stdin, then closed; without it stdin is null. */
  stdin?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Flags for `deno run` (permissions and the like); {@link MAIN_PERMISSIONS} by default. */
  denoFlags?: readonly string[];
}

/** Runs `main.ts` with `args` to the end and returns its exit code and output. */
export async function runMain(args: string[], options: RunMainOptions = {}): Promise<MainRun> {
  const child = new Deno.Command(Deno.execPath(), {
    args: mainArgs(args, options.denoFlags),
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: options.env ?? {},
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

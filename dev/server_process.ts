/**
 * A real TESSENGER server as a child process (`main.ts server --port 0`), for tests and
 * benches that must kill it, restart it or read its memory: it resolves once the server
 * logged its "listening on HOST:PORT" line, and hands every line it writes to `onLine`.
 *
 * ```ts
 * import { spawnServer } from "./server_process.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const server = await spawnServer(["--data-dir", dir, "--credentials", `${dir}/none.txt`]);
 * console.log(`pid ${server.child.pid} on port ${server.port}`);
 * server.child.kill("SIGTERM");
 * await server.child.status;
 * await server.drained;
 * ```
 *
 * @module
 */

import { linesOf } from "../shared/lines.ts";
import { MAIN_PERMISSIONS, mainArgs } from "./main_process.ts";

/** A running server process. */
export interface ServerProcess {
  child: Deno.ChildProcess;
  /** The TCP port it listens on. */
  port: number;
  /** Resolves with the last 64 KiB it wrote once its stdout and stderr are fully read. */
  drained: Promise<string>;
}

/** Settings of {@link spawnServer}. */
export interface SpawnServerOptions {
  /** The deno to run; this process's own by default (benches pass `deno`, which they may run). */
  deno?: string;
  /** `deno run` flags; {@link MAIN_PERMISSIONS} by default. */
  denoFlags?: readonly string[];
  /** Called with every line the server writes, from either stream. */
  onLine?: (line: string, stream: "stdout" | "stderr") => void;
  /** How long the server may take to listen (ms). Default 20 000. */
  startTimeoutMs?: number;
  /** A command that runs deno, with its arguments: e.g. `["prlimit", "--nofile=256:256"]`. */
  wrap?: string[];
}

const TAIL_CHARS = 64 * 1024;

/**
 * Runs `main.ts server --port 0 ...args` and waits until it listens.
 *
 * @throws {Error} when it exits before listening or does not listen in time (with its output).
 */
export async function spawnServer(
  args: string[],
  options: SpawnServerOptions = {},
): Promise<ServerProcess> {
  const deno = options.deno ?? Deno.execPath();
  const denoArgs = mainArgs(
    ["server", "--port", "0", ...args],
    options.denoFlags ?? MAIN_PERMISSIONS,
  );
  const [command, ...wrapArgs] = options.wrap ?? [];
  const child = new Deno.Command(command ?? deno, {
    args: command === undefined ? denoArgs : [...wrapArgs, deno, ...denoArgs],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const port = Promise.withResolvers<number>();
  let tail = "";
  const read = async (stream: ReadableStream<Uint8Array>, name: "stdout" | "stderr") => {
    for await (const line of linesOf(stream)) {
      tail = (tail + line + "\n").slice(-TAIL_CHARS);
      const m = /listening on [^ ]+:(\d+)/.exec(line);
      if (m) port.resolve(Number(m[1]));
      options.onLine?.(line, name);
    }
  };
  const drained = Promise.all([read(child.stdout, "stdout"), read(child.stderr, "stderr")]).then(
    () => {
      port.reject(new Error(`server exited before listening:\n${tail}`));
      return tail;
    },
  );
  const timeoutMs = options.startTimeoutMs ?? 20_000;
  const timer = setTimeout(() => {
    port.reject(new Error(`server did not listen within ${timeoutMs} ms:\n${tail}`));
    child.kill("SIGKILL");
  }, timeoutMs);
  try {
    return { child, port: await port.promise, drained };
  } finally {
    clearTimeout(timer);
  }
}

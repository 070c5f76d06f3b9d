/**
 * `deno task compile [--target TARGET] [--output PATH]`: builds the single
 * `tessenger` binary with `deno compile`, with the permissions the program
 * needs and no more, and explains what to do when the denort runtime that
 * `deno compile` builds from cannot be had.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { SERVER_V8_FLAGS_ARG } from "../server/v8_flags.ts";

/**
 * Permissions baked into the binary.
 * - net: the server listens and the client connects (TCP, and UDP for files)
 *   on addresses given at run time, so no fixed host list is possible.
 * - read, write: the data dir, the credentials file, the downloads dir and the
 *   files sent with /p2pvideo are all chosen at run time (flags, or the
 *   current directory), so these cannot be narrowed to fixed paths.
 * - env: only NO_COLOR and TERM, to decide about colours.
 * - sys: only networkInterfaces, the client's own addresses, which it offers its peers
 *   for a direct path (host candidates).
 * - unstable net: UDP sockets (`Deno.listenDatagram`) for file transfer.
 */
export const BINARY_PERMISSIONS: readonly string[] = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env=NO_COLOR,TERM",
  "--allow-sys=networkInterfaces",
  "--unstable-net",
];

/** The targets a release is built for. */
export const RELEASE_TARGETS: readonly string[] = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
];

/** The `deno compile` arguments for one build. */
export function compileArgs(output: string, target?: string): string[] {
  return [
    "compile",
    ...BINARY_PERMISSIONS,
    // The binary is also the client; the cap costs it nothing measurable.
    SERVER_V8_FLAGS_ARG,
    // The store's WAL checkpointer runs as a worker: a module no import reaches.
    "--include",
    "server/local/checkpointer.ts",
    ...(target ? ["--target", target] : []),
    "--output",
    output,
    "main.ts",
  ];
}

/** The target deno compile builds for when none is given. */
export function hostTarget(): string {
  return Deno.build.target;
}

/** What to tell someone whose build could not get a denort runtime. */
export function denortHelp(target: string, denoVersion: string): string {
  return `tessenger compile: deno compile could not get the denort runtime for ${target}.

deno compile builds the binary from denort, a small Deno runtime it downloads
for each target unless the DENORT_BIN environment variable names a local copy.
To build without that download:
  1. on a machine with internet access, get denort-${target}.zip for Deno
     ${denoVersion} (the version of the deno that runs the build) from the
     release assets of denoland/deno on GitHub (tag v${denoVersion});
  2. unzip it here and run:  DENORT_BIN=$PWD/denort deno task compile
Otherwise run deno task compile where it can download, or take a release binary
(docs/install.md).`;
}

/** Whether deno compile's error output says the runtime was the problem. */
export function isDenortFailure(stderr: string): boolean {
  return /denort|base binary|error sending request|dns error|Connect/i.test(stderr);
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { target: { type: "string" }, output: { type: "string" } },
  });
  const target = values.target ?? hostTarget();
  const exe = target.includes("windows") ? ".exe" : "";
  const output = values.output ??
    (values.target ? `dist/tessenger-${target}${exe}` : `dist/tessenger${exe}`);

  const denort = Deno.env.get("DENORT_BIN");
  if (denort) {
    let isFile = false;
    try {
      isFile = Deno.statSync(denort).isFile;
    } catch {
      // reported below
    }
    if (!isFile) {
      console.error(
        `tessenger compile: DENORT_BIN is set to ${
          JSON.stringify(denort)
        }, which is not a file.\n` +
          "Point it at the unzipped denort binary, or unset it to let deno compile download one.",
      );
      return 1;
    }
    console.error(`Using the denort runtime at ${denort}`);
  }

  let child;
  try {
    child = new Deno.Command("deno", {
      args: compileArgs(output, values.target),
      stdout: "inherit",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    console.error(`tessenger compile: cannot run deno: ${e instanceof Error ? e.message : e}`);
    return 1;
  }
  const { code, stderr } = await child.output();
  const errText = new TextDecoder().decode(stderr);
  await Deno.stderr.write(stderr);
  if (code === 0) {
    console.error(`Built ${output}`);
    return 0;
  }
  if (isDenortFailure(errText)) console.error("\n" + denortHelp(target, Deno.version.deno));
  return code;
}

if (import.meta.main) Deno.exit(await main(Deno.args));

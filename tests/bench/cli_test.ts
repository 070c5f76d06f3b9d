/**
 * Every `bench:*` task answers `--help` with its flags and a bad command line with one line
 * and exit status 2 (no stack trace), as `deno task` runs it.
 */

import { assert, assertEquals } from "../helpers/assert.ts";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** Every `bench:*` task of deno.json. */
const TASKS = Object.keys(
  (JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)) as { tasks: Record<string, string> })
    .tasks,
).filter((name) => name.startsWith("bench:"));

async function task(name: string, args: string[]) {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", name, ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code, out: decoder.decode(stdout), err: decoder.decode(stderr) };
}

for (const name of TASKS) {
  Deno.test(`deno task ${name} --help lists its flags and exits 0`, async () => {
    const { code, out, err } = await task(name, ["--help"]);
    assertEquals(code, 0, err);
    assert(out.startsWith(`Usage: deno task ${name} `), out);
    assert(/^ {2}--\w/m.test(out), `no flag list:\n${out}`);
  });

  Deno.test(`deno task ${name} rejects an unknown flag in one line with status 2`, async () => {
    const { code, out, err } = await task(name, ["--no-such-flag"]);
    assertEquals(code, 2, out + err);
    // Deno may add "Info" lines of its own about --allow-run binaries that are not installed.
    assertEquals(err.trim().split("\n").slice(-2), [
      `${name}: Unknown option '--no-such-flag'`,
      `Run deno task ${name} --help for the flags.`,
    ]);
    assert(!/^\s+at /m.test(err), err);
  });
}

Deno.test("deno task bench:transfer rejects a malformed size in one line", async () => {
  const { code, err } = await task("bench:transfer", ["--sizes", "100MB,ten"]);
  assertEquals(code, 2);
  assertEquals(
    err.trim().split("\n")[0],
    'bench:transfer: Invalid --sizes entry: "ten". Expected e.g. 500M or 2G',
  );
});

/**
 * Whether an external program a test needs is here: a test that cannot run
 * without it is skipped, saying why (`.ci/run` installs what CI needs).
 *
 * @module
 */

/** Whether `command args` runs and succeeds (quietly). */
export function canRun(command: string, args: string[]): boolean {
  try {
    return new Deno.Command(command, { args, stdout: "null", stderr: "null" }).outputSync().success;
  } catch {
    return false;
  }
}

/** util-linux `script` (a pseudo-terminal), on Linux. */
export function hasScript(): boolean {
  return Deno.build.os === "linux" && canRun("script", ["--version"]);
}

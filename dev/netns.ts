/**
 * Helpers for labs of Linux network namespaces (dev/path_lab.ts, the tests' NAT lab):
 * finding system tools and running commands with a clear error.
 *
 * ```ts
 * const ip = which("ip") ?? "ip";
 * const { stdout } = await run([ip, "netns", "list"]);
 * console.log(stdout);
 * ```
 *
 * @module
 */

/**
 * The absolute path of a system tool: on PATH or in the sbin directories, which a
 * non-login root shell may not have on PATH (commands inside a namespace get these paths).
 */
export function which(name: string): string | undefined {
  const dirs = [...(Deno.env.get("PATH") ?? "").split(":"), "/usr/sbin", "/sbin", "/usr/bin"];
  for (const dir of dirs) {
    try {
      if (dir !== "" && Deno.statSync(`${dir}/${name}`).isFile) return `${dir}/${name}`;
    } catch {
      // not there
    }
  }
  return undefined;
}

/** A finished command. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `cmd` to its end. With `check` (the default) a command that cannot start or exits
 * non-zero throws, naming the command and its stderr; without, that is in the result
 * (code 127: it did not start).
 */
export async function run(cmd: string[], check = true): Promise<RunResult> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(cmd[0], { args: cmd.slice(1), stdout: "piped", stderr: "piped" })
      .output();
  } catch (e) {
    if (!check) return { code: 127, stdout: "", stderr: String(e) };
    throw e;
  }
  const result = {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
  if (check && result.code !== 0) {
    throw new Error(`${cmd.join(" ")} failed (${result.code}): ${result.stderr.trim()}`);
  }
  return result;
}

/** Why namespaces cannot be built here (not Linux, not root, no `ip`), or undefined. */
export async function namespacesUnavailable(): Promise<string | undefined> {
  if (Deno.build.os !== "linux") return "needs Linux network namespaces";
  const id = await run(["id", "-u"], false);
  if (id.code !== 0 || id.stdout.trim() !== "0") return "needs root";
  if (which("ip") === undefined) return "needs ip (apt-get install -y iproute2)";
  return undefined;
}

/**
 * Builds the single binary with the same arguments as `deno task compile` and
 * runs it. `deno compile` needs a denort runtime: DENORT_BIN, or a download.
 * Without either the test is skipped, and its name says why.
 */

import { compileArgs, isDenortFailure, RELEASE_TARGETS } from "../scripts/compile.ts";
import { assertEquals, assertIncludes } from "./helpers/assert.ts";
import { VERSION } from "../shared/version.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const BUILD_TIMEOUT_MS = 240_000;

type Build = { ok: true; dir: string; exe: string } | {
  ok: false;
  reason: string;
  broken?: string;
};

async function build(): Promise<Build> {
  const denort = Deno.env.get("DENORT_BIN");
  if (denort) {
    try {
      if (!Deno.statSync(denort).isFile) throw new Error("not a file");
    } catch {
      return { ok: false, reason: `DENORT_BIN=${denort} is not a file` };
    }
  }
  const dir = await Deno.makeTempDir({ prefix: "tessenger-compile-test-" });
  const exe = `${dir}/tessenger${Deno.build.os === "windows" ? ".exe" : ""}`;
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: compileArgs(exe),
    cwd: ROOT,
    stdout: "null",
    stderr: "piped",
    signal: AbortSignal.timeout(BUILD_TIMEOUT_MS),
  }).output();
  if (code === 0) return { ok: true, dir, exe };
  await Deno.remove(dir, { recursive: true });
  const text = new TextDecoder().decode(stderr);
  if (isDenortFailure(text)) {
    return {
      ok: false,
      reason: "no denort runtime: DENORT_BIN is unset and deno compile could not download one",
    };
  }
  return { ok: false, reason: "deno compile failed", broken: text };
}

const result = await build();

if (!result.ok && result.broken !== undefined) {
  const why = result.broken;
  Deno.test("deno compile builds tessenger", () => {
    throw new Error(`deno compile failed:\n${why}`);
  });
}

Deno.test({
  name: result.ok || result.broken !== undefined
    ? "the compiled tessenger prints its version and help"
    : `the compiled tessenger prints its version and help (skipped: ${result.reason})`,
  ignore: !result.ok,
  async fn() {
    if (!result.ok) return;
    try {
      const run = async (...args: string[]) => {
        const out = await new Deno.Command(result.exe, { args, stdout: "piped", stderr: "piped" })
          .output();
        return { code: out.code, stdout: new TextDecoder().decode(out.stdout) };
      };
      assertEquals(await run("--version"), { code: 0, stdout: `tessenger ${VERSION}\n` });
      const help = await run("--help");
      assertEquals(help.code, 0);
      assertIncludes(help.stdout, "Usage: tessenger <server|client|user>");
      const clientHelp = await run("client", "--help");
      assertIncludes(clientHelp.stdout, "--json");
    } finally {
      await Deno.remove(result.dir, { recursive: true });
    }
  },
});

Deno.test("the release workflow builds every release target", async () => {
  const workflow = await Deno.readTextFile(`${ROOT}.github/workflows/release.yml`);
  for (const target of RELEASE_TARGETS) assertIncludes(workflow, target);
  assertIncludes(workflow, "task compile --target");
  assertIncludes(workflow, "sha256sum");
});

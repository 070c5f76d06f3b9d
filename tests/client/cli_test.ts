import { CLIENT_HELP, CLIENT_USAGE, parseClientArgs } from "../../client/cli.ts";
import { SERVER_HELP, SERVER_USAGE } from "../../server/cli.ts";
import { USER_HELP, USER_USAGE } from "../../server/user_cli.ts";
import { assert, assertEquals, assertIncludes } from "../helpers/assert.ts";
import { runMain } from "../../dev/main_process.ts";
import { startTestServer, tickingClock } from "../helpers/test_server.ts";

Deno.test("every flag in a usage line is in its --help with its default", () => {
  for (
    const [usage, help] of [[CLIENT_USAGE, CLIENT_HELP], [SERVER_USAGE, SERVER_HELP], [
      USER_USAGE,
      USER_HELP,
    ]]
  ) {
    const flags = [...usage.matchAll(/--[a-z-]+/g)].map((m) => m[0]);
    assert(flags.length > 0);
    for (const flag of flags) {
      // The flag's line, and the lines that continue it, up to the next flag.
      const at = help.search(new RegExp(`(^|[ ,])${flag}\\b`, "m"));
      assert(at !== -1, `${flag} is missing from the help`);
      const entry = help.slice(at).split(/\n(?= {2}\S)/)[0];
      assertIncludes(entry, "(default");
    }
  }
});

Deno.test("parseClientArgs() reads --json, off by default", () => {
  assertEquals(parseClientArgs([]).json, false);
  assertEquals(parseClientArgs(["--json", "127.0.0.1", "5000"]).json, true);
});

/** Runs `tessenger ARGS` with `stdin` piped in. */
function runCli(args: string[], stdin: string, env: Record<string, string> = {}) {
  return runMain(args, { stdin, env });
}

Deno.test("tessenger client --help lists --json", async () => {
  const { code, stdout } = await runCli(["client", "--help"], "");
  assertEquals(code, 0);
  assertIncludes(stdout, "--json");
  assertIncludes(stdout, "NO_COLOR");
});

Deno.test("tessenger client on a pipe prints no colour codes, even without NO_COLOR", async () => {
  const s = await startTestServer({ clock: tickingClock() });
  try {
    const r = await runCli(
      ["client", "--port", String(s.port)],
      "Nobody\nYoda\nwise@!man\n/nope\n/groups\n/logout\n",
      { TERM: "xterm-256color" },
    );
    assertEquals(r.code, 0, r.stderr);
    assert(!r.stdout.includes("\x1b") && !r.stderr.includes("\x1b"), r.stdout + r.stderr);
    assertEquals(r.stdout.split("\n").filter((l) => l !== "").slice(0, 1), [
      "Welcome to TESSENGER!",
    ]);
    assertIncludes(r.stdout, "You are in no group chat and have no invitations.");
    assertIncludes(r.stdout, "Bye, Yoda!");
    assertEquals(r.stderr, "Invalid Username. Please try again\nError. Invalid command!\n");
  } finally {
    await s.close();
  }
});

Deno.test("tessenger client --json prints only JSON lines on stdout", async () => {
  const s = await startTestServer({ clock: tickingClock() });
  try {
    const r = await runCli(
      ["client", "--json", "--port", String(s.port)],
      "Yoda\nwise@!man\n/nope\n/activeuser\n/logout\n",
    );
    assertEquals(r.code, 0, r.stderr);
    assertEquals(r.stderr, "");
    const events = r.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
    assertEquals(events.map((e) => e.type), [
      "response",
      "response",
      "ready",
      "error",
      "response",
      "response",
    ]);
    assertEquals(events[4].data, { users: [] });
  } finally {
    await s.close();
  }
});

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
      "Yoda\nwise@!man\n/nope\n/groups\n/logout\n",
      { TERM: "xterm-256color" },
    );
    assertEquals(r.code, 0, r.stderr);
    assert(!r.stdout.includes("\x1b") && !r.stderr.includes("\x1b"), r.stdout + r.stderr);
    assertEquals(r.stdout.split("\n").filter((l) => l !== "").slice(0, 1), [
      "Welcome to TESSENGER!",
    ]);
    assertIncludes(r.stdout, "You are in no group chat and have no invitations.");
    assertIncludes(r.stdout, "Bye, Yoda!");
    assertEquals(r.stderr, "Error. Invalid command!\n");
  } finally {
    await s.close();
  }
});

Deno.test("a piped wrong password ends the client with exit 1 and locks nothing", async () => {
  const s = await startTestServer({ clock: tickingClock(), maxAttempts: 3 });
  try {
    const script = "Obiwan\nbad\n/msgto Hans x\n/logout\n";
    for (let i = 0; i < 2; i++) {
      const r = await runCli(["client", "--port", String(s.port)], script);
      assertEquals(r.code, 1);
      assertEquals(
        r.stderr,
        "Invalid Password. Please try again\n" +
          "Login failed: wrong password. Input is not a terminal, so it is not asked again.\n",
      );
    }
    // Two runs, two failures of the three that block: the right password still works.
    const r = await runCli(["client", "--port", String(s.port)], "Obiwan\nhellothere\n");
    assertEquals(r.code, 0, r.stderr);
    assertIncludes(r.stdout, "Welcome to TESSENGER!");
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

Deno.test("--ca with a file that is not a certificate is refused at start", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const key = `${dir}/key.pem`;
    await Deno.writeTextFile(
      key,
      "-----BEGIN PRIVATE KEY-----\nMIGHAgEA\n-----END PRIVATE KEY-----\n",
    );
    const broken = `${dir}/broken.pem`;
    await Deno.writeTextFile(
      broken,
      "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n",
    );
    const run = await runCli(["client", "--port", "1", "--ca", key], "");
    assertEquals(run.code, 1);
    assertEquals(
      run.stderr.trim(),
      `tessenger client: --ca ${key} holds no PEM certificate (a "-----BEGIN CERTIFICATE-----" ` +
        "block); give the CA's certificate, or the server's own if it is self-signed.",
    );
    const bad = await runCli(["client", "--port", "1", "--ca", broken], "");
    assertEquals(bad.code, 1);
    assertIncludes(
      bad.stderr,
      `tessenger client: --ca ${broken} holds a certificate that cannot be read`,
    );
    assertEquals(bad.stderr.trim().split("\n").length, 1, bad.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

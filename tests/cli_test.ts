import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { startServer } from "../server/server.ts";
import { type MainRun, runMain } from "../dev/main_process.ts";
import { RawClient } from "./helpers/raw_client.ts";

/** Runs `tessenger ARGS` quietly, without colour and without env access. */
function tessenger(args: string[], stdin?: string): Promise<MainRun> {
  return runMain(args, {
    stdin,
    env: { NO_COLOR: "1" },
    denoFlags: ["--quiet", "--allow-read", "--allow-write", "--allow-net=127.0.0.1"],
  });
}

/** A bad argument: non-zero exit, a one-line reason and the usage line, no stack trace. */
function assertUsageError(run: MainRun, reason: RegExp | string): void {
  assert(run.code !== 0, "exits non-zero");
  const lines = run.stderr.trimEnd().split("\n");
  assertEquals(lines.length, 2, run.stderr);
  if (typeof reason === "string") assertEquals(lines[0], reason);
  else assertMatch(lines[0], reason);
  assertMatch(lines[1], /^Usage: tessenger/);
  assert(!/^\s+at |Stack|Error:/m.test(run.stderr), run.stderr);
}

Deno.test("tessenger --version and --help", async () => {
  const version = await tessenger(["--version"]);
  assertEquals([version.code, version.stdout.trim()], [0, "tessenger 0.1.0"]);
  const help = await tessenger(["--help"]);
  assertEquals(help.code, 0);
  for (const word of ["server", "client", "user add"]) assert(help.stdout.includes(word));
});

Deno.test("every subcommand has --help listing its flags and defaults", async () => {
  const server = await tessenger(["server", "--help"]);
  for (
    const flag of [
      "--host",
      "--port",
      "--max-attempts",
      "--block-seconds",
      "--credentials",
      "--data-dir",
    ]
  ) {
    assert(server.stdout.includes(flag), flag);
  }
  assert(server.stdout.includes("default 127.0.0.1") && server.stdout.includes("default 5000"));
  const client = await tessenger(["client", "--help"]);
  for (const flag of ["--host", "--port", "--udp-port", "--downloads"]) {
    assert(client.stdout.includes(flag));
  }
  const user = await tessenger(["user", "--help"]);
  assert(user.stdout.includes("--data-dir"));
});

Deno.test("MAX_ATTEMPTS outside 1-5 is refused with the original message", async () => {
  for (const bad of ["0", "6", "abc", "2.5"]) {
    const run = await tessenger(["server", "127.0.0.1", "5000", bad]);
    assertUsageError(
      run,
      `tessenger: Invalid number of allowed failed consecutive attempt: ${bad}. ` +
        "The valid value of argument number is an integer between 1 and 5",
    );
  }
});

Deno.test("bad ports, IPs, flags and extra arguments get one line and the usage", async () => {
  assertUsageError(await tessenger(["server", "127.0.0.1", "70000"]), /Invalid TCP port: "70000"/);
  assertUsageError(await tessenger(["server", "--port=-1"]), /Invalid TCP port/);
  assertUsageError(await tessenger(["server", "--port"]), /--port/);
  assertUsageError(await tessenger(["server", "999.1.1.1"]), /Invalid server IP: "999.1.1.1"/);
  assertUsageError(await tessenger(["server", "--bogus"]), /Unknown option '--bogus'/);
  assertUsageError(await tessenger(["server", "a", "1", "2", "3"]), /Too many arguments/);
  assertUsageError(await tessenger(["client", "127.0.0.1", "0"]), /Invalid TCP port: "0"/);
  assertUsageError(await tessenger(["client", "127.0.0.1", "5000", "x"]), /Invalid UDP port/);
  assertUsageError(await tessenger(["launch"]), /Unknown subcommand/);
  assertUsageError(await tessenger([]), /Missing subcommand/);
});

Deno.test("a server that cannot listen says why in one line", async () => {
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const dir = await Deno.makeTempDir();
  try {
    const port = String((busy.addr as Deno.NetAddr).port);
    const run = await tessenger(["server", "127.0.0.1", port, "3", "--data-dir", dir]);
    assertEquals(run.code, 1);
    assertMatch(run.stderr.trim(), /^tessenger server: cannot start: .*(in use|Address)/i);
  } finally {
    busy.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tessenger user add stores a hashed account the server accepts", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const add = await tessenger(["user", "add", "Rey", "--data-dir", dir], "scavenger\n");
    assertEquals([add.code, add.stdout.trim()], [0, "Added user Rey."]);
    const again = await tessenger(["user", "add", "Rey", "--data-dir", dir], "x\n");
    assert(again.code !== 0 && again.stderr.includes("already exists"));
    const passwd = await tessenger(["user", "passwd", "Rey", "--data-dir", dir], "jakku\n");
    assertEquals(passwd.code, 0);
    const server = await startServer({ port: 0, dataDir: dir, credentialsPath: `${dir}/none.txt` });
    try {
      const c = await RawClient.login(server.port, "Rey", "jakku");
      await c.close();
    } finally {
      await server.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

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
  assertUsageError(await tessenger(["server", "--port"]), "tessenger: Missing value for --port");
  assertUsageError(
    await tessenger(["client", "--port", "-5"]),
    'tessenger: Invalid TCP port: "-5". Expected an integer 1-65535',
  );
  assertUsageError(
    await tessenger(["client", "--port", "--json"]),
    "tessenger: Missing value for --port (found --json)",
  );
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

Deno.test("tessenger user passwd of an account in credentials.txt warns that the file wins and prints its line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const credentials = `${dir}/credentials.txt`;
    await Deno.writeTextFile(credentials, "# accounts\nYoda wise@!man\nRey scavenger\n");
    const flags = ["--data-dir", dir, "--credentials", credentials];
    const add = await tessenger(["user", "add", "Finn", ...flags], "stormtrooper\n");
    assertEquals([add.code, add.stdout.trim(), add.stderr], [0, "Added user Finn.", ""]);
    // Rey comes from the file: the server imports it at start.
    const server = await startServer({ port: 0, dataDir: dir, credentialsPath: credentials });
    await server.close();
    const passwd = await tessenger(["user", "passwd", "Rey", ...flags], "jakku\n");
    assertEquals(passwd.code, 0);
    const [changed, line] = passwd.stdout.trim().split("\n");
    assertEquals(changed, "Changed the password of Rey.");
    assertMatch(line, /^Rey scrypt\$/);
    assertEquals(
      passwd.stderr.trim(),
      `Warning: Rey is also in ${credentials} (line 3), which the server imports at every ` +
        "start: this password lasts only until the next start. Replace that line with the one " +
        "below, or delete it.",
    );
    // Done as it says, the new password survives a restart.
    await Deno.writeTextFile(credentials, `# accounts\nYoda wise@!man\n${line}\n`);
    const again = await startServer({ port: 0, dataDir: dir, credentialsPath: credentials });
    try {
      const c = await RawClient.login(again.port, "Rey", "jakku");
      await c.close();
    } finally {
      await again.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task user runs tessenger user, as README says", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "user", "--help"],
    cwd: new URL("..", import.meta.url),
    stdout: "piped",
    stderr: "piped",
  }).output();
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  assertMatch(new TextDecoder().decode(out.stdout), /^Usage: tessenger user /);
});

Deno.test("a missing --downloads dir is refused at client start, before any connection", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const missing = `${dir}/nope`;
    const run = await tessenger(["client", "--port", "1", "--downloads", missing], "");
    assertEquals(run.code, 1);
    assertEquals(
      run.stderr.trim(),
      `tessenger client: the downloads directory ${missing} does not exist; create it, or ` +
        "pass another with --downloads DIR.",
    );
    await Deno.writeTextFile(`${dir}/file`, "");
    const file = await tessenger(["client", "--port", "1", "--downloads", `${dir}/file`], "");
    assertEquals([file.code, file.stderr.trim()], [
      1,
      `tessenger client: --downloads ${dir}/file is not a directory.`,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--data-dir creates only its last directory and refuses a path whose parent is missing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const typo = `${dir}/dat/tessenger`;
    const run = await tessenger(["server", "--port", "0", "--data-dir", typo]);
    assertEquals(run.code, 1);
    assertEquals(
      run.stderr.trim(),
      `tessenger server: cannot start: Cannot create data dir ${typo}: its parent ${dir}/dat ` +
        "does not exist",
    );
    assertEquals([...Deno.readDirSync(dir)], []);
    const user = await tessenger(["user", "add", "Rey", "--data-dir", typo], "scavenger\n");
    assertEquals([user.code, user.stderr.trim()], [
      1,
      `tessenger: Cannot create data dir ${typo}: its parent ${dir}/dat does not exist`,
    ]);
    assertEquals([...Deno.readDirSync(dir)], []);
    const fresh = `${dir}/fresh`;
    const server = await startServer({ port: 0, dataDir: fresh, credentialsPath: `${dir}/none` });
    await server.close();
    assert((await Deno.stat(`${fresh}/tessenger.db`)).isFile);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

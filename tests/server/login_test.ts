import { assert, assertEquals } from "../helpers/assert.ts";
import { RawClient } from "../helpers/raw_client.ts";
import { startTestServer } from "../helpers/test_server.ts";

const TEXT = {
  unknownUser: "Invalid Username. Please try again",
  badPassword: "Invalid Password. Please try again",
  nowBlocked: "Invalid Password. Your account has been blocked. Please try again later",
  blocked: "Your account is blocked due to multiple login failures. Please try again later",
};

async function hello(port: number): Promise<RawClient> {
  const c = await RawClient.connect(port);
  await c.expectOk("hello", ["2"]);
  return c;
}

Deno.test("login succeeds with the right password and welcomes the user", async () => {
  const t = await startTestServer();
  try {
    const c = await hello(t.port);
    assertEquals((await c.request("user", ["Yoda"])).ok, true);
    const res = await c.request("pass", ["wise@!man", "6666"]);
    assertEquals(res.ok, true);
    assertEquals(res.lines, ["Welcome to TESSENGER!"]);
    await c.close();
  } finally {
    await t.close();
  }
});

Deno.test("an unknown username is refused and may be retried on the same connection", async () => {
  const t = await startTestServer();
  try {
    const c = await hello(t.port);
    const res = await c.request("user", ["Vader"]);
    assertEquals([res.ok, res.code, res.lines], [false, "unknown_user", [TEXT.unknownUser]]);
    assertEquals((await c.request("user", ["Yoda"])).ok, true);
    assertEquals((await c.request("pass", ["wise@!man", "0"])).ok, true);
    await c.close();
  } finally {
    await t.close();
  }
});

Deno.test("usernames are case-sensitive", async () => {
  const t = await startTestServer();
  try {
    const c = await hello(t.port);
    assertEquals((await c.request("user", ["yoda"])).code, "unknown_user");
    await c.close();
  } finally {
    await t.close();
  }
});

Deno.test("a wrong password is refused and the password may be retried", async () => {
  const t = await startTestServer();
  try {
    const c = await hello(t.port);
    await c.expectOk("user", ["Hans"]);
    const res = await c.request("pass", ["nope", "0"]);
    assertEquals([res.code, res.lines], ["bad_password", [TEXT.badPassword]]);
    assertEquals((await c.request("pass", ["falcon*solo", "0"])).ok, true);
    await c.close();
  } finally {
    await t.close();
  }
});

Deno.test("the failure that reaches MAX_ATTEMPTS blocks the account and closes the connection", async () => {
  const t = await startTestServer({ maxAttempts: 3 });
  try {
    const c = await hello(t.port);
    await c.expectOk("user", ["Luke"]);
    assertEquals((await c.request("pass", ["x", "0"])).code, "bad_password");
    assertEquals((await c.request("pass", ["y", "0"])).code, "bad_password");
    const res = await c.request("pass", ["z", "0"]);
    assertEquals([res.code, res.lines], ["now_blocked", [TEXT.nowBlocked]]);
    await c.closed;
    // Even the right password is refused while blocked.
    const d = await hello(t.port);
    const again = await d.request("user", ["Luke"]);
    assertEquals([again.code, again.lines], ["blocked", [TEXT.blocked]]);
    await d.closed;
    await c.close();
    await d.close();
  } finally {
    await t.close();
  }
});

Deno.test("failures on two connections add up, and the block expires after --block-seconds", async () => {
  const t = await startTestServer({ maxAttempts: 3, blockSeconds: 30 });
  try {
    const a = await hello(t.port);
    await a.expectOk("user", ["Leia"]);
    assertEquals((await a.request("pass", ["bad1", "0"])).code, "bad_password");
    assertEquals((await a.request("pass", ["bad2", "0"])).code, "bad_password");
    await a.close();
    const b = await hello(t.port);
    await b.expectOk("user", ["Leia"]);
    assertEquals((await b.request("pass", ["bad3", "0"])).code, "now_blocked");
    await b.close();

    t.clock.advance(29_000);
    const c = await hello(t.port);
    assertEquals((await c.request("user", ["Leia"])).code, "blocked");
    await c.close();

    t.clock.advance(1_000);
    const d = await hello(t.port);
    await d.expectOk("user", ["Leia"]);
    assertEquals((await d.request("pass", ["princess*leia", "0"])).ok, true);
    await d.close();
  } finally {
    await t.close();
  }
});

Deno.test("a successful login resets the failure count", async () => {
  const t = await startTestServer({ maxAttempts: 2 });
  try {
    const a = await hello(t.port);
    await a.expectOk("user", ["Obiwan"]);
    assertEquals((await a.request("pass", ["bad", "0"])).code, "bad_password");
    await a.expectOk("pass", ["hellothere", "0"]);
    await a.expectOk("logout");
    await a.closed;
    await a.close();
    const b = await hello(t.port);
    await b.expectOk("user", ["Obiwan"]);
    assertEquals((await b.request("pass", ["bad", "0"])).code, "bad_password");
    assertEquals((await b.request("pass", ["hellothere", "0"])).ok, true);
    await b.close();
  } finally {
    await t.close();
  }
});

Deno.test("a second concurrent login of the same user is refused", async () => {
  const t = await startTestServer();
  try {
    const first = await RawClient.login(t.port, "Yoda", "wise@!man");
    const second = await hello(t.port);
    await second.expectOk("user", ["Yoda"]);
    const res = await second.request("pass", ["wise@!man", "0"]);
    assertEquals(res.code, "already_online");
    assert(res.lines[0].includes("already logged in"));
    await second.closed;
    // The first session is unaffected.
    assertEquals((await first.request("activeuser")).lines, ["no other active user"]);
    await first.close();
    await second.close();
  } finally {
    await t.close();
  }
});

Deno.test("commands before login are refused", async () => {
  const t = await startTestServer();
  try {
    const c = await RawClient.connect(t.port);
    assertEquals((await c.request("msgto", ["Hans", "hi"])).code, "need_hello");
    await c.expectOk("hello", ["2"]);
    const res = await c.request("activeuser");
    assertEquals([res.code, res.lines], ["need_login", ["Please log in first."]]);
    assertEquals((await c.request("pass", ["x", "0"])).code, "no_user");
    await c.close();
  } finally {
    await t.close();
  }
});

Deno.test("a wrong protocol version is refused and the connection closed", async () => {
  const t = await startTestServer();
  try {
    const c = await RawClient.connect(t.port);
    const res = await c.request("hello", ["99"]);
    assertEquals(res.code, "version");
    await c.closed;
    await c.close();
  } finally {
    await t.close();
  }
});

Deno.test("credentials may hold scrypt hashes; malformed lines are skipped", async () => {
  const { hashPassword } = await import("../../server/passwords.ts");
  const dataDir = await Deno.makeTempDir({ prefix: "tessenger-test-" });
  const hash = await hashPassword("s3cret", { N: 1024, r: 8, p: 1 });
  const path = `${dataDir}/creds.txt`;
  await Deno.writeTextFile(path, `# comment\n\nHashed ${hash}\nbad line here\nPlain pw\n`);
  const { startServer } = await import("../../server/server.ts");
  const server = await startServer({ port: 0, dataDir, credentialsPath: path });
  try {
    const a = await RawClient.login(server.port, "Hashed", "s3cret");
    const b = await RawClient.login(server.port, "Plain", "pw");
    await a.close();
    await b.close();
  } finally {
    await server.close();
    await Deno.remove(dataDir, { recursive: true });
  }
});

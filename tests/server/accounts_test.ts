import { assert, assertEquals } from "../helpers/assert.ts";
import { parseCredentials } from "../../server/credentials.ts";
import { LoginThrottle } from "../../server/login_throttle.ts";
import { hashPassword, isPasswordHash, verifyPassword } from "../../server/passwords.ts";

const FAST = { N: 1024, r: 8, p: 1 };

Deno.test("parseCredentials() reads accounts and reports malformed lines by number", () => {
  const { entries, problems } = parseCredentials(
    "# accounts\nYoda wise@!man\n\nHans  two spaces\nLuke\nbad/name pw\nYoda again\nLeia pw\r\n",
  );
  assertEquals(entries.map((e) => [e.line, e.user, e.password]), [
    [2, "Yoda", "wise@!man"],
    [8, "Leia", "pw"],
  ]);
  assertEquals(problems.map((p) => p.split(":")[1]), ["4", "5", "6", "7"]);
});

Deno.test("hashPassword() and verifyPassword() agree, and a wrong password fails", async () => {
  const stored = await hashPassword("hunter2", FAST);
  assert(isPasswordHash(stored));
  assert(await verifyPassword("hunter2", stored));
  assert(!(await verifyPassword("hunter3", stored)));
  assert(!(await verifyPassword("hunter2", "scrypt$bogus")));
  assert(!isPasswordHash("plain-password"));
});

Deno.test("LoginThrottle blocks at the limit and forgets the block once it expires", () => {
  let now = 0;
  const t = new LoginThrottle({ maxAttempts: 2, blockMs: 10_000, clock: () => now });
  assertEquals(t.recordFailure("a"), false);
  assertEquals(t.isBlocked("a"), false);
  assertEquals(t.recordFailure("a"), true);
  assertEquals(t.isBlocked("a"), true);
  assertEquals(t.isBlocked("b"), false);
  now = 9_999;
  assertEquals(t.isBlocked("a"), true);
  now = 10_000;
  assertEquals(t.isBlocked("a"), false);
  assertEquals(t.recordFailure("a"), false, "the count starts again");
});

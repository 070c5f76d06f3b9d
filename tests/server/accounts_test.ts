import { assert, assertEquals } from "../helpers/assert.ts";
import { parseCredentials } from "../../server/credentials.ts";
import { LocalThrottle } from "../../server/local/throttle.ts";
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

Deno.test("LocalThrottle blocks at the limit and forgets the block once it expires", async () => {
  let now = 0;
  const t = new LocalThrottle({ maxAttempts: 2, blockMs: 10_000, clock: () => now });
  const fail = async (user: string) => {
    assertEquals((await t.reserve(user, "ip")).kind, "go");
    return await t.settle(user, "ip", "failed");
  };
  assertEquals(await fail("a"), "failed");
  assertEquals(await t.blockedFor("a"), 0);
  assertEquals(await fail("a"), "now_blocked");
  assertEquals(await t.blockedFor("a"), 10_000);
  assertEquals((await t.reserve("a", "ip")).kind, "blocked");
  assertEquals(await t.blockedFor("b"), 0);
  now = 9_999;
  assertEquals(await t.blockedFor("a"), 1);
  now = 10_000;
  assertEquals(await t.blockedFor("a"), 0);
  assertEquals(await fail("a"), "failed", "the count starts again");
});

Deno.test("LocalThrottle reserves no more checks than the attempts left, and a success resets", async () => {
  const t = new LocalThrottle({ maxAttempts: 3, blockMs: 10_000, clock: () => 0 });
  const kinds = [];
  for (let i = 0; i < 5; i++) kinds.push((await t.reserve("a", "ip")).kind);
  assertEquals(kinds, ["go", "go", "go", "wait", "wait"]);
  assertEquals(await t.settle("a", "ip", "failed"), "failed");
  assertEquals((await t.reserve("a", "ip")).kind, "wait", "1 failure + 2 in flight");
  assertEquals(await t.settle("a", "ip", "unchecked"), "failed");
  assertEquals((await t.reserve("a", "ip")).kind, "go", "an unchecked one gives its place back");
  assertEquals(await t.settle("a", "ip", "ok"), "ok");
  assertEquals(await t.settle("a", "ip", "failed"), "failed");
  const after = [];
  for (let i = 0; i < 3; i++) after.push((await t.reserve("a", "ip")).kind);
  assertEquals(after, ["go", "go", "wait"], "the success reset the count: 1 failure since");
});

Deno.test("LocalThrottle limits an address that keeps failing, whatever the usernames", async () => {
  let now = 0;
  const t = new LocalThrottle({
    maxAttempts: 5,
    blockMs: 1000,
    clock: () => now,
    addressFailureBurst: 3,
    addressFailuresPerMinute: 6,
  });
  await t.unknownUser("1.2.3.4");
  await t.unknownUser("1.2.3.4");
  assertEquals((await t.reserve("a", "1.2.3.4")).kind, "go");
  assertEquals(await t.settle("a", "1.2.3.4", "failed"), "failed");
  assertEquals(await t.addressBlockedFor("1.2.3.4"), 10_000);
  assertEquals((await t.reserve("b", "1.2.3.4")).kind, "address_limited");
  assertEquals((await t.reserve("b", "5.6.7.8")).kind, "go", "other addresses are not limited");
  now = 10_000;
  assertEquals(await t.addressBlockedFor("1.2.3.4"), 0, "one failure earned back");
});

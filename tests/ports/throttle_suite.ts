/**
 * The conformance suite of {@link Throttle}: consecutive failures and blocks
 * per username (SPEC §2), reservations that bound how many passwords are
 * checked at once, and the per-address failure budget.
 *
 * @module
 */

import type { Throttle } from "../../server/ports.ts";
import { assert, assertEquals } from "../helpers/assert.ts";
import { portTest } from "./_suite.ts";

/** The settings every test runs with. */
export interface ThrottleSettings {
  maxAttempts: number;
  blockMs: number;
  /** Failures one address may make at once. */
  addressFailureBurst: number;
  /** Failures an address earns back per minute. */
  addressFailuresPerMinute: number;
}

/** Throttles on fresh, shared state, with a clock the test moves. */
export interface ThrottleFixture {
  /** One per node; all count the same failures. */
  throttles: Throttle[];
  /** Moves every throttle's clock forward. */
  advance(ms: number): void;
  cleanup(): Promise<void>;
}

/** How a test file provides an implementation. */
export interface ThrottleFactory {
  skip?: string;
  maxNodes: number;
  open(nodes: number, settings: ThrottleSettings): Promise<ThrottleFixture>;
}

const SETTINGS: ThrottleSettings = {
  maxAttempts: 3,
  blockMs: 10_000,
  addressFailureBurst: 6,
  addressFailuresPerMinute: 1,
};

/** Registers the suite's tests for the implementation named `impl`. */
export function throttleSuite(impl: string, factory: ThrottleFactory): void {
  const test = (name: string, nodes: number, fn: (f: ThrottleFixture) => Promise<void>) => {
    if (nodes <= factory.maxNodes) {
      portTest(impl, factory.skip, name, () => factory.open(nodes, SETTINGS), fn);
    }
  };

  /** One whole login attempt: reserve, then settle. */
  const attempt = async (t: Throttle, user: string, ok: boolean, ip = "10.0.0.1") => {
    const r = await t.reserve(user, ip);
    if (r.kind !== "go") return r.kind;
    return await t.settle(user, ip, ok ? "ok" : "failed");
  };

  test("failures in a row block the username for the block time", 1, async (f) => {
    const [t] = f.throttles;
    assertEquals(await t.blockedFor("Yoda"), 0);
    assertEquals(await attempt(t, "Yoda", false), "failed");
    assertEquals(await attempt(t, "Yoda", false), "failed");
    assertEquals(await attempt(t, "Yoda", false), "now_blocked");
    assertEquals(await t.blockedFor("Yoda"), 10_000);
    f.advance(4_000);
    assertEquals(await t.reserve("Yoda", "10.0.0.2"), { kind: "blocked", retryAfterMs: 6_000 });
    assertEquals(await t.blockedFor("Hans"), 0, "other usernames are not blocked");
    f.advance(6_000);
    assertEquals(await t.blockedFor("Yoda"), 0);
    assertEquals(await attempt(t, "Yoda", false), "failed", "the count starts over after a block");
  });

  test("a success resets the count of failures", 1, async (f) => {
    const [t] = f.throttles;
    assertEquals(await attempt(t, "Yoda", false), "failed");
    assertEquals(await attempt(t, "Yoda", false), "failed");
    assertEquals(await attempt(t, "Yoda", true), "ok");
    assertEquals(await attempt(t, "Yoda", false), "failed");
    assertEquals(await attempt(t, "Yoda", false), "failed");
    assertEquals(await t.blockedFor("Yoda"), 0);
  });

  test("no more checks run at once than failures could still be allowed", 1, async (f) => {
    const [t] = f.throttles;
    assertEquals(await attempt(t, "Yoda", false), "failed");
    assertEquals((await t.reserve("Yoda", "10.0.0.1")).kind, "go");
    assertEquals((await t.reserve("Yoda", "10.0.0.1")).kind, "go");
    assertEquals((await t.reserve("Yoda", "10.0.0.1")).kind, "wait");
    assertEquals(await t.settle("Yoda", "10.0.0.1", "unchecked"), "failed");
    assertEquals(
      (await t.reserve("Yoda", "10.0.0.1")).kind,
      "go",
      "an unchecked settle gives it back",
    );
    assertEquals(await t.settle("Yoda", "10.0.0.1", "failed"), "failed");
    assertEquals(await t.settle("Yoda", "10.0.0.1", "failed"), "now_blocked");
  });

  test("many logins of one username at once check at most maxAttempts passwords", 1, async (f) => {
    const answers = await Promise.all(
      Array.from(
        { length: 20 },
        (_, i) => f.throttles[i % f.throttles.length].reserve("Yoda", `10.0.1.${i}`),
      ),
    );
    assertEquals(answers.filter((r) => r.kind === "go").length, SETTINGS.maxAttempts);
    assert(answers.every((r) => r.kind === "go" || r.kind === "wait"));
  });

  test(
    "an address that fails too often is limited, whatever usernames it tries, and earns failures back",
    1,
    async (f) => {
      const [t] = f.throttles;
      const ip = "10.9.9.9";
      for (let i = 0; i < 3; i++) await t.unknownUser(ip);
      assertEquals(await attempt(t, "Yoda", false, ip), "failed");
      assertEquals(await attempt(t, "Hans", false, ip), "failed");
      assertEquals(await t.addressBlockedFor(ip), 0);
      await t.unknownUser(ip);
      // It earns one failure back per minute.
      assertEquals(await t.addressBlockedFor(ip), 60_000);
      assertEquals(await t.reserve("Leia", ip), { kind: "address_limited", retryAfterMs: 60_000 });
      assertEquals(
        await attempt(t, "Leia", true, "10.0.0.1"),
        "ok",
        "other addresses are not limited",
      );
      assertEquals(await t.blockedFor("Leia"), 0, "the limit counted nothing against the username");
      f.advance(45_000);
      assertEquals(await t.addressBlockedFor(ip), 15_000);
      f.advance(15_000);
      assertEquals(await t.addressBlockedFor(ip), 0);
      assertEquals((await t.reserve("Leia", ip)).kind, "go");
    },
  );

  test("failures count per username across nodes", 3, async (f) => {
    const [a, b, c] = f.throttles;
    assertEquals(await attempt(a, "Yoda", false), "failed");
    assertEquals(await attempt(b, "Yoda", false), "failed");
    assertEquals(await attempt(c, "Yoda", false), "now_blocked");
    for (const t of f.throttles) assertEquals(await t.blockedFor("Yoda"), SETTINGS.blockMs);
    assertEquals((await a.reserve("Yoda", "10.0.0.3")).kind, "blocked");
  });
}

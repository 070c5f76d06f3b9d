/**
 * The conformance suite of {@link Directory}. An implementation gives one
 * directory per node that shares it (one for the in-process directory, several
 * for the cluster's); the tests that need several nodes run only where there
 * are.
 *
 * @module
 */

import type { Directory, PresenceEntry } from "../../server/ports.ts";
import { assert, assertEquals } from "../helpers/assert.ts";
import { portTest } from "./_suite.ts";

/** Directories on fresh, shared state: one per node. */
export interface DirectoryFixture {
  /** `directories[i]` is node i's; all see the same users. */
  directories: Directory[];
  /** The name node i writes into its entries. */
  nodeNames: string[];
  cleanup(): Promise<void>;
}

/** How a test file provides an implementation. */
export interface DirectoryFactory {
  skip?: string;
  /** How many nodes {@link open} can give (1 for an in-process directory). */
  maxNodes: number;
  open(nodes: number): Promise<DirectoryFixture>;
}

const T0 = 1_700_000_000_000;

/** Registers the suite's tests for the implementation named `impl`. */
export function directorySuite(impl: string, factory: DirectoryFactory): void {
  const test = (name: string, nodes: number, fn: (f: DirectoryFixture) => Promise<void>) => {
    if (nodes <= factory.maxNodes) {
      portTest(impl, factory.skip, name, () => factory.open(nodes), fn);
    }
  };

  const entry = (
    f: DirectoryFixture,
    node: number,
    user: string,
    since: number,
  ): PresenceEntry => ({
    user,
    ip: "127.0.0.1",
    udpPort: 6000 + since - T0,
    since,
    frontend: "native",
    node: f.nodeNames[node],
  });

  test("a claimed user is looked up and listed, in login order", 1, async (f) => {
    const [d] = f.directories;
    assertEquals(await d.list(), []);
    const hans = { ...entry(f, 0, "Hans", T0 + 1), frontend: "irc" as const };
    const yoda = entry(f, 0, "Yoda", T0 + 2);
    assert(await d.claim(hans));
    assert(await d.claim(yoda));
    assertEquals(await d.lookup("Yoda"), yoda);
    assertEquals(await d.lookup("Leia"), undefined);
    assertEquals(await d.list(), [hans, yoda]);
  });

  test("a second claim of an online user is refused", 1, async (f) => {
    const [d] = f.directories;
    assert(await d.claim(entry(f, 0, "Yoda", T0)));
    assertEquals(await d.claim(entry(f, 0, "Yoda", T0 + 5)), false);
    assertEquals((await d.lookup("Yoda"))?.since, T0);
  });

  test("only the session that claimed a user releases them", 1, async (f) => {
    const [d] = f.directories;
    assert(await d.claim(entry(f, 0, "Yoda", T0)));
    await d.release("Yoda", T0 + 1);
    assertEquals((await d.lookup("Yoda"))?.since, T0, "another session's release changes nothing");
    await d.release("Yoda", T0);
    assertEquals(await d.lookup("Yoda"), undefined);
    assertEquals(await d.list(), []);
    assert(await d.claim(entry(f, 0, "Yoda", T0 + 9)), "a released user logs in again");
    await d.release("Leia", T0); // never online: no error
  });

  test("away text is set and cleared", 1, async (f) => {
    const [d] = f.directories;
    assert(await d.claim(entry(f, 0, "Yoda", T0)));
    await d.setAway("Yoda", "meditating");
    assertEquals((await d.lookup("Yoda"))?.away, "meditating");
    assertEquals((await d.list())[0].away, "meditating");
    await d.setAway("Yoda", undefined);
    assertEquals((await d.lookup("Yoda"))?.away, undefined);
    assert(!("away" in (await d.lookup("Yoda"))!));
    await d.setAway("Leia", "gone"); // offline: no error, no entry
    assertEquals(await d.lookup("Leia"), undefined);
  });

  test("of many claims of one user at once, exactly one wins", 1, async (f) => {
    const claims = Array.from(
      { length: 12 },
      (_, i) =>
        f.directories[i % f.directories.length].claim(
          entry(f, i % f.directories.length, "Yoda", T0 + i),
        ),
    );
    const won = (await Promise.all(claims)).filter((ok) => ok).length;
    assertEquals(won, 1);
  });

  test(
    "every node sees the same users online, and a claim on one is refused on another",
    3,
    async (f) => {
      const [a, b, c] = f.directories;
      assert(await a.claim(entry(f, 0, "Yoda", T0)));
      assert(await b.claim(entry(f, 1, "Hans", T0 + 1)));
      assert(await c.claim(entry(f, 2, "Leia", T0 + 2)));
      for (const d of f.directories) {
        assertEquals((await d.list()).map((e) => [e.user, e.node]), [
          ["Yoda", f.nodeNames[0]],
          ["Hans", f.nodeNames[1]],
          ["Leia", f.nodeNames[2]],
        ]);
      }
      assertEquals(await c.claim(entry(f, 2, "Yoda", T0 + 3)), false);
      await a.release("Yoda", T0);
      assert(await c.claim(entry(f, 2, "Yoda", T0 + 4)));
      assertEquals((await b.lookup("Yoda"))?.node, f.nodeNames[2]);
    },
  );
}

/**
 * The conformance suite of {@link Router}: events reach the sessions of the
 * users they are for, on whichever node holds them, in the order they were
 * sent, and never a session that has detached.
 *
 * @module
 */

import type { DeliverySink, Router } from "../../server/ports.ts";
import type { ServerEvent } from "../../shared/protocol.ts";
import { assert, assertEquals } from "../helpers/assert.ts";
import { portTest } from "./_suite.ts";

/** Routers on fresh, shared state: one per node. */
export interface RouterFixture {
  routers: Router[];
  /** Brings `user` online on node `node` with `sink` (claims them and attaches the sink). */
  online(node: number, user: string, sink: DeliverySink): Promise<void>;
  /** Takes `user` offline from node `node` (detaches the sink and releases them). */
  offline(node: number, user: string, sink: DeliverySink): Promise<void>;
  cleanup(): Promise<void>;
}

/** How a test file provides an implementation. */
export interface RouterFactory {
  skip?: string;
  maxNodes: number;
  open(nodes: number): Promise<RouterFixture>;
}

/** A sink that records what it is given. */
class Inbox implements DeliverySink {
  readonly events: ServerEvent[] = [];
  accepting = true;
  deliver(event: ServerEvent): boolean {
    if (this.accepting) this.events.push(event);
    return this.accepting;
  }
  texts(): string[] {
    return this.events.map((e) => e.ev === "notice" ? e.text : `(${e.ev})`);
  }
}

/** Waits until `check` holds (deliveries between nodes take a moment), at most 5 s. */
async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Lets events already on their way arrive. */
function settle(): Promise<void> {
  return new Promise((r) => setTimeout(r, 100));
}

const notice = (text: string): ServerEvent => ({ ev: "notice", text });

/** Registers the suite's tests for the implementation named `impl`. */
export function routerSuite(impl: string, factory: RouterFactory): void {
  const test = (name: string, nodes: number, fn: (f: RouterFixture) => Promise<void>) => {
    if (nodes <= factory.maxNodes) {
      portTest(impl, factory.skip, name, () => factory.open(nodes), fn);
    }
  };

  test(
    "an event reaches an online user's session, and an offline user's reaches no one",
    1,
    async (f) => {
      const [r] = f.routers;
      const yoda = new Inbox();
      await f.online(0, "Yoda", yoda);
      assertEquals(await r.toUser("Yoda", notice("hello")), true);
      assertEquals(await r.toUser("Hans", notice("lost")), false);
      await until(() => yoda.events.length === 1, "the event");
      assertEquals(yoda.events, [notice("hello")]);
    },
  );

  test("events to one user arrive in the order they were sent", 1, async (f) => {
    const [r] = f.routers;
    const yoda = new Inbox();
    await f.online(0, "Yoda", yoda);
    for (let i = 0; i < 50; i++) r.toUsers(["Yoda"], notice(`m${i}`));
    await until(() => yoda.events.length === 50, "50 events");
    assertEquals(yoda.texts(), Array.from({ length: 50 }, (_, i) => `m${i}`));
  });

  test("an event for many users reaches each online one but the sender, once", 1, async (f) => {
    const [r] = f.routers;
    const inboxes = new Map(["Yoda", "Hans", "Leia"].map((u) => [u, new Inbox()]));
    for (const [u, inbox] of inboxes) await f.online(0, u, inbox);
    const members = ["Yoda", "Hans", "Leia", "Luke"];
    r.toUsers(members, notice("g1"), "Yoda");
    r.toUsers(members, notice("g2"), "Yoda");
    await until(() => inboxes.get("Leia")!.events.length === 2, "both events");
    await settle();
    assertEquals(inboxes.get("Yoda")!.events, []);
    assertEquals(inboxes.get("Hans")!.texts(), ["g1", "g2"]);
    assertEquals(inboxes.get("Leia")!.texts(), ["g1", "g2"]);
  });

  test(
    "a detached session gets nothing, and a stale detach leaves the new session attached",
    1,
    async (f) => {
      const [r] = f.routers;
      const old = new Inbox();
      const fresh = new Inbox();
      await f.online(0, "Yoda", old);
      await f.offline(0, "Yoda", old);
      assertEquals(await r.toUser("Yoda", notice("nobody")), false);
      await f.online(0, "Yoda", fresh);
      r.detach("Yoda", old);
      assertEquals(await r.toUser("Yoda", notice("fresh")), true);
      await until(() => fresh.events.length === 1, "the event");
      await settle();
      assertEquals(old.events, []);
      assertEquals(fresh.texts(), ["fresh"]);
    },
  );

  test("an event reaches a user on another node", 2, async (f) => {
    const [a, b] = f.routers;
    const hans = new Inbox();
    await f.online(1, "Hans", hans);
    assertEquals(await a.toUser("Hans", notice("from A")), true);
    assertEquals(await b.toUser("Hans", notice("from B")), true);
    await until(() => hans.events.length === 2, "both events");
    assert(hans.texts().includes("from A") && hans.texts().includes("from B"));
  });

  test(
    "a group event reaches members on three nodes once each, in order per sender",
    3,
    async (f) => {
      const members = ["Yoda", "Hans", "Leia", "Luke", "Obiwan", "Rey"];
      const inboxes = members.map(() => new Inbox());
      for (let i = 0; i < members.length - 1; i++) await f.online(i % 3, members[i], inboxes[i]);
      // Rey stays offline.
      for (let i = 0; i < 30; i++) f.routers[0].toUsers(members, notice(`m${i}`), "Yoda");
      const expected = Array.from({ length: 30 }, (_, i) => `m${i}`);
      for (let i = 1; i < members.length - 1; i++) {
        await until(() => inboxes[i].events.length >= 30, `${members[i]}'s events`);
      }
      await settle();
      assertEquals(inboxes[0].events, [], "not the sender");
      for (let i = 1; i < members.length - 1; i++) assertEquals(inboxes[i].texts(), expected);
    },
  );

  test("a user who moves to another node gets events there only", 2, async (f) => {
    const [a] = f.routers;
    const first = new Inbox();
    const second = new Inbox();
    await f.online(1, "Hans", first);
    await f.offline(1, "Hans", first);
    await f.online(0, "Hans", second);
    assertEquals(await a.toUser("Hans", notice("here")), true);
    f.routers[1].toUsers(["Hans"], notice("also here"));
    await until(() => second.events.length === 2, "both events");
    await settle();
    assertEquals(first.events, []);
  });
}

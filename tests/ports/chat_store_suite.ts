/**
 * The conformance suite of {@link ChatStore}: what every implementation
 * (SQLite on one node, PostgreSQL in a cluster) must do, written against the
 * interface only. A test file calls {@link chatStoreSuite} with a factory.
 *
 * @module
 */

import type { ChatStore } from "../../server/ports.ts";
import { assert, assertEquals } from "../helpers/assert.ts";
import { portTest } from "./_suite.ts";

/** One store on fresh, empty data. */
export interface StoreFixture {
  store: ChatStore;
  /** Closes the store and opens a new one on the same data (a restart). */
  reopen(): Promise<ChatStore>;
  /** Closes what is open and removes the data. */
  cleanup(): Promise<void>;
}

/** How a test file provides an implementation. */
export interface StoreFactory {
  /** Why the implementation cannot run here: every test is skipped, saying why. */
  skip?: string;
  open(): Promise<StoreFixture>;
}

const T0 = 1_700_000_000_000;

/** Registers the suite's tests for the implementation named `impl`. */
export function chatStoreSuite(impl: string, factory: StoreFactory): void {
  const test = (name: string, fn: (f: StoreFixture) => Promise<void>) =>
    portTest(impl, factory.skip, name, () => factory.open(), fn);

  const users = async (store: ChatStore, ...names: string[]) => {
    for (const name of names) await store.setPasswordHash(name, `hash-${name}`, T0);
  };

  test("a password hash is stored and replaced, and users are listed by name", async ({ store }) => {
    assertEquals(await store.getPasswordHash("Yoda"), undefined);
    assertEquals(await store.userExists("Yoda"), false);
    await users(store, "Yoda", "Hans", "Leia");
    await store.setPasswordHash("Yoda", "new-hash", T0 + 1);
    assertEquals(await store.getPasswordHash("Yoda"), "new-hash");
    assertEquals(await store.userExists("Yoda"), true);
    assertEquals(await store.userExists("yoda"), false, "userExists takes the exact spelling");
    assertEquals(await store.listUsers(), ["Hans", "Leia", "Yoda"]);
  });

  test("names are looked up case-insensitively and give the canonical spelling", async ({ store }) => {
    await users(store, "Yoda", "Hans");
    assert(await store.createGroup("Rebels", "Yoda", ["Hans"], T0));
    assertEquals(await store.lookupName("yODA"), { kind: "user", name: "Yoda" });
    assertEquals(await store.lookupName("REBELS"), { kind: "group", name: "Rebels" });
    assertEquals(await store.lookupName("Empire"), undefined);
    assertEquals((await store.getGroup("rebels"))?.name, "Rebels");
  });

  test("users and groups share one namespace, compared case-insensitively", async ({ store }) => {
    await users(store, "Yoda", "Hans");
    assertEquals(await store.createGroup("yoda", "Hans", ["Yoda"], T0), false);
    assert(await store.createGroup("Rebels", "Yoda", ["Hans"], T0));
    assertEquals(await store.createGroup("rebels", "Hans", ["Yoda"], T0), false);
    assertEquals(await store.listGroups(), ["Rebels"]);
    await assertRejects(() => store.setPasswordHash("REBELS", "h", T0));
    await assertRejects(() => store.setPasswordHash("yoda", "h", T0));
    assertEquals(await store.listUsers(), ["Hans", "Yoda"]);
  });

  test("private messages are numbered 1..n in the log and 1..n per receiver's inbox", async ({ store }) => {
    await users(store, "Yoda", "Hans", "Leia");
    const sent = [];
    for (const [sender, receiver] of [["Yoda", "Hans"], ["Leia", "Hans"], ["Hans", "Yoda"]]) {
      sent.push(
        await store.addPrivateMessage({ at: T0, sender, receiver, text: `to ${receiver}` }),
      );
    }
    assertEquals(sent.map((m) => [m.seq, m.n]), [[1, 1], [2, 2], [3, 1]]);
    assertEquals(sent[0], {
      seq: 1,
      n: 1,
      at: T0,
      sender: "Yoda",
      receiver: "Hans",
      text: "to Hans",
    });
    assertEquals((await store.inbox("Hans", 0, 10)).map((m) => [m.n, m.sender]), [[1, "Yoda"], [
      2,
      "Leia",
    ]]);
    assertEquals((await store.inbox("Hans", 1, 10)).map((m) => m.n), [2]);
    assertEquals((await store.inbox("Hans", 0, 1)).map((m) => m.n), [1]);
    assertEquals(await store.inbox("Leia", 0, 10), []);
  });

  test("concurrent private messages get distinct numbers without gaps", async ({ store }) => {
    await users(store, "Yoda", "Hans", "Leia");
    const sent = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        store.addPrivateMessage({
          at: T0 + i,
          sender: "Yoda",
          receiver: i % 3 === 0 ? "Leia" : "Hans",
          text: `m${i}`,
        })),
    );
    assertEquals(sent.map((m) => m.seq).sort((a, b) => a - b), range(1, 60));
    const hans = sent.filter((m) => m.receiver === "Hans").map((m) => m.n).sort((a, b) => a - b);
    assertEquals(hans, range(1, 40));
    const inbox = await store.inbox("Hans", 0, 100);
    assertEquals(inbox.map((m) => m.n), range(1, 40));
    // Inbox order is log order for one receiver.
    assertEquals(inbox.map((m) => m.seq), [...inbox.map((m) => m.seq)].sort((a, b) => a - b));
  });

  test("private history is the last N between two users either way, oldest first, pageable", async ({ store }) => {
    await users(store, "Yoda", "Hans", "Leia");
    for (let i = 1; i <= 6; i++) {
      await store.addPrivateMessage({
        at: T0 + i,
        sender: i % 2 ? "Yoda" : "Hans",
        receiver: i % 2 ? "Hans" : "Yoda",
        text: `pair ${i}`,
      });
      await store.addPrivateMessage({
        at: T0 + i,
        sender: "Leia",
        receiver: "Hans",
        text: `other ${i}`,
      });
    }
    const last3 = await store.privateHistory("Hans", "Yoda", 3);
    assertEquals(last3.map((m) => m.text), ["pair 4", "pair 5", "pair 6"]);
    const before = await store.privateHistory("Yoda", "Hans", 2, last3[0].seq);
    assertEquals(before.map((m) => m.text), ["pair 2", "pair 3"]);
    assertEquals(await store.privateHistory("Yoda", "Leia", 5), []);
  });

  test("a new group has its creator joined and the invitees invited by them", async ({ store }) => {
    await users(store, "Yoda", "Hans", "Leia");
    assert(await store.createGroup("Rebels", "Yoda", ["Hans", "Leia"], T0));
    const g = await store.getGroup("Rebels");
    assert(g);
    assertEquals(g.name, "Rebels");
    assertEquals(g.creator, "Yoda");
    assertEquals(g.createdAt, T0);
    assertEquals(g.lastSeq, 0);
    assertEquals(g.topic, undefined);
    assertEquals(sorted(g.members), [["Hans", "invited"], ["Leia", "invited"], ["Yoda", "joined"]]);
    assertEquals(sorted(g.invitedBy), [["Hans", "Yoda"], ["Leia", "Yoda"]]);
    assertEquals(g.joined, ["Yoda"]);
    assertEquals(await store.groupsOf("Hans"), [{
      group: "Rebels",
      state: "invited",
      invitedBy: "Yoda",
    }]);
    assertEquals(await store.groupsOf("Yoda"), [{ group: "Rebels", state: "joined" }]);
    assertEquals(await store.getGroup("Empire"), undefined);
  });

  test("joining, inviting and leaving change the members", async ({ store }) => {
    await users(store, "Yoda", "Hans", "Leia", "Luke");
    assert(await store.createGroup("Rebels", "Yoda", ["Hans", "Leia"], T0));
    await store.join("Rebels", "Leia");
    await store.join("rebels", "Hans");
    await store.invite("Rebels", "Luke", "Leia");
    await store.invite("Rebels", "Hans", "Leia"); // already a member: no change
    let g = (await store.getGroup("Rebels"))!;
    assertEquals([...g.joined].sort(), ["Hans", "Leia", "Yoda"]);
    assertEquals(g.members.get("Luke"), "invited");
    assertEquals(g.invitedBy.get("Luke"), "Leia");
    assertEquals(await store.leave("Rebels", "Hans"), true);
    assertEquals(await store.leave("Rebels", "Hans"), false);
    assertEquals(await store.leave("Rebels", "Luke"), true, "an invitation can be declined");
    g = (await store.getGroup("Rebels"))!;
    assertEquals([...g.joined].sort(), ["Leia", "Yoda"]);
    assertEquals([...g.members.keys()].sort(), ["Leia", "Yoda"]);
    assertEquals(await store.groupsOf("Hans"), []);
  });

  test("a group's joined list is the same array until its members change", async ({ store }) => {
    await users(store, "Yoda", "Hans");
    assert(await store.createGroup("Rebels", "Yoda", ["Hans"], T0));
    const first = (await store.getGroup("Rebels"))!.joined;
    await store.addGroupMessage({ group: "Rebels", at: T0, sender: "Yoda", text: "hi" });
    assert((await store.getGroup("Rebels"))!.joined === first, "unchanged members, same array");
    await store.join("Rebels", "Hans");
    const after = (await store.getGroup("Rebels"))!.joined;
    assertEquals([...after].sort(), ["Hans", "Yoda"]);
    assert(after !== first, "new members, new array");
  });

  test("group messages are numbered 1..n per group and read after a seq or before one", async ({ store }) => {
    await users(store, "Yoda", "Hans");
    assert(await store.createGroup("Rebels", "Yoda", ["Hans"], T0));
    assert(await store.createGroup("Jedi", "Yoda", ["Hans"], T0));
    const sent = await Promise.all(
      Array.from(
        { length: 20 },
        (_, i) =>
          store.addGroupMessage({ group: "Rebels", at: T0 + i, sender: "Yoda", text: `r${i}` }),
      ),
    );
    const jedi = await store.addGroupMessage({ group: "jedi", at: T0, sender: "Yoda", text: "j" });
    assertEquals(sent.map((m) => m.seq), range(1, 20));
    assertEquals(sent[3], { group: "Rebels", seq: 4, at: T0 + 3, sender: "Yoda", text: "r3" });
    assertEquals([jedi.group, jedi.seq], ["Jedi", 1]);
    assertEquals((await store.getGroup("Rebels"))!.lastSeq, 20);
    assertEquals((await store.groupMessages("Rebels", 17, 10)).map((m) => m.seq), [18, 19, 20]);
    assertEquals((await store.groupMessages("Rebels", 0, 2)).map((m) => m.text), ["r0", "r1"]);
    assertEquals((await store.groupHistory("Rebels", 3)).map((m) => m.seq), [18, 19, 20]);
    assertEquals((await store.groupHistory("Rebels", 2, 5)).map((m) => m.seq), [3, 4]);
    await assertRejects(() =>
      store.addGroupMessage({ group: "Empire", at: T0, sender: "Yoda", text: "x" })
    );
  });

  test("a member who joins starts reading at the group's newest message", async ({ store }) => {
    await users(store, "Yoda", "Hans");
    assert(await store.createGroup("Rebels", "Yoda", ["Hans"], T0));
    for (let i = 0; i < 3; i++) {
      await store.addGroupMessage({ group: "Rebels", at: T0, sender: "Yoda", text: `m${i}` });
    }
    await store.join("Rebels", "Hans");
    const cursors = await store.cursors("Hans");
    assertEquals(cursors.inbox, 0);
    assertEquals([...cursors.groups], [["Rebels", 3]]);
    assertEquals([...(await store.cursors("Yoda")).groups], [["Rebels", 0]]);
  });

  test("cursors move forward only", async ({ store }) => {
    await users(store, "Yoda", "Hans");
    assert(await store.createGroup("Rebels", "Yoda", ["Hans"], T0));
    for (let i = 0; i < 5; i++) {
      await store.addPrivateMessage({ at: T0, sender: "Hans", receiver: "Yoda", text: `p${i}` });
      await store.addGroupMessage({ group: "Rebels", at: T0, sender: "Hans", text: `g${i}` });
    }
    await store.saveCursors("Yoda", 4, [["Rebels", 3]]);
    await store.saveCursors("Yoda", 2, [["Rebels", 1]]);
    await store.saveCursors("Yoda", undefined, []);
    let c = await store.cursors("Yoda");
    assertEquals([c.inbox, [...c.groups]], [4, [["Rebels", 3]]]);
    await store.saveCursors("Yoda", undefined, [["Rebels", 5]]);
    c = await store.cursors("Yoda");
    assertEquals([c.inbox, [...c.groups]], [4, [["Rebels", 5]]]);
    assertEquals((await store.inbox("Yoda", c.inbox, 10)).map((m) => m.text), ["p4"]);
  });

  test("a topic and metadata are stored", async ({ store }) => {
    await users(store, "Yoda", "Hans");
    assert(await store.createGroup("Rebels", "Yoda", ["Hans"], T0));
    await store.setTopic("Rebels", "Hope");
    assertEquals((await store.getGroup("Rebels"))!.topic, "Hope");
    assertEquals(await store.getMeta("k"), undefined);
    await store.setMeta("k", "v1");
    await store.setMeta("k", "v2");
    assertEquals(await store.getMeta("k"), "v2");
  });

  test("writes are counted and reads are not", async ({ store }) => {
    await users(store, "Yoda", "Hans");
    const before = store.writes;
    await store.listUsers();
    await store.getGroup("Rebels");
    await store.inbox("Yoda", 0, 10);
    assertEquals(store.writes, before);
    await store.addPrivateMessage({ at: T0, sender: "Yoda", receiver: "Hans", text: "x" });
    assert(store.writes > before);
  });

  test("everything acknowledged survives a restart, and numbering goes on", async (fixture) => {
    let store = fixture.store;
    await users(store, "Yoda", "Hans");
    assert(await store.createGroup("Rebels", "Yoda", ["Hans"], T0));
    await store.join("Rebels", "Hans");
    await store.addPrivateMessage({ at: T0, sender: "Yoda", receiver: "Hans", text: "one" });
    await store.addGroupMessage({ group: "Rebels", at: T0, sender: "Yoda", text: "g1" });
    await store.saveCursors("Hans", 1, [["Rebels", 1]]);
    await store.setMeta("k", "v");
    const epoch = store.epoch;
    await store.barrier();
    assertEquals(store.lost(epoch), false);
    store = await fixture.reopen();
    assertEquals(await store.getPasswordHash("Hans"), "hash-Hans");
    assertEquals(await store.getMeta("k"), "v");
    assertEquals([...(await store.getGroup("rebels"))!.joined].sort(), ["Hans", "Yoda"]);
    const c = await store.cursors("Hans");
    assertEquals([c.inbox, [...c.groups]], [1, [["Rebels", 1]]]);
    const p = await store.addPrivateMessage({
      at: T0,
      sender: "Hans",
      receiver: "Yoda",
      text: "two",
    });
    assertEquals([p.seq, p.n], [2, 1]);
    const g = await store.addGroupMessage({ group: "Rebels", at: T0, sender: "Hans", text: "g2" });
    assertEquals(g.seq, 2);
    assertEquals((await store.groupHistory("Rebels", 10)).map((m) => m.text), ["g1", "g2"]);
  });
}

/** A map's entries in key order. */
function sorted<V>(map: ReadonlyMap<string, V>): [string, V][] {
  return [...map].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

async function assertRejects(fn: () => Promise<unknown>): Promise<void> {
  let threw = false;
  try {
    await fn();
  } catch {
    threw = true;
  }
  assert(threw, "expected a rejection");
}

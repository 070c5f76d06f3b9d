import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import {
  loginConnection,
  logoutConnection,
  startTestServer,
  tickingClock,
} from "../helpers/test_server.ts";
import { SqliteStore } from "../../server/store.ts";

Deno.test("/history USER shows the private messages both ways, oldest first", async () => {
  const s = await startTestServer({ clock: tickingClock() });
  const yoda = await loginConnection(s, "Yoda");
  const hans = await loginConnection(s, "Hans");
  try {
    await yoda.conn.request("msgto", ["Hans", "one"]);
    await hans.conn.request("msgto", ["Yoda", "two"]);
    await yoda.conn.request("msgto", ["Luke", "not with Hans"]);
    await yoda.conn.request("msgto", ["Hans", "three  spaced"]);

    const res = await yoda.conn.request("history", ["Hans"]);
    assert(res.ok);
    assertEquals(res.lines[0], "Last 3 messages with Hans:");
    assertMatch(res.lines[1], /^\d\d \w{3} \d{4} \d\d:\d\d:\d\d, Yoda: one$/);
    assertMatch(res.lines[2], /, Hans: two$/);
    assertMatch(res.lines[3], /, Yoda: three {2}spaced$/);
    const data = res.data as { kind: string; messages: { from: string; to: string }[] };
    assertEquals(data.kind, "user");
    assertEquals(data.messages.map((m) => `${m.from}>${m.to}`), [
      "Yoda>Hans",
      "Hans>Yoda",
      "Yoda>Hans",
    ]);

    const last2 = await hans.conn.request("history", ["Yoda", "2"]);
    assertEquals(last2.lines.length, 3);
    assertMatch(last2.lines[1], /, Hans: two$/);
    const last1 = await hans.conn.request("history", ["Yoda", "1"]);
    assertEquals(last1.lines[0], "Last message with Yoda:");

    const none = await hans.conn.request("history", ["Luke"]);
    assertEquals(none.lines, ["No messages with Luke yet."]);
  } finally {
    await logoutConnection(yoda);
    await logoutConnection(hans);
    await s.close();
  }
});

Deno.test("/history checks its count, its target and membership", async () => {
  const s = await startTestServer({ clock: tickingClock() });
  const yoda = await loginConnection(s, "Yoda");
  const hans = await loginConnection(s, "Hans");
  const luke = await loginConnection(s, "Luke");
  try {
    const codes = async (args: string[]) => {
      const r = await yoda.conn.request("history", args);
      return [r.ok, r.code, r.lines.join("|")];
    };
    assertEquals(await codes(["Hans", "0"]), [
      false,
      "bad_count",
      'Invalid count "0": expected a number from 1 to 200.',
    ]);
    assertEquals((await codes(["Hans", "x"]))[1], "bad_count");
    assertEquals((await codes(["Hans", "5000"]))[0], true);
    assertEquals(await codes(["Nobody"]), [
      false,
      "unknown_target",
      "No user or group named Nobody.",
    ]);
    assertEquals((await codes(["Yoda"]))[1], "self");
    assertEquals((await codes(["Hans", "1", "2"]))[1], "usage");
    assertEquals((await codes([]))[1], "usage");

    await hans.conn.request("creategroup", ["Jedi", "Luke"]);
    assertEquals(await codes(["Jedi"]), [false, "not_member", "You are not in this group chat."]);
    const invited = await luke.conn.request("history", ["Jedi"]);
    assertEquals(invited.code, "not_joined");
  } finally {
    for (const c of [yoda, hans, luke]) await logoutConnection(c);
    await s.close();
  }
});

Deno.test("/history GROUP shows the last N group messages to a joined member", async () => {
  const s = await startTestServer({ clock: tickingClock() });
  const yoda = await loginConnection(s, "Yoda");
  const hans = await loginConnection(s, "Hans");
  try {
    await yoda.conn.request("creategroup", ["Jedi", "Hans"]);
    const empty = await yoda.conn.request("history", ["Jedi"]);
    assertEquals(empty.lines, ["No messages in Jedi yet."]);
    await hans.conn.request("joingroup", ["Jedi"]);
    for (let i = 1; i <= 25; i++) {
      await (i % 2 ? yoda : hans).conn.request("groupmsg", ["Jedi", `m${i}`]);
    }
    const res = await hans.conn.request("history", ["Jedi"]);
    assertEquals(res.lines.length, 21);
    assertEquals(res.lines[0], "Last 20 messages in Jedi:");
    assertMatch(res.lines[1], /, Jedi, Hans: m6$/);
    assertMatch(res.lines[20], /, Jedi, Yoda: m25$/);
    const three = await hans.conn.request("history", ["Jedi", "3"]);
    const data = three.data as { kind: string; messages: { seq: number; text: string }[] };
    assertEquals(data.kind, "group");
    assertEquals(data.messages.map((m) => [m.seq, m.text]), [[23, "m23"], [24, "m24"], [
      25,
      "m25",
    ]]);
  } finally {
    await logoutConnection(yoda);
    await logoutConnection(hans);
    await s.close();
  }
});

Deno.test("/groups lists joined groups and invitations", async () => {
  const s = await startTestServer({ clock: tickingClock() });
  const yoda = await loginConnection(s, "Yoda");
  const hans = await loginConnection(s, "Hans");
  const luke = await loginConnection(s, "Luke");
  try {
    assertEquals((await hans.conn.request("groups")).lines, [
      "You are in no group chat and have no invitations.",
    ]);
    await yoda.conn.request("creategroup", ["Jedi", "Hans", "Luke"]);
    await luke.conn.request("creategroup", ["Rebels", "Hans"]);
    await hans.conn.request("joingroup", ["Rebels"]);
    const res = await hans.conn.request("groups");
    assertEquals(res.lines, [
      "Jedi: invited by Yoda, type /joingroup Jedi to join",
      "Rebels: joined, members: Hans Luke",
    ]);
    assertEquals(res.data, {
      groups: [
        { group: "Jedi", state: "invited", creator: "Yoda", members: ["Yoda"] },
        { group: "Rebels", state: "joined", creator: "Luke", members: ["Hans", "Luke"] },
      ],
    });
  } finally {
    for (const c of [yoda, hans, luke]) await logoutConnection(c);
    await s.close();
  }
});

Deno.test("/leavegroup removes the membership and leaves the group log untouched", async () => {
  const s = await startTestServer({ clock: tickingClock() });
  const yoda = await loginConnection(s, "Yoda");
  const hans = await loginConnection(s, "Hans");
  try {
    await yoda.conn.request("creategroup", ["Jedi", "Hans"]);
    await hans.conn.request("joingroup", ["Jedi"]);
    await hans.conn.request("groupmsg", ["Jedi", "hello"]);
    const logBefore = s.read("Jedi_messagelog.txt");

    const left = await hans.conn.request("leavegroup", ["Jedi"]);
    assertEquals([left.ok, left.lines], [true, ["You have left the group chat Jedi."]]);
    const notice = await yoda.nextPush("notice");
    assertEquals(notice, { t: "push", ev: "notice", text: "Hans left the group chat Jedi." });

    const after = await hans.conn.request("groupmsg", ["Jedi", "still here?"]);
    assertEquals([after.ok, after.lines], [false, ["You are not in this group chat."]]);
    const again = await hans.conn.request("leavegroup", ["Jedi"]);
    assertEquals(again.lines, ["You are not in this group chat."]);
    const none = await hans.conn.request("leavegroup", ["Sith"]);
    assertEquals(none.lines, ["Groupchat Sith doesn't exist."]);
    assertEquals(s.read("Jedi_messagelog.txt"), logBefore);
    assertEquals((await hans.conn.request("groups")).data, { groups: [] });
    const yodaGroups = (await yoda.conn.request("groups")).lines;
    assertEquals(yodaGroups, ["Jedi: joined, members: Yoda"]);
  } finally {
    await logoutConnection(yoda);
    await logoutConnection(hans);
    await s.close();
  }
});

/** Runs `fn` with the path of a database file in a fresh temp dir, removed afterwards. */
async function withStorePath(fn: (path: string) => void | Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tessenger-store-test-" });
  try {
    await fn(`${dir}/t.db`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("SqliteStore migrates a version-1 database and adds the history indexes", async () => {
  await withStorePath(async (path) => {
    const store = new SqliteStore(path);
    store.setPasswordHash("a", "h", 1);
    store.setPasswordHash("b", "h", 1);
    for (let i = 0; i < 5; i++) {
      store.addPrivateMessage({
        at: i,
        sender: i % 2 ? "a" : "b",
        receiver: i % 2 ? "b" : "a",
        text: `t${i}`,
        delivered: true,
      });
    }
    store.addPrivateMessage({ at: 9, sender: "a", receiver: "c", text: "other", delivered: true });
    assertEquals(store.privateHistory("a", "b", 3).map((m) => m.text), ["t2", "t3", "t4"]);
    assertEquals(store.privateHistory("b", "a", 10).length, 5);
    store.createGroup("G", "a", ["b"], 1);
    assertEquals(store.groupsOf("b"), [{ group: "G", state: "invited" }]);
    assert(store.removeMembership("G", "b"));
    assert(!store.removeMembership("G", "b"));
    store.close();

    // Turn the file back into a version-1 database, then let the store migrate it.
    const { DatabaseSync } = await import("node:sqlite");
    const v1 = new DatabaseSync(path);
    v1.exec("DROP INDEX private_pair; DROP INDEX memberships_by_user; PRAGMA user_version = 1");
    v1.close();
    const reopened = new SqliteStore(path);
    assertEquals(reopened.privateHistory("a", "b", 1).map((m) => m.text), ["t4"]);
    reopened.close();

    const db = new DatabaseSync(path);
    const names = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'index'").all() as {
      name: string;
    }[]).map((r) => r.name);
    const version = db.prepare("PRAGMA user_version").get() as { user_version: number };
    db.close();
    assert(names.includes("private_pair") && names.includes("memberships_by_user"));
    assertEquals(Number(version.user_version), 2);
  });
});

Deno.test("SqliteStore numbers a burst of group messages 1..n and keeps counting after a reopen", async () => {
  await withStorePath((path) => {
    const store = new SqliteStore(path);
    store.setPasswordHash("a", "h", 1);
    store.setPasswordHash("b", "h", 1);
    store.createGroup("G", "a", ["b"], 1);
    store.createGroup("H", "b", ["a"], 1);
    store.commit();
    // 150 in one group of writes: more than one multi-row insert, and a remainder.
    const seqs: number[] = [];
    for (let i = 0; i < 150; i++) {
      seqs.push(store.addGroupMessage({ group: "G", at: i, sender: "a", text: `g${i}` }).seq);
      if (i % 50 === 0) store.addGroupMessage({ group: "H", at: i, sender: "b", text: `h${i}` });
    }
    assertEquals(seqs, Array.from({ length: 150 }, (_, i) => i + 1));
    // A read sees the messages not yet committed.
    assertEquals(store.groupHistory("G", 2).map((m) => m.text), ["g148", "g149"]);
    store.addGroupMessage({ group: "G", at: 200, sender: "a", text: "last" });
    store.close();

    const reopened = new SqliteStore(path);
    assertEquals([...reopened.groupMessages("G")].map((m) => m.seq), seqs.concat(151));
    assertEquals([...reopened.groupMessages("H")].map((m) => m.text), ["h0", "h50", "h100"]);
    assertEquals(
      reopened.addGroupMessage({ group: "G", at: 300, sender: "b", text: "x" }).seq,
      152,
    );
    assertEquals(reopened.addGroupMessage({ group: "H", at: 300, sender: "b", text: "y" }).seq, 4);
    let failed = false;
    try {
      reopened.addGroupMessage({ group: "nope", at: 1, sender: "a", text: "z" });
    } catch {
      failed = true;
    }
    assert(failed, "a message to a missing group is refused");
    reopened.close();
  });
});

Deno.test("SqliteStore.checkpointInBackground() copies the WAL into the database off the commit path", async () => {
  await withStorePath(async (path) => {
    const store = new SqliteStore(path);
    store.checkpointInBackground(20);
    store.setPasswordHash("a", "h", 1);
    store.createGroup("G", "a", [], 1);
    const before = Deno.statSync(path).size;
    // About 100 pages: below the 1000 at which a COMMIT would checkpoint itself.
    for (let i = 0; i < 1000; i++) {
      store.addGroupMessage({ group: "G", at: i, sender: "a", text: "x".repeat(300) });
    }
    store.commit();
    // Only the worker can have grown the database file. Waits as long as other
    // tests' replies may take (no speed is asserted).
    for (let i = 0; i < 1500 && Deno.statSync(path).size <= before; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert(Deno.statSync(path).size > before, "the worker checkpointed the WAL");
    store.close();
    const reopened = new SqliteStore(path);
    assertEquals([...reopened.groupMessages("G")].length, 1000);
    reopened.close();
  });
});

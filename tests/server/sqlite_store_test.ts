/**
 * The embedded store's own behaviour beyond the ChatStore contract: schema
 * migrations, group-commit numbering, the background checkpointer.
 */

import { DatabaseSync } from "node:sqlite";
import { assert, assertEquals, assertRejects } from "../helpers/assert.ts";
import { SCHEMA_VERSION, SqliteStore } from "../../server/local/sqlite_store.ts";

async function withStorePath(fn: (path: string) => void | Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tessenger-store-" });
  try {
    await fn(`${dir}/t.db`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A version-2 database (the schema before delivery cursors) with some rows. */
function writeVersion2(path: string): void {
  const db = new DatabaseSync(path);
  db.exec(`
    CREATE TABLE users (name TEXT PRIMARY KEY, password_hash TEXT NOT NULL, updated_at INTEGER NOT NULL);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE private_messages (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, sender TEXT NOT NULL,
      receiver TEXT NOT NULL, text TEXT NOT NULL, delivered INTEGER NOT NULL DEFAULT 0);
    CREATE INDEX private_undelivered ON private_messages (receiver) WHERE delivered = 0;
    CREATE TABLE groups (name TEXT PRIMARY KEY, creator TEXT NOT NULL, created_at INTEGER NOT NULL,
      last_seq INTEGER NOT NULL DEFAULT 0);
    CREATE TABLE memberships (group_name TEXT NOT NULL REFERENCES groups (name), user TEXT NOT NULL,
      state TEXT NOT NULL CHECK (state IN ('invited', 'joined')), PRIMARY KEY (group_name, user));
    CREATE TABLE group_messages (group_name TEXT NOT NULL REFERENCES groups (name), seq INTEGER NOT NULL,
      at INTEGER NOT NULL, sender TEXT NOT NULL, text TEXT NOT NULL, PRIMARY KEY (group_name, seq));
    CREATE INDEX private_pair ON private_messages (sender, receiver, seq);
    CREATE INDEX memberships_by_user ON memberships (user, group_name);
    INSERT INTO users VALUES ('a', 'h', 1), ('b', 'h', 2), ('Hans', 'h', 3);
    -- To b: 1 and 2 delivered, 3 not, 4 delivered (shown again: it follows an undelivered one).
    INSERT INTO private_messages (at, sender, receiver, text, delivered) VALUES
      (1, 'a', 'b', 'p1', 1), (2, 'a', 'b', 'p2', 1), (3, 'b', 'a', 'to a', 1),
      (4, 'a', 'b', 'p3', 0), (5, 'a', 'b', 'p4', 1);
    INSERT INTO groups VALUES ('rebels', 'a', 1, 2), ('Rebels', 'b', 2, 0), ('hans', 'a', 3, 0);
    INSERT INTO memberships VALUES ('rebels', 'a', 'joined'), ('rebels', 'b', 'invited'),
      ('Rebels', 'b', 'joined'), ('hans', 'a', 'joined');
    INSERT INTO group_messages VALUES ('rebels', 1, 1, 'a', 'g1'), ('rebels', 2, 2, 'a', 'g2');
    PRAGMA user_version = 2;`);
  db.close();
}

Deno.test("SqliteStore migrates delivered flags to inbox numbers and cursors", async () => {
  await withStorePath(async (path) => {
    writeVersion2(path);
    const store = new SqliteStore(path);
    try {
      const inbox = await store.inbox("b", 0, 10);
      assertEquals(inbox.map((m) => [m.seq, m.n, m.text]), [
        [1, 1, "p1"],
        [2, 2, "p2"],
        [4, 3, "p3"],
        [5, 4, "p4"],
      ]);
      const cursors = await store.cursors("b");
      assertEquals(
        cursors.inbox,
        2,
        "everything up to the first undelivered message was delivered",
      );
      assertEquals((await store.cursors("a")).groups.get("rebels"), 2);
      // The next message to b continues the inbox numbering and the log numbering.
      const m = await store.addPrivateMessage({ at: 9, sender: "a", receiver: "b", text: "new" });
      assertEquals([m.seq, m.n], [6, 5]);
      assertEquals((await store.groupsOf("b")).find((g) => g.group === "rebels")?.invitedBy, "a");
    } finally {
      store.closeSync();
    }
  });
});

Deno.test("SqliteStore gives names taken twice (case aside, or by a user) a fresh one when it migrates", async () => {
  await withStorePath(async (path) => {
    writeVersion2(path);
    const store = new SqliteStore(path);
    try {
      assertEquals((await store.listGroups()).sort(), ["Rebels2", "hans2", "rebels"]);
      assertEquals((await store.getGroup("REBELS"))?.name, "rebels");
      assertEquals((await store.getGroup("rebels2"))?.members.get("b"), "joined");
      assertEquals(await store.lookupName("HANS"), { kind: "user", name: "Hans" });
      assertEquals(await store.getMeta("renamed_group:Rebels"), "Rebels2");
      assert(!(await store.createGroup("REBELS", "a", ["b"], 9)), "taken, whatever the case");
      assert(!(await store.createGroup("hans", "a", ["b"], 9)), "taken by a user");
    } finally {
      store.closeSync();
    }
    const db = new DatabaseSync(path);
    const version = db.prepare("PRAGMA user_version").get() as { user_version: number };
    db.close();
    assertEquals(Number(version.user_version), SCHEMA_VERSION);
  });
});

Deno.test("SqliteStore numbers a burst of group messages 1..n and keeps counting after a reopen", async () => {
  await withStorePath(async (path) => {
    const store = new SqliteStore(path);
    await store.setPasswordHash("a", "h", 1);
    await store.setPasswordHash("b", "h", 1);
    await store.createGroup("G", "a", ["b"], 1);
    await store.createGroup("H", "b", ["a"], 1);
    store.barrier();
    // 150 in one group of writes: more than one multi-row insert, and a remainder.
    const seqs: number[] = [];
    for (let i = 0; i < 150; i++) {
      seqs.push(
        (await store.addGroupMessage({ group: "G", at: i, sender: "a", text: `g${i}` })).seq,
      );
      if (i % 50 === 0) {
        await store.addGroupMessage({ group: "H", at: i, sender: "b", text: `h${i}` });
      }
    }
    assertEquals(seqs, Array.from({ length: 150 }, (_, i) => i + 1));
    // A read sees the messages not yet committed.
    assertEquals((await store.groupHistory("G", 2)).map((m) => m.text), ["g148", "g149"]);
    await store.addGroupMessage({ group: "G", at: 200, sender: "a", text: "last" });
    store.closeSync();

    const reopened = new SqliteStore(path);
    assertEquals([...reopened.allGroupMessages("G")].map((m) => m.seq), seqs.concat(151));
    assertEquals((await reopened.groupMessages("H", 0, 10)).map((m) => m.text), [
      "h0",
      "h50",
      "h100",
    ]);
    assertEquals(
      (await reopened.addGroupMessage({ group: "G", at: 300, sender: "b", text: "x" })).seq,
      152,
    );
    assertEquals(
      (await reopened.addGroupMessage({ group: "h", at: 300, sender: "b", text: "y" })).seq,
      4,
    );
    await assertRejects(() =>
      reopened.addGroupMessage({ group: "nope", at: 1, sender: "a", text: "z" })
    );
    reopened.closeSync();
  });
});

Deno.test("SqliteStore.checkpointInBackground() copies the WAL into the database off the commit path", async () => {
  await withStorePath(async (path) => {
    const store = new SqliteStore(path);
    store.checkpointInBackground(20);
    await store.setPasswordHash("a", "h", 1);
    await store.setPasswordHash("b", "h", 1);
    await store.createGroup("G", "a", ["b"], 1);
    store.barrier();
    const before = Deno.statSync(path).size;
    // About 100 pages: below the 1000 at which a COMMIT would checkpoint itself.
    for (let i = 0; i < 1000; i++) {
      await store.addGroupMessage({ group: "G", at: i, sender: "a", text: "x".repeat(300) });
    }
    store.barrier();
    // Only the worker can have grown the database file. Waits as long as other
    // tests' replies may take (no speed is asserted).
    for (let i = 0; i < 1500 && Deno.statSync(path).size <= before; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert(Deno.statSync(path).size > before, "the worker checkpointed the WAL");
    store.closeSync();
    const reopened = new SqliteStore(path);
    assertEquals([...reopened.allGroupMessages("G")].length, 1000);
    reopened.closeSync();
  });
});

/**
 * MessageLogs.reconcile(): the database is authoritative, and at start a text
 * log that a crash left behind it is repaired — but a log that holds lines the
 * database does not is never cut to match.
 */

import { assertEquals, assertRejects } from "../helpers/assert.ts";
import { SqliteStore } from "../../server/local/sqlite_store.ts";
import {
  groupLogLine,
  LogMismatchError,
  MessageLogs,
  privateLogLine,
} from "../../server/text_logs.ts";

async function withStore(
  fn: (dir: string, store: SqliteStore, logs: MessageLogs) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tessenger-reconcile-" });
  const logs = new MessageLogs(dir);
  const store = new SqliteStore(`${dir}/tessenger.db`, { textLogs: logs });
  try {
    await fn(dir, store, logs);
  } finally {
    store.closeSync();
    logs.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const AT = Date.UTC(2026, 0, 1, 12);

async function fill(store: SqliteStore): Promise<{ priv: string; group: string }> {
  await store.setPasswordHash("alice", "x", AT);
  await store.setPasswordHash("bob", "x", AT);
  await store.createGroup("crew", "alice", ["bob"], AT);
  let priv = "";
  let group = "";
  for (let i = 0; i < 3; i++) {
    const m = await store.addPrivateMessage({
      at: AT,
      sender: "alice",
      receiver: "bob",
      text: `hello ${i}`,
    });
    priv += privateLogLine(m.seq, AT, "bob", m.text) + "\n";
    const g = await store.addGroupMessage({
      group: "crew",
      at: AT,
      sender: "alice",
      text: `hi ${i}`,
    });
    group += groupLogLine(g.seq, AT, "alice", g.text) + "\n";
  }
  // The store writes its log lines when the group of writes is made durable.
  store.barrier();
  return { priv, group };
}

Deno.test("the store writes each message's log line once it is durable", () =>
  withStore(async (dir, store) => {
    const { priv, group } = await fill(store);
    assertEquals(Deno.readTextFileSync(`${dir}/messagelog.txt`), priv);
    assertEquals(Deno.readTextFileSync(`${dir}/crew_messagelog.txt`), group);
  }));

Deno.test("reconcile() leaves logs that agree with the store untouched", () =>
  withStore(async (_dir, store, logs) => {
    await fill(store);
    assertEquals(await logs.reconcile(store), []);
  }));

Deno.test("reconcile() repairs a last line cut short by a crash", () =>
  withStore(async (dir, store, logs) => {
    const { priv, group } = await fill(store);
    // The process died while writing the third line: no newline, text cut.
    Deno.writeTextFileSync(`${dir}/messagelog.txt`, priv.slice(0, -6));
    Deno.writeTextFileSync(`${dir}/crew_messagelog.txt`, group.slice(0, -1));
    assertEquals((await logs.reconcile(store)).length, 2);
    assertEquals(Deno.readTextFileSync(`${dir}/messagelog.txt`), priv);
    assertEquals(Deno.readTextFileSync(`${dir}/crew_messagelog.txt`), group);
    // Appends after the repair start on a fresh line with the next number.
    await store.addPrivateMessage({ at: AT, sender: "bob", receiver: "alice", text: "next" });
    store.barrier();
    assertEquals(
      Deno.readTextFileSync(`${dir}/messagelog.txt`),
      priv + privateLogLine(4, AT, "alice", "next") + "\n",
    );
  }));

Deno.test("reconcile() adds lines the crash kept out of the log, and recreates missing logs", () =>
  withStore(async (dir, store, logs) => {
    const { priv, group } = await fill(store);
    // Committed to the database, never appended to the log.
    Deno.writeTextFileSync(`${dir}/messagelog.txt`, priv.split("\n").slice(0, 1).join("\n") + "\n");
    Deno.removeSync(`${dir}/crew_messagelog.txt`);
    await logs.reconcile(store);
    assertEquals(Deno.readTextFileSync(`${dir}/messagelog.txt`), priv);
    assertEquals(Deno.readTextFileSync(`${dir}/crew_messagelog.txt`), group);
  }));

Deno.test("reconcile() refuses a log with lines the store does not have, and leaves it as it is", () =>
  withStore(async (dir, store, logs) => {
    const { priv } = await fill(store);
    const tampered = priv.replace("hello 1", "tampered");
    Deno.writeTextFileSync(`${dir}/messagelog.txt`, tampered);
    const e = await assertRejects(() => logs.reconcile(store), LogMismatchError);
    assertEquals(e.line, 2);
    assertEquals(Deno.readTextFileSync(`${dir}/messagelog.txt`), tampered);
  }));

Deno.test("reconcile() against an empty store keeps a full log and says why", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tessenger-reconcile-" });
  try {
    const log = "1; 01 Jan 2026 12:00:00; bob; hello\n2; 01 Jan 2026 12:00:01; bob; again\n";
    Deno.writeTextFileSync(`${dir}/messagelog.txt`, log);
    const logs = new MessageLogs(dir);
    const store = new SqliteStore(`${dir}/tessenger.db`, { textLogs: logs });
    try {
      const e = await assertRejects(() => logs.reconcile(store), LogMismatchError);
      assertEquals(e.line, 1);
    } finally {
      store.closeSync();
      logs.close();
    }
    assertEquals(Deno.readTextFileSync(`${dir}/messagelog.txt`), log);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

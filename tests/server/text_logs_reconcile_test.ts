/**
 * MessageLogs.reconcile(): the database is authoritative, and at start every
 * text log that disagrees with it is rewritten, whatever a crash left behind.
 */

import { assertEquals } from "../helpers/assert.ts";
import { SqliteStore } from "../../server/store.ts";
import { groupLogLine, MessageLogs, privateLogLine } from "../../server/text_logs.ts";

async function withStore(
  fn: (dir: string, store: SqliteStore, logs: MessageLogs) => void,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tessenger-reconcile-" });
  const store = new SqliteStore(`${dir}/tessenger.db`);
  const logs = new MessageLogs(dir);
  try {
    fn(dir, store, logs);
  } finally {
    logs.close();
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const AT = Date.UTC(2026, 0, 1, 12);

function fill(store: SqliteStore, logs: MessageLogs): { priv: string; group: string } {
  store.setPasswordHash("alice", "x", AT);
  store.setPasswordHash("bob", "x", AT);
  store.createGroup("crew", "alice", ["bob"], AT);
  logs.createGroupLog("crew");
  let priv = "";
  let group = "";
  for (let i = 0; i < 3; i++) {
    const m = store.addPrivateMessage({
      at: AT,
      sender: "alice",
      receiver: "bob",
      text: `hello ${i}`,
      delivered: true,
    });
    logs.appendPrivate(m.seq, AT, "bob", m.text);
    priv += privateLogLine(m.seq, AT, "bob", m.text) + "\n";
    const g = store.addGroupMessage({ group: "crew", at: AT, sender: "alice", text: `hi ${i}` });
    logs.appendGroup("crew", g.seq, AT, "alice", g.text);
    group += groupLogLine(g.seq, AT, "alice", g.text) + "\n";
  }
  // Appends are buffered until the end of the turn (or the next reply); write them now.
  logs.flush();
  return { priv, group };
}

Deno.test("reconcile() leaves logs that agree with the store untouched", () =>
  withStore((_dir, store, logs) => {
    fill(store, logs);
    assertEquals(logs.reconcile(store), []);
  }));

Deno.test("reconcile() repairs a last line cut short by a crash", () =>
  withStore((dir, store, logs) => {
    const { priv, group } = fill(store, logs);
    // The process died while writing the third line: no newline, text cut.
    Deno.writeTextFileSync(`${dir}/messagelog.txt`, priv.slice(0, -6));
    Deno.writeTextFileSync(`${dir}/crew_messagelog.txt`, group.slice(0, -1));
    assertEquals(logs.reconcile(store).length, 2);
    assertEquals(Deno.readTextFileSync(`${dir}/messagelog.txt`), priv);
    assertEquals(Deno.readTextFileSync(`${dir}/crew_messagelog.txt`), group);
    // Appends after the repair start on a fresh line with the next number.
    const m = store.addPrivateMessage({
      at: AT,
      sender: "bob",
      receiver: "alice",
      text: "next",
      delivered: false,
    });
    logs.appendPrivate(m.seq, AT, "alice", "next");
    logs.flush();
    assertEquals(
      Deno.readTextFileSync(`${dir}/messagelog.txt`),
      priv + privateLogLine(4, AT, "alice", "next") + "\n",
    );
  }));

Deno.test("reconcile() adds lines the crash kept out of the log, and recreates missing logs", () =>
  withStore((dir, store, logs) => {
    const { priv, group } = fill(store, logs);
    // Committed to the database, never appended to the log.
    Deno.writeTextFileSync(`${dir}/messagelog.txt`, priv.split("\n").slice(0, 1).join("\n") + "\n");
    Deno.removeSync(`${dir}/crew_messagelog.txt`);
    logs.reconcile(store);
    assertEquals(Deno.readTextFileSync(`${dir}/messagelog.txt`), priv);
    assertEquals(Deno.readTextFileSync(`${dir}/crew_messagelog.txt`), group);
  }));

Deno.test("reconcile() replaces a log with the right line count but wrong content", () =>
  withStore((dir, store, logs) => {
    const { priv } = fill(store, logs);
    Deno.writeTextFileSync(`${dir}/messagelog.txt`, priv.replace("hello 1", "tampered"));
    assertEquals(logs.reconcile(store), [`${dir}/messagelog.txt`]);
    assertEquals(Deno.readTextFileSync(`${dir}/messagelog.txt`), priv);
  }));

/**
 * Worker that checkpoints the store's write-ahead log on its own thread (see
 * `SqliteStore.checkpointInBackground`): copying the WAL into the database
 * and its fsync no longer stall the server's event loop in a COMMIT.
 *
 * Messages in: `{ path, intervalMs, done }` to start, `"stop"` to close the
 * connection, set `done[0]` to 1 and end. Messages out: `"ready"` once the
 * database is open, `{ error }` when a checkpoint fails (the store then takes
 * checkpoints back).
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { DatabaseSync } from "node:sqlite";

let db: DatabaseSync | undefined;
let timer: ReturnType<typeof setInterval> | undefined;
/** Shared with the store: set to 1 once the connection is closed. */
let done: Int32Array | undefined;

function stop(): void {
  if (timer !== undefined) clearInterval(timer);
  timer = undefined;
  try {
    db?.close();
  } catch {
    // closing is best effort
  }
  db = undefined;
}

self.onmessage = (
  e: MessageEvent<{ path: string; intervalMs: number; done: Int32Array } | "stop">,
) => {
  if (e.data === "stop") {
    stop();
    if (done) {
      Atomics.store(done, 0, 1);
      Atomics.notify(done, 0);
    }
    self.close();
    return;
  }
  done = e.data.done;
  try {
    db = new DatabaseSync(e.data.path);
    // A checkpoint never waits for the server's writer: PASSIVE copies what it can.
    db.exec("PRAGMA busy_timeout = 0");
  } catch (err) {
    self.postMessage({ error: String(err) });
    return;
  }
  timer = setInterval(() => {
    try {
      db!.exec("PRAGMA wal_checkpoint(PASSIVE)");
    } catch (err) {
      stop();
      self.postMessage({ error: String(err) });
    }
  }, e.data.intervalMs);
  self.postMessage("ready");
};

/**
 * The client's keep-alive against a real server with a short idle timeout, on
 * the real clock: the client in `client/connection.ts` pings at the interval the
 * server announces, so a user who is only reading is never timed out, while a
 * silent connection is.
 */

import { assert, assertEquals } from "../helpers/assert.ts";
import { RawClient } from "../helpers/raw_client.ts";
import { namedAccounts, sleep, startTestServer } from "../helpers/test_server.ts";
import { ServerConnection } from "../../client/connection.ts";

Deno.test("ServerConnection pings often enough that a quiet client is not timed out", async () => {
  // keepAliveMs = max(1000, 3000 / 3): pings every second against a 3 s timeout.
  const t = await startTestServer({
    ...namedAccounts(["alice", "bob"]),
    clock: "real",
    sweepIntervalMs: 100,
    limits: { idleTimeoutMs: 3_000 },
  });
  const quiet = await ServerConnection.connect({ host: "127.0.0.1", port: t.port });
  await quiet.request("user", ["alice"]);
  assertEquals((await quiet.request("pass", ["pw-alice", "0"])).ok, true);
  const silent = await RawClient.login(t.port, "bob", "pw-bob");
  await sleep(3_600);
  assert(!quiet.isClosed, "the pinging client was timed out");
  assertEquals(await silent.waitClosed(1_000), "idle timeout");
  const res = await quiet.request("activeuser");
  assertEquals(res.lines, ["no other active user"]);
  quiet.close();
  await quiet.closed;
  await t.close();
});

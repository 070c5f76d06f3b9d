/**
 * Crash safety (SPEC §6): a real server process is killed with SIGKILL in the
 * middle of traffic and restarted on the same data dir. Every message that was
 * acknowledged before the kill must be in the text logs exactly once, with
 * numbering 1..n, and every queued offline message must be delivered once;
 * groups and memberships must survive.
 */

import { assert, assertEquals } from "../helpers/assert.ts";
import { type ServerProcess, spawnServer } from "../../dev/server_process.ts";
import { RawClient } from "../helpers/raw_client.ts";
import { pwAccounts, writeCredentials } from "../helpers/test_server.ts";

/** Runs `main.ts server --port 0` on `dir` and waits until it listens. */
function startServer(dir: string): Promise<ServerProcess> {
  return spawnServer([
    "--data-dir",
    `${dir}/data`,
    "--credentials",
    `${dir}/credentials.txt`,
    "--command-rate",
    "0",
  ]);
}

/** Parses `N; TS; X; TEXT` lines, checking the numbering is 1..n. */
function readLog(path: string): string[] {
  const lines = Deno.readTextFileSync(path).split("\n");
  assertEquals(lines.pop(), "", `${path} must end with a newline`);
  return lines.map((line, i) => {
    const [seq, , , ...text] = line.split("; ");
    assertEquals(Number(seq), i + 1, `${path} line ${i + 1} is numbered ${seq}`);
    return text.join("; ");
  });
}

function assertOnce(texts: string[], acked: string[], what: string): void {
  const seen = new Map<string, number>();
  for (const t of texts) seen.set(t, (seen.get(t) ?? 0) + 1);
  for (const [t, n] of seen) assertEquals(n, 1, `${what}: ${JSON.stringify(t)} appears ${n} times`);
  for (const t of acked) {
    assert(seen.has(t), `${what}: acknowledged ${JSON.stringify(t)} is missing`);
  }
}

Deno.test("after kill -9 and restart, no acknowledged message, group or queued message is lost or doubled", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tessenger-crash-" });
  await writeCredentials(`${dir}/credentials.txt`, pwAccounts(["alice", "bob", "carol"]), true);
  let server = await startServer(dir);

  const alice = await RawClient.login(server.port, "alice", "pw-alice");
  const bob = await RawClient.login(server.port, "bob", "pw-bob");
  await alice.expectOk("creategroup", ["crew", "bob"]);
  await bob.expectOk("joingroup", ["crew"]);

  // Traffic from two senders; carol is offline, so her messages are queued.
  const ackedPrivate: string[] = [];
  const ackedCarol: string[] = [];
  const ackedGroup: string[] = [];
  let stop = false;
  const sender = async (c: RawClient, me: string) => {
    for (let i = 0; !stop; i++) {
      let text: string;
      let res;
      try {
        if (i % 3 === 0) {
          text = `${me} to carol ${i}`;
          res = await c.request("msgto", ["carol", text], 3000);
          if (res.ok) ackedCarol.push(text);
        } else if (i % 3 === 1) {
          text = `${me} private ${i}`;
          res = await c.request("msgto", [me === "alice" ? "bob" : "alice", text], 3000);
        } else {
          text = `${me} group ${i}`;
          res = await c.request("groupmsg", ["crew", text], 3000);
          if (res.ok) ackedGroup.push(text);
          continue;
        }
        if (res.ok) ackedPrivate.push(text);
      } catch {
        return; // the server died under us
      }
    }
  };
  const traffic = [sender(alice, "alice"), sender(bob, "bob")];
  // Kill once a good amount has been acknowledged (bounded by a deadline).
  const deadline = Date.now() + 10_000;
  while (ackedPrivate.length + ackedGroup.length < 400 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
  }
  server.child.kill("SIGKILL");
  await server.child.status;
  stop = true;
  await Promise.all(traffic);
  await server.drained;
  await alice.close();
  await bob.close();
  assert(ackedPrivate.length > 50, `only ${ackedPrivate.length} messages before the kill`);

  // Restart on the same data dir; the logs must hold every acknowledged message once.
  server = await startServer(dir);
  assertOnce(readLog(`${dir}/data/messagelog.txt`), ackedPrivate, "messagelog.txt");
  assertOnce(readLog(`${dir}/data/crew_messagelog.txt`), ackedGroup, "crew_messagelog.txt");

  // carol gets every queued message exactly once, in order.
  const carol = await RawClient.login(server.port, "carol", "pw-carol");
  // The backlog streams after the welcome; it ends with the last acknowledged message.
  await carol.waitFor(() => carol.pushes("msg").length >= ackedCarol.length);
  await carol.expectOk("ping");
  const queued = carol.pushes("msg").map((p) => p.text as string);
  assertOnce(queued, ackedCarol, "carol's queued messages");
  const order = (who: string) => queued.filter((t) => t.startsWith(who));
  for (const who of ["alice", "bob"]) {
    const nums = order(who).map((t) => Number(t.split(" ").pop()));
    assertEquals(nums, [...nums].sort((a, b) => a - b), `${who}'s queued messages out of order`);
  }
  // Once acknowledged, a second login delivers nothing again.
  await carol.ack();
  await carol.expectOk("logout");
  await carol.waitClosed();
  const again = await RawClient.login(server.port, "carol", "pw-carol");
  await again.expectOk("ping");
  assertEquals(again.pushes().filter((p) => p.ev === "msg").length, 0);
  await again.close();

  // The group and bob's membership survived; numbering continues without a gap.
  const bob2 = await RawClient.login(server.port, "bob", "pw-bob");
  assertEquals((await bob2.expectOk("groupmsg", ["crew", "after restart"])).lines, [
    "Group chat message sent.",
  ]);
  const alice2 = await RawClient.login(server.port, "alice", "pw-alice");
  assertEquals((await alice2.request("creategroup", ["crew", "bob"])).code, "exists");
  await alice2.expectOk("msgto", ["bob", "after restart too"]);
  await alice2.close();
  await bob2.close();

  server.child.kill("SIGTERM");
  assertEquals((await server.child.status).code, 0);
  await server.drained;
  const group = readLog(`${dir}/data/crew_messagelog.txt`);
  assertEquals(group.at(-1), "after restart");
  const priv = readLog(`${dir}/data/messagelog.txt`);
  assertEquals(priv.at(-1), "after restart too");
  await Deno.remove(dir, { recursive: true });
});

/**
 * Failures of a cluster under traffic: a node killed with SIGKILL, Redis
 * restarted empty, PostgreSQL stopped and started. The clients are the real
 * client's connection (client/connection.ts: it acknowledges what it shows and
 * never shows a message twice), so "on screen" here is what it passes on.
 */

import { join } from "node:path";
import { SeenStreams, ServerConnection } from "../../client/connection.ts";
import { type NodeProcess, spawnNode } from "../../dev/cluster.ts";
import { createDatabase, startPostgres, startRedis } from "../../dev/engines.ts";
import type { PushFrame } from "../../shared/protocol.ts";
import { assert, assertEquals } from "../helpers/assert.ts";
import { TEST_USERS, writeCredentials } from "../helpers/test_server.ts";
import { engines, eventually, skip, startCluster } from "./_cluster.ts";

/** A user as the real client would be: what it showed, kept across reconnections. */
class Viewer {
  readonly seen = new SeenStreams();
  /** Texts of the messages shown, in order. */
  readonly shown: string[] = [];
  /** Group messages left out of a backlog, as the server's notices count them. */
  skipped = 0;
  conn: ServerConnection | undefined;

  constructor(readonly user: string) {}

  async login(port: number): Promise<void> {
    const conn = await ServerConnection.connect({ host: "127.0.0.1", port, seen: this.seen });
    conn.onPush = (p: PushFrame) => {
      if (p.ev === "msg" || p.ev === "groupmsg") this.shown.push(p.text);
      const m = p.ev === "notice" ? /^(\d+) earlier messages in rebels/.exec(p.text) : null;
      if (m) this.skipped += Number(m[1]);
    };
    for (const [cmd, args] of [["user", [this.user]], ["pass", [TEST_USERS[this.user], "0"]]]) {
      const res = await conn.request(cmd as string, args as string[]);
      if (!res.ok) throw new Error(`Cannot log in as ${this.user}: ${res.lines.join(" ")}`);
    }
    this.conn = conn;
  }

  close(): void {
    this.conn?.close();
  }
}

Deno.test({
  name: skip
    ? `a node killed and Redis restarted under traffic lose and double no acknowledged message (skipped: ${skip})`
    : "a node killed and Redis restarted under traffic lose and double no acknowledged message",
  ignore: skip !== undefined,
  async fn() {
    if (!engines.ok) return;
    const redis = await startRedis();
    const db = await createDatabase(engines.database);
    const dir = await Deno.makeTempDir({ prefix: "tessenger-fault-" });
    const credentials = join(dir, "credentials.txt");
    await writeCredentials(credentials, TEST_USERS, true);
    const nodes: NodeProcess[] = [];
    const viewers = ["Yoda", "Hans", "Leia", "Luke"].map((u) => new Viewer(u));
    const [yoda, hans, leia, luke] = viewers;
    try {
      for (const name of ["node1", "node2", "node3"]) {
        nodes.push(
          await spawnNode({
            database: db.url,
            redis: redis.url,
            nodeName: name,
            credentials,
            // The test's own pace is the limit; the session's request rate is not under test.
            args: ["--command-rate", "0"],
          }),
        );
      }
      const [a, b, c] = nodes;
      await yoda.login(a.port);
      await hans.login(b.port);
      await leia.login(c.port);
      await luke.login(c.port);
      const send = yoda.conn!;
      assert((await send.request("creategroup", ["rebels", "Hans", "Leia", "Luke"])).ok);
      for (const v of [hans, leia, luke]) {
        assert((await v.conn!.request("joingroup", ["rebels"])).ok, `${v.user} joins`);
      }

      // Yoda sends, one request at a time, until told to stop; each text is unique.
      const acked = new Map<string, string[]>([["Hans", []], ["Leia", []], ["rebels", []]]);
      /** The group's acknowledged messages by text: their seq. */
      const groupSeq = new Map<string, number>();
      const refused: string[] = [];
      const refusals: string[] = [];
      let stop = false;
      let n = 0;
      let trafficError: unknown;
      const traffic = (async () => {
        while (!stop && trafficError === undefined) {
          const to = ["Hans", "Leia", "rebels"][n % 3];
          const text = `m${n++}`;
          const res = await send.request(to === "rebels" ? "groupmsg" : "msgto", [to, text]);
          (res.ok ? acked.get(to)! : refused).push(text);
          if (!res.ok) refusals.push(`${text}: ${res.code} ${res.lines.join(" ")}`);
          if (res.ok && to === "rebels") groupSeq.set(text, res.data?.seq as number);
          await new Promise((r) => setTimeout(r, 20));
        }
      })().catch((e) => trafficError = e);
      const sentSoFar = () => {
        if (trafficError !== undefined) throw trafficError;
        return n;
      };
      await eventually(() => sentSoFar() > 30, "traffic", 10_000);

      // A node dies: its user is offline everywhere within 30 s, then logs in elsewhere.
      b.process.child.kill("SIGKILL");
      await b.process.child.status;
      const killedAt = Date.now();
      await eventually(
        async () => {
          const res = await leia.conn!.request("activeuser");
          const users = (res.data?.users ?? []) as { user: string }[];
          return !users.some((u) => u.user === "Hans");
        },
        "Hans to be offline",
        30_000,
      );
      const offlineAfter = Date.now() - killedAt;
      assert(offlineAfter < 30_000, `offline after ${offlineAfter} ms`);
      await hans.login(c.port);
      const before = sentSoFar();
      await eventually(() => sentSoFar() > before + 30, "traffic after the failover", 10_000);

      // Redis restarts empty: the nodes reconnect and rebuild presence by themselves.
      await redis.restart();
      const afterRestart = sentSoFar();
      await eventually(() => sentSoFar() > afterRestart + 30, "traffic after Redis", 20_000);
      await eventually(
        async () => {
          const res = await leia.conn!.request("activeuser");
          const users = ((res.data?.users ?? []) as { user: string }[]).map((u) => u.user).sort();
          return users.join() === "Hans,Luke,Yoda";
        },
        "presence rebuilt after the Redis restart",
        20_000,
      );

      stop = true;
      await traffic;
      // Everything acknowledged is shown once; of a group, a user away for long is shown
      // the newest GROUP_REPLAY_MAX and told how many were left out (one block, oldest).
      const expect = {
        Hans: acked.get("Hans")!,
        Leia: acked.get("Leia")!,
        Luke: [] as string[],
      };
      const group = acked.get("rebels")!;
      for (const v of [hans, leia, luke]) {
        const own = expect[v.user as keyof typeof expect];
        const shownAll = () =>
          own.every((t) => v.shown.includes(t)) &&
          group.filter((t) => !v.shown.includes(t)).length <= v.skipped;
        await eventually(shownAll, `every acknowledged message on ${v.user}'s screen`, 20_000)
          .catch((e) => {
            const missing = [...own, ...group].filter((t) => !v.shown.includes(t));
            throw new Error(`${e.message}: missing ${missing.join(" ")}; ${v.skipped} skipped`);
          });
        const left = group.filter((t) => !v.shown.includes(t)).map((t) => groupSeq.get(t)!);
        if (left.length > 0) {
          assertEquals(left.at(-1)! - left[0] + 1, left.length, "left out: one block");
        }
        const twice = v.shown.filter((t, i) => v.shown.indexOf(t) !== i);
        assertEquals(twice, [], `${v.user} was shown nothing twice`);
        for (const t of refused) {
          assert(!v.shown.includes(t), `a refused message was delivered: ${refusals.join("; ")}`);
        }
      }
      assert(acked.get("rebels")!.length > 20);
    } finally {
      for (const v of viewers) v.close();
      await Promise.all(nodes.map((node) => node.stop()));
      await redis.stop();
      await db.drop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: skip
    ? `while PostgreSQL is down requests fail with a clear error, and service resumes by itself (skipped: ${skip})`
    : "while PostgreSQL is down requests fail with a clear error, and service resumes by itself",
  ignore: skip !== undefined,
  async fn() {
    if (!engines.ok) return;
    const pg = await startPostgres();
    try {
      const cluster = await startCluster(2, { databaseServer: pg.url, clock: "real" });
      try {
        const [a, b] = cluster.nodes;
        const yoda = new Viewer("Yoda");
        const hans = new Viewer("Hans");
        await yoda.login(a.port);
        await hans.login(b.port);
        try {
          assert((await yoda.conn!.request("msgto", ["Hans", "before"])).ok);
          await pg.pause();
          const res = await yoda.conn!.request("msgto", ["Hans", "during"]);
          assertEquals(res.ok, false);
          assertEquals(res.code, "unavailable");
          assertEquals(res.lines, [
            "The server cannot reach its database right now. Please try again in a moment.",
          ]);
          await pg.resume();
          await eventually(
            async () => {
              return (await yoda.conn!.request("msgto", ["Hans", "after"])).ok;
            },
            "service to resume",
            20_000,
          );
          await eventually(() => hans.shown.includes("after"), "the message after the outage");
          assertEquals(hans.shown.filter((t) => t !== "after"), ["before"]);
        } finally {
          yoda.close();
          hans.close();
        }
      } finally {
        await cluster.close();
      }
    } finally {
      await pg.stop();
    }
  },
});

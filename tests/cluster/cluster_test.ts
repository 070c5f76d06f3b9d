/**
 * Three nodes of a cluster, real clients over real sockets: what a user sees
 * is what one node would show them, whichever node each is on.
 */

import { join } from "node:path";
import { assert, assertEquals } from "../helpers/assert.ts";
import { RawClient } from "../helpers/raw_client.ts";
import { TEST_USERS } from "../helpers/test_server.ts";
import { eventually, skip, startCluster, type TestCluster } from "./_cluster.ts";

function clusterTest(name: string, fn: (c: TestCluster) => Promise<void>) {
  Deno.test({
    name: skip ? `${name} (skipped: ${skip})` : name,
    ignore: skip !== undefined,
    async fn() {
      const cluster = await startCluster(3);
      try {
        await fn(cluster);
      } finally {
        await cluster.close();
      }
    },
  });
}

const login = (c: TestCluster, node: number, user: string) =>
  RawClient.login(c.nodes[node].port, user, TEST_USERS[user]);

/** Runs `fn` with clients logged in (user → node), closing them afterwards. */
async function withClients(
  c: TestCluster,
  who: [string, number][],
  fn: (clients: Record<string, RawClient>) => Promise<void>,
): Promise<void> {
  const clients: Record<string, RawClient> = {};
  try {
    for (const [user, node] of who) clients[user] = await login(c, node, user);
    await fn(clients);
  } finally {
    for (const client of Object.values(clients)) await client.close();
  }
}

clusterTest("a user on one node messages a user on another, who gets it at once", async (c) => {
  await withClients(c, [["Yoda", 0], ["Hans", 1]], async ({ Yoda, Hans }) => {
    const res = await Yoda.expectOk("msgto", ["Hans", "across nodes"]);
    assertEquals(res.data?.queued, false);
    const push = await Hans.push("msg");
    assertEquals([push.from, push.text, push.seq], ["Yoda", "across nodes", 1]);
    await Hans.expectOk("msgto", ["Yoda", "and back"]);
    assertEquals((await Yoda.push("msg")).text, "and back");
  });
});

clusterTest("a group with members on three nodes gets every message once, in order", async (c) => {
  await withClients(c, [["Yoda", 0], ["Hans", 1], ["Leia", 2]], async ({ Yoda, Hans, Leia }) => {
    await Yoda.expectOk("creategroup", ["rebels", "Hans", "Leia"]);
    await Hans.push("invite");
    await Leia.push("invite");
    await Hans.expectOk("joingroup", ["rebels"]);
    await Leia.expectOk("joingroup", ["rebels"]);
    const sent = [];
    for (let i = 0; i < 20; i++) {
      const from = [Yoda, Hans, Leia][i % 3];
      sent.push((await from.expectOk("groupmsg", ["rebels", `m${i}`])).data?.seq);
    }
    assertEquals(sent, Array.from({ length: 20 }, (_, i) => i + 1));
    for (const [name, client] of Object.entries({ Yoda, Hans, Leia })) {
      await eventually(
        () => client.pushes("groupmsg").length >= 13,
        `${name}'s group messages`,
      );
      const got = client.pushes("groupmsg");
      // Everyone but the sender, each once, in the group's order.
      const expected = Array.from({ length: 20 }, (_, i) => i)
        .filter((i) => ["Yoda", "Hans", "Leia"][i % 3] !== name);
      assertEquals(got.map((p) => p.text), expected.map((i) => `m${i}`));
      assertEquals(got.map((p) => p.seq), expected.map((i) => i + 1));
    }
  });
});

clusterTest("/activeuser on any node lists everyone online on every node", async (c) => {
  await withClients(c, [["Yoda", 0], ["Hans", 1], ["Leia", 2]], async (clients) => {
    for (const [name, client] of Object.entries(clients)) {
      const users = (await client.expectOk("activeuser")).data?.users as { user: string }[];
      const others = ["Yoda", "Hans", "Leia"].filter((u) => u !== name);
      assertEquals(users.map((u) => u.user), others);
    }
    await clients.Hans.expectOk("logout");
    await clients.Hans.closed;
    await eventually(async () => {
      const users = (await clients.Leia.expectOk("activeuser")).data?.users as unknown[];
      return users.length === 1;
    }, "Hans to go offline everywhere");
  });
});

clusterTest("a second login on any node is refused while the first lives", async (c) => {
  await withClients(c, [["Yoda", 0]], async ({ Yoda }) => {
    for (const node of [0, 1, 2]) {
      const second = await RawClient.connect(c.nodes[node].port);
      try {
        await second.expectOk("hello", ["2"]);
        await second.expectOk("user", ["Yoda"]);
        const res = await second.request("pass", [TEST_USERS.Yoda, "0"]);
        assertEquals(res.code, "already_online");
      } finally {
        await second.close();
      }
    }
    await Yoda.expectOk("logout");
    await Yoda.closed;
    const again = await login(c, 2, "Yoda");
    await again.close();
  });
});

clusterTest(
  "failed logins of one username count across nodes and block it everywhere",
  async (c) => {
    for (const node of [0, 1, 2]) {
      const client = await RawClient.connect(c.nodes[node].port);
      try {
        await client.expectOk("hello", ["2"]);
        await client.expectOk("user", ["Yoda"]);
        const res = await client.request("pass", ["wrong", "0"]);
        assertEquals(res.code, node < 2 ? "bad_password" : "now_blocked");
      } finally {
        await client.close();
      }
    }
    const late = await RawClient.connect(c.nodes[0].port);
    try {
      await late.expectOk("hello", ["2"]);
      assertEquals((await late.request("user", ["Yoda"])).code, "blocked");
    } finally {
      await late.close();
    }
  },
);

clusterTest(
  "a message to an offline user waits and is delivered at login on another node",
  async (c) => {
    await withClients(c, [["Yoda", 0]], async ({ Yoda }) => {
      const res = await Yoda.expectOk("msgto", ["Leia", "while you were out"]);
      assertEquals(res.data?.queued, true);
    });
    const leia = await login(c, 2, "Leia");
    try {
      const push = await leia.push("msg");
      assertEquals([push.text, push.queued, push.from], ["while you were out", true, "Yoda"]);
      await leia.ack();
    } finally {
      await leia.close();
    }
    // Acknowledged: not delivered again at the next login, on yet another node.
    const again = await login(c, 1, "Leia");
    try {
      await again.expectOk("ping");
      await new Promise((r) => setTimeout(r, 200));
      assertEquals(again.pushes("msg"), []);
    } finally {
      await again.close();
    }
  },
);

clusterTest("/history is the same from every node", async (c) => {
  await withClients(c, [["Yoda", 0], ["Hans", 1]], async ({ Yoda, Hans }) => {
    for (let i = 0; i < 4; i++) {
      await (i % 2 ? Hans : Yoda).expectOk("msgto", [i % 2 ? "Yoda" : "Hans", `h${i}`]);
    }
    const fromA = (await Yoda.expectOk("history", ["Hans"])).lines;
    const fromB = (await Hans.expectOk("history", ["Yoda"])).lines;
    assertEquals(fromA.slice(1), fromB.slice(1));
    assertEquals(fromA.length, 5);
  });
});

clusterTest(
  "/p2pvideo to a user on another node offers the transfer through the sender's node",
  async (c) => {
    await withClients(c, [["Yoda", 0], ["Hans", 1]], async ({ Yoda, Hans }) => {
      const sha = "a".repeat(64);
      const res = await Yoda.expectOk("p2pvideo", ["Hans", "v.mp4", "10", sha]);
      const offer = await Hans.push("transfer");
      assertEquals([offer.id, offer.secret, offer.from], [res.data?.id, res.data?.secret, "Yoda"]);
      // The relay that knows the transfer is the sending node's.
      assertEquals(offer.serverUdpPort, c.nodes[0].port);
      assertEquals(offer.serverUdpHost, "127.0.0.1");
      assertEquals(res.data?.serverUdpPort, c.nodes[0].port);
    });
  },
);

clusterTest("one node writes the text logs for the whole cluster, numbered 1..n", async (c) => {
  await withClients(c, [["Yoda", 0], ["Hans", 1], ["Leia", 2]], async ({ Yoda, Hans, Leia }) => {
    await Yoda.expectOk("msgto", ["Hans", "one"]);
    await Hans.expectOk("msgto", ["Leia", "two"]);
    await Leia.expectOk("msgto", ["Yoda", "three"]);
    await Hans.expectOk("creategroup", ["jedi", "Yoda"]);
    await Yoda.expectOk("joingroup", ["jedi"]);
    await Yoda.expectOk("groupmsg", ["jedi", "g1"]);
    await Hans.expectOk("groupmsg", ["jedi", "g2"]);
    const read = (node: number, file: string) => {
      try {
        return Deno.readTextFileSync(join(c.nodes[node].dataDir, file));
      } catch {
        return "";
      }
    };
    let writer = -1;
    await eventually(() => {
      writer = [0, 1, 2].find((i) => read(i, "jedi_messagelog.txt").split("\n").length === 3) ??
        -1;
      return writer !== -1;
    }, "the text logs");
    const numbers = (text: string) => text.trim().split("\n").map((l) => l.split("; ")[0]);
    const messages = read(writer, "messagelog.txt");
    assertEquals(numbers(messages), ["1", "2", "3"]);
    assertEquals(messages.trim().split("\n").map((l) => l.split("; ").slice(2)), [
      ["Hans", "one"],
      ["Leia", "two"],
      ["Yoda", "three"],
    ]);
    const group = read(writer, "jedi_messagelog.txt").trim().split("\n");
    assertEquals(group.map((l) => l.split("; ").slice(2)), [["Yoda", "g1"], ["Hans", "g2"]]);
    await eventually(() => read(writer, "userlog.txt").trim().split("\n").length === 3, "userlog");
    const users = read(writer, "userlog.txt").trim().split("\n");
    assertEquals(users.map((l) => l.split("; ")[0]), ["1", "2", "3"]);
    assertEquals(users.map((l) => l.split("; ")[2]), ["Yoda", "Hans", "Leia"]);
    for (const i of [0, 1, 2]) {
      if (i !== writer) assertEquals(read(i, "messagelog.txt"), "", "only one node writes");
    }
    assert(writer >= 0);
  });
});

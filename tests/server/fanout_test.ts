/**
 * Group pushes share one run of frames among the members' send queues
 * (`SharedRun`): these tests check that no member ever sees a frame out of
 * order or misses one because of it.
 */

import { assertEquals } from "../helpers/assert.ts";
import { groupOfThree, RawClient } from "../helpers/raw_client.ts";
import { startTestServer, TEST_USERS } from "../helpers/test_server.ts";
import { LocalPresence, type Outbox, type SharedRun } from "../../server/presence.ts";

const req = (id: number, cmd: string, args: string[]) =>
  JSON.stringify({ t: "req", id, cmd, args }) + "\n";

Deno.test("pipelined group messages with a private message between them arrive in order", async () => {
  const t = await startTestServer();
  try {
    const [yoda, hans, luke] = await groupOfThree(t.port, TEST_USERS);
    // One write: the server handles all of it in one turn.
    await yoda.write(
      req(100, "groupmsg", ["g", "m1"]) + req(101, "groupmsg", ["g", "m2"]) +
        req(102, "msgto", ["Hans", "p"]) + req(103, "groupmsg", ["g", "m3"]) +
        req(104, "groupmsg", ["g", "m4"]),
    );
    // And Luke writes to the group while Yoda's run may be open.
    await luke.write(req(200, "groupmsg", ["g", "l1"]) + req(201, "groupmsg", ["g", "l2"]));
    await yoda.waitFor(() => yoda.pushes("groupmsg").length === 2);
    await hans.waitFor(() => hans.pushes().length === 8); // with the invite
    await luke.waitFor(() => luke.pushes("groupmsg").length === 4);
    const texts = (c: RawClient) => c.pushes().filter((p) => p.ev !== "invite").map((p) => p.text);
    const fromYoda = (xs: string[]) => xs.filter((x) => x[0] !== "l");
    assertEquals(fromYoda(texts(hans)), ["m1", "m2", "p", "m3", "m4"]);
    assertEquals(texts(hans).filter((x) => x[0] === "l"), ["l1", "l2"]);
    assertEquals(texts(luke), ["m1", "m2", "m3", "m4"]);
    assertEquals(texts(yoda), ["l1", "l2"]);
    for (const c of [yoda, hans, luke]) await c.close();
  } finally {
    await t.close();
  }
});

/** An outbox that records the frames it would write, runs expanded at the end. */
class FakeOutbox implements Outbox {
  queue: (string | SharedRun)[] = [];
  send(line: string): boolean {
    this.close();
    this.queue.push(line);
    return true;
  }
  sendRun(run: SharedRun): boolean {
    this.close();
    this.queue.push(run);
    return true;
  }
  close(): void {
    const tail = this.queue.at(-1);
    if (tail !== undefined && typeof tail !== "string") tail.closed = true;
  }
  texts(): string[] {
    this.close();
    return this.queue.flatMap((p) => typeof p === "string" ? [p] : p.frames);
  }
}

Deno.test("LocalPresence.deliverAll() adds to one run, and starts another after a login", () => {
  const presence = new LocalPresence();
  const boxes = { a: new FakeOutbox(), b: new FakeOutbox(), c: new FakeOutbox() };
  const entry = (user: string) => ({ user, ip: "127.0.0.1", udpPort: 0, since: 0 });
  presence.join(entry("a"), boxes.a);
  presence.join(entry("b"), boxes.b);
  const members = ["a", "b", "c"];
  const frame = (s: string) => s;
  presence.deliverAll(members, frame("1"), "a");
  presence.deliverAll(members, frame("2"), "a");
  assertEquals(boxes.b.queue.length, 1, "the second push joined the first one's run");
  presence.join(entry("c"), boxes.c);
  presence.deliverAll(members, frame("3"), "a");
  presence.deliverAll([...members], frame("4"), "a");
  presence.deliverAll(members, frame("5"));
  assertEquals(boxes.a.texts(), ["5"]);
  assertEquals(boxes.b.texts(), ["1", "2", "3", "4", "5"]);
  assertEquals(boxes.c.texts(), ["3", "4", "5"]);
});

/**
 * Group pushes share one run of frames among the members' send queues
 * (`SharedRun`): these tests check that no member ever sees a frame out of
 * order or misses one because of it.
 */

import { assertEquals } from "../helpers/assert.ts";
import { groupOfThree, RawClient } from "../helpers/raw_client.ts";
import { startTestServer, TEST_USERS } from "../helpers/test_server.ts";
import { LocalRouter } from "../../server/local/presence.ts";
import { SharedRun } from "../../server/outbox.ts";
import type { DeliverySink } from "../../server/ports.ts";
import type { ServerEvent } from "../../shared/protocol.ts";

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
    const messages = (c: RawClient) =>
      c.pushes().filter((p) => p.ev === "msg" || p.ev === "groupmsg");
    await hans.waitFor(() => messages(hans).length === 7);
    await luke.waitFor(() => luke.pushes("groupmsg").length === 4);
    const texts = (c: RawClient) => messages(c).map((p) => p.text);
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

/** A sink that records what it would send, runs expanded at the end. */
class FakeSink implements DeliverySink {
  queue: (ServerEvent | SharedRun)[] = [];
  deliver(event: ServerEvent): boolean {
    this.#settle();
    this.queue.push(event);
    return true;
  }
  deliverRun(run: SharedRun): boolean {
    this.#settle();
    this.queue.push(run);
    return true;
  }
  #settle(): void {
    const tail = this.queue.at(-1);
    if (tail instanceof SharedRun) tail.closed = true;
  }
  texts(): string[] {
    this.#settle();
    return this.queue.flatMap((p) => p instanceof SharedRun ? p.events : [p])
      .map((e) => (e as { text: string }).text);
  }
}

let seq = 0;
const message = (text: string): ServerEvent => ({
  ev: "groupmsg",
  group: "g",
  seq: ++seq,
  from: "a",
  ts: "",
  at: 0,
  text,
});

Deno.test("LocalRouter.toUsers() adds to one run, and starts another after a login", () => {
  const router = new LocalRouter({ epoch: 1 });
  const sinks = { a: new FakeSink(), b: new FakeSink(), c: new FakeSink() };
  router.attach("a", sinks.a);
  router.attach("b", sinks.b);
  const members = ["a", "b", "c"];
  router.toUsers(members, message("1"), "a");
  router.toUsers(members, message("2"), "a");
  assertEquals(sinks.b.queue.length, 1, "the second push joined the first one's run");
  router.attach("c", sinks.c);
  router.toUsers(members, message("3"), "a");
  router.toUsers([...members], message("4"), "a");
  router.toUsers(members, message("5"));
  assertEquals(sinks.a.texts(), ["5"]);
  assertEquals(sinks.b.texts(), ["1", "2", "3", "4", "5"]);
  assertEquals(sinks.c.texts(), ["3", "4", "5"]);
});

Deno.test("SharedRun takes only the next message of its own group", () => {
  const first = message("x") as ServerEvent & { ev: "groupmsg" };
  const run = new SharedRun(first, 1);
  assertEquals(run.add({ ...first, seq: first.seq + 2 }, 1), false, "a gap");
  assertEquals(run.add({ ...first, group: "h", seq: first.seq + 1 }, 1), false, "another group");
  assertEquals(run.add({ ...first, seq: first.seq + 1 }, 1), true);
  run.closed = true;
  assertEquals(run.add({ ...first, seq: first.seq + 2 }, 1), false, "closed");
});

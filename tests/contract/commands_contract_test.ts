/**
 * One command suite, run against every front door (Hono's runtime-tests
 * pattern): the same operations by a user on the door under test must have the
 * same effect on the chat, as a native observer sees it, and the same outcome
 * for the user. Door-specific wire details live in each door's own tests
 * (tests/server/commands_test.ts, tests/server/irc/).
 */

import { assert, assertEquals } from "../helpers/assert.ts";
import { RawClient } from "../helpers/raw_client.ts";
import { startTestServer, TEST_USERS, type TestServer } from "../helpers/test_server.ts";
import { type Chatter, type Door, ircDoor, nativeDoor, type Outcome } from "./_doors.ts";

const DOORS: Door[] = [nativeDoor, ircDoor];

const ok = (queued = false): Outcome => ({ ok: true, queued });
const refused = (code: string): Outcome => ({ ok: false, code });

/** A server with both doors; `fn` gets the door's Yoda and a native Hans. */
async function scene(
  door: Door,
  fn: (t: TestServer, yoda: Chatter, hans: RawClient) => Promise<void>,
  options: { maxAttempts?: number } = {},
): Promise<void> {
  const t = await startTestServer({ irc: { port: 0 }, sweepIntervalMs: 20, ...options });
  const closing: { close(): Promise<void> }[] = [];
  try {
    const yoda = await door.login(t, "Yoda", TEST_USERS.Yoda);
    if (!("user" in yoda)) {
      throw new Error(`Cannot log in on ${door.name}: ${JSON.stringify(yoda)}`);
    }
    closing.push(yoda);
    const hans = await RawClient.login(t.port, "Hans", TEST_USERS.Hans);
    closing.push(hans);
    await fn(t, yoda, hans);
  } finally {
    for (const c of closing) await c.close();
    await t.close();
  }
}

for (const door of DOORS) {
  Deno.test(`${door.name}: a private message reaches an online user, spaces and all`, async () => {
    await scene(door, async (_t, yoda, hans) => {
      assertEquals(await yoda.msgto("Hans", "hello  there"), ok());
      const push = await hans.push("msg");
      assertEquals([push.from, push.text], ["Yoda", "hello  there"]);
    });
  });

  Deno.test(`${door.name}: a private message to an offline user waits for their next login`, async () => {
    await scene(door, async (t, yoda) => {
      assertEquals(await yoda.msgto("Luke", "while you were out"), ok(true));
      const luke = await RawClient.login(t.port, "Luke", TEST_USERS.Luke);
      const push = await luke.push("msg");
      assertEquals([push.from, push.text, push.queued], ["Yoda", "while you were out", true]);
      await luke.close();
    });
  });

  Deno.test(`${door.name}: a message to someone who does not exist is refused`, async () => {
    await scene(door, async (_t, yoda) => {
      assertEquals(await yoda.msgto("Vader", "hi"), refused("unknown_user"));
    });
  });

  Deno.test(`${door.name}: a group reaches its joined members only, not the sender`, async () => {
    await scene(door, async (t, yoda, hans) => {
      const luke = await RawClient.login(t.port, "Luke", TEST_USERS.Luke);
      try {
        assert((await yoda.createGroup("rebels", ["Hans", "Luke"])).ok);
        await hans.expectOk("joingroup", ["rebels"]);
        assertEquals(await yoda.groupmsg("rebels", "to the group"), ok());
        const got = await hans.push("groupmsg");
        assertEquals([got.group, got.from, got.text], ["rebels", "Yoda", "to the group"]);
        await hans.expectOk("groupmsg", ["rebels", "reply"]);
        const back = (await yoda.shown()).filter((m) => m.group === "rebels");
        assertEquals(back, [{ from: "Hans", text: "reply", group: "rebels" }]);
        // Luke is invited, not joined: nothing reaches him.
        await luke.expectOk("ping");
        assertEquals(luke.pushes("groupmsg"), []);
      } finally {
        await luke.close();
      }
    });
  });

  Deno.test(`${door.name}: joining needs an invitation; an invited user joins`, async () => {
    await scene(door, async (_t, yoda, hans) => {
      await hans.expectOk("creategroup", ["jedi", "Luke"]);
      assertEquals(await yoda.join("jedi"), refused("not_invited"));
      await hans.expectOk("invite", ["jedi", "Yoda"]);
      assertEquals(await yoda.join("jedi"), ok());
      const notice = await hans.push("member", (p) => p.change === "joined");
      assertEquals([notice.user, notice.group], ["Yoda", "jedi"]);
    });
  });

  Deno.test(`${door.name}: a joined member invites others, online or not, once`, async () => {
    await scene(door, async (_t, yoda, hans) => {
      assert((await yoda.createGroup("rebels", ["Luke"])).ok);
      assertEquals(await yoda.invite("rebels", ["Hans", "Leia"]), ok());
      const invite = await hans.push("invite");
      assertEquals([invite.group, invite.from], ["rebels", "Yoda"]);
      assertEquals(await yoda.invite("rebels", ["Hans"]), refused("already_member"));
      assertEquals(await yoda.invite("rebels", ["Vader"]), refused("unknown_user"));
    });
  });

  Deno.test(`${door.name}: leaving a group stops its messages and sending to it`, async () => {
    await scene(door, async (_t, yoda, hans) => {
      await hans.expectOk("creategroup", ["rebels", "Yoda"]);
      assert((await yoda.join("rebels")).ok);
      assertEquals(await yoda.leave("rebels"), ok());
      const left = await hans.push("member", (p) => p.change === "left");
      assertEquals(left.user, "Yoda");
      await hans.expectOk("groupmsg", ["rebels", "after you left"]);
      assertEquals((await yoda.shown()).filter((m) => m.group === "rebels"), []);
      assertEquals((await yoda.groupmsg("rebels", "still here?")).ok, false);
      assertEquals(await yoda.leave("rebels"), refused("not_member"));
    });
  });

  Deno.test(`${door.name}: a group's history is its last messages, oldest first`, async () => {
    await scene(door, async (_t, yoda, hans) => {
      assert((await yoda.createGroup("rebels", ["Hans"])).ok);
      await hans.expectOk("joingroup", ["rebels"]);
      for (const text of ["one", "two", "three"]) await hans.expectOk("groupmsg", ["rebels", text]);
      assertEquals(await yoda.history("rebels", 2), ["two", "three"]);
    });
  });

  Deno.test(`${door.name}: who is online is the same list on every door`, async () => {
    await scene(door, async (_t, yoda) => {
      assertEquals(await yoda.online(["Hans", "Luke"]), ["Hans"]);
    });
  });

  Deno.test(`${door.name}: wrong passwords count per username and block it`, async () => {
    await scene(door, async (t) => {
      assertEquals(await door.login(t, "Luke", "wrong"), refused("bad_password"));
      // The second failure, on the native door: they add up across doors.
      const c = await RawClient.connect(t.port);
      await c.expectOk("hello", ["2"]);
      await c.expectOk("user", ["Luke"]);
      assertEquals((await c.request("pass", ["wrong", "0"])).code, "now_blocked");
      await c.close();
      assertEquals(await door.login(t, "Luke", TEST_USERS.Luke), refused("blocked"));
    }, { maxAttempts: 2 });
  });
}

import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import {
  loginConnection,
  logoutConnection,
  startTestServer,
  tickingClock,
} from "../helpers/test_server.ts";

Deno.test("/history USER shows the private messages both ways, oldest first", async () => {
  const s = await startTestServer({ clock: tickingClock() });
  const yoda = await loginConnection(s, "Yoda");
  const hans = await loginConnection(s, "Hans");
  try {
    await yoda.conn.request("msgto", ["Hans", "one"]);
    await hans.conn.request("msgto", ["Yoda", "two"]);
    await yoda.conn.request("msgto", ["Luke", "not with Hans"]);
    await yoda.conn.request("msgto", ["Hans", "three  spaced"]);

    const res = await yoda.conn.request("history", ["Hans"]);
    assert(res.ok);
    assertEquals(res.lines[0], "Last 3 messages with Hans:");
    assertMatch(res.lines[1], /^\d\d \w{3} \d{4} \d\d:\d\d:\d\d, Yoda: one$/);
    assertMatch(res.lines[2], /, Hans: two$/);
    assertMatch(res.lines[3], /, Yoda: three {2}spaced$/);
    const data = res.data as { kind: string; messages: { from: string; to: string }[] };
    assertEquals(data.kind, "user");
    assertEquals(data.messages.map((m) => `${m.from}>${m.to}`), [
      "Yoda>Hans",
      "Hans>Yoda",
      "Yoda>Hans",
    ]);

    const last2 = await hans.conn.request("history", ["Yoda", "2"]);
    assertEquals(last2.lines.length, 3);
    assertMatch(last2.lines[1], /, Hans: two$/);
    const last1 = await hans.conn.request("history", ["Yoda", "1"]);
    assertEquals(last1.lines[0], "Last message with Yoda:");

    const none = await hans.conn.request("history", ["Luke"]);
    assertEquals(none.lines, ["No messages with Luke yet."]);
  } finally {
    await logoutConnection(yoda);
    await logoutConnection(hans);
    await s.close();
  }
});

Deno.test("/history checks its count, its target and membership", async () => {
  const s = await startTestServer({ clock: tickingClock() });
  const yoda = await loginConnection(s, "Yoda");
  const hans = await loginConnection(s, "Hans");
  const luke = await loginConnection(s, "Luke");
  try {
    const codes = async (args: string[]) => {
      const r = await yoda.conn.request("history", args);
      return [r.ok, r.code, r.lines.join("|")];
    };
    assertEquals(await codes(["Hans", "0"]), [
      false,
      "bad_count",
      'Invalid count "0": expected a number from 1 to 200.',
    ]);
    assertEquals((await codes(["Hans", "x"]))[1], "bad_count");
    assertEquals((await codes(["Hans", "5000"]))[0], true);
    assertEquals(await codes(["Nobody"]), [
      false,
      "unknown_target",
      "No user or group named Nobody.",
    ]);
    assertEquals((await codes(["Yoda"]))[1], "self");
    assertEquals((await codes(["Hans", "1", "2"]))[1], "usage");
    assertEquals((await codes([]))[1], "usage");

    await hans.conn.request("creategroup", ["Jedi", "Luke"]);
    assertEquals(await codes(["Jedi"]), [false, "not_member", "You are not in this group chat."]);
    const invited = await luke.conn.request("history", ["Jedi"]);
    assertEquals(invited.code, "not_joined");
  } finally {
    for (const c of [yoda, hans, luke]) await logoutConnection(c);
    await s.close();
  }
});

Deno.test("/history GROUP shows the last N group messages to a joined member", async () => {
  const s = await startTestServer({ clock: tickingClock() });
  const yoda = await loginConnection(s, "Yoda");
  const hans = await loginConnection(s, "Hans");
  try {
    await yoda.conn.request("creategroup", ["Jedi", "Hans"]);
    const empty = await yoda.conn.request("history", ["Jedi"]);
    assertEquals(empty.lines, ["No messages in Jedi yet."]);
    await hans.conn.request("joingroup", ["Jedi"]);
    for (let i = 1; i <= 25; i++) {
      await (i % 2 ? yoda : hans).conn.request("groupmsg", ["Jedi", `m${i}`]);
    }
    const res = await hans.conn.request("history", ["Jedi"]);
    assertEquals(res.lines.length, 21);
    assertEquals(res.lines[0], "Last 20 messages in Jedi:");
    assertMatch(res.lines[1], /, Jedi, Hans: m6$/);
    assertMatch(res.lines[20], /, Jedi, Yoda: m25$/);
    const three = await hans.conn.request("history", ["Jedi", "3"]);
    const data = three.data as { kind: string; messages: { seq: number; text: string }[] };
    assertEquals(data.kind, "group");
    assertEquals(data.messages.map((m) => [m.seq, m.text]), [[23, "m23"], [24, "m24"], [
      25,
      "m25",
    ]]);
  } finally {
    await logoutConnection(yoda);
    await logoutConnection(hans);
    await s.close();
  }
});

Deno.test("/groups lists joined groups and invitations", async () => {
  const s = await startTestServer({ clock: tickingClock() });
  const yoda = await loginConnection(s, "Yoda");
  const hans = await loginConnection(s, "Hans");
  const luke = await loginConnection(s, "Luke");
  try {
    assertEquals((await hans.conn.request("groups")).lines, [
      "You are in no group chat and have no invitations.",
    ]);
    await yoda.conn.request("creategroup", ["Jedi", "Hans", "Luke"]);
    await luke.conn.request("creategroup", ["Rebels", "Hans"]);
    await hans.conn.request("joingroup", ["Rebels"]);
    const res = await hans.conn.request("groups");
    assertEquals(res.lines, [
      "Jedi: invited by Yoda, type /joingroup Jedi to join",
      "Rebels: joined, members: Hans Luke",
    ]);
    assertEquals(res.data, {
      groups: [
        { group: "Jedi", state: "invited", creator: "Yoda", invitedBy: "Yoda", members: ["Yoda"] },
        { group: "Rebels", state: "joined", creator: "Luke", members: ["Hans", "Luke"] },
      ],
    });
  } finally {
    for (const c of [yoda, hans, luke]) await logoutConnection(c);
    await s.close();
  }
});

Deno.test("/leavegroup removes the membership and leaves the group log untouched", async () => {
  const s = await startTestServer({ clock: tickingClock() });
  const yoda = await loginConnection(s, "Yoda");
  const hans = await loginConnection(s, "Hans");
  try {
    await yoda.conn.request("creategroup", ["Jedi", "Hans"]);
    await hans.conn.request("joingroup", ["Jedi"]);
    await hans.conn.request("groupmsg", ["Jedi", "hello"]);
    const logBefore = s.read("Jedi_messagelog.txt");

    const left = await hans.conn.request("leavegroup", ["Jedi"]);
    assertEquals([left.ok, left.lines], [true, ["You have left the group chat Jedi."]]);
    assertEquals(await yoda.nextPush("member"), {
      t: "push",
      ev: "member",
      group: "Jedi",
      user: "Hans",
      change: "joined",
    });
    assertEquals(await yoda.nextPush("member"), {
      t: "push",
      ev: "member",
      group: "Jedi",
      user: "Hans",
      change: "left",
    });

    const after = await hans.conn.request("groupmsg", ["Jedi", "still here?"]);
    assertEquals([after.ok, after.lines], [false, ["You are not in this group chat."]]);
    const again = await hans.conn.request("leavegroup", ["Jedi"]);
    assertEquals(again.lines, ["You are not in this group chat."]);
    const none = await hans.conn.request("leavegroup", ["Sith"]);
    assertEquals(none.lines, ["Groupchat Sith doesn't exist."]);
    assertEquals(s.read("Jedi_messagelog.txt"), logBefore);
    assertEquals((await hans.conn.request("groups")).data, { groups: [] });
    const yodaGroups = (await yoda.conn.request("groups")).lines;
    assertEquals(yodaGroups, ["Jedi: joined, members: Yoda"]);
  } finally {
    await logoutConnection(yoda);
    await logoutConnection(hans);
    await s.close();
  }
});

/** Runs `fn` with the path of a database file in a fresh temp dir, removed afterwards. */

import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { formatTimestamp } from "../../shared/time.ts";
import { RawClient } from "../helpers/raw_client.ts";
import { TEST_USERS, withUsers } from "../helpers/test_server.ts";

const TS = /^\d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2}$/;

Deno.test("/msgto delivers to the receiver and acknowledges with the time", async () => {
  await withUsers(["Yoda", "Hans"], async (t, [yoda, hans]) => {
    const ts = formatTimestamp(t.clock.now);
    const res = await yoda.request("msgto", ["Hans", "hello  there, spaces kept"]);
    assertEquals(res.lines, [`message sent at ${ts}.`]);
    const push = await hans.push("msg");
    assertEquals(push, {
      t: "push",
      ev: "msg",
      seq: 1,
      from: "Yoda",
      ts,
      at: t.clock.now,
      text: "hello  there, spaces kept",
    });
    assertMatch(ts, TS);
  });
});

Deno.test("/msgto to yourself or an unknown user is a clear error", async () => {
  await withUsers(["Yoda"], async (_t, [yoda]) => {
    const self = await yoda.request("msgto", ["Yoda", "hi"]);
    assertEquals([self.ok, self.code], [false, "self"]);
    const unknown = await yoda.request("msgto", ["Vader", "hi"]);
    assertEquals([unknown.code, unknown.lines], ["unknown_user", [
      "Vader is not a registered user.",
    ]]);
  });
});

Deno.test("missing arguments get the command's usage; unknown commands an error", async () => {
  await withUsers(["Yoda"], async (_t, [yoda]) => {
    assertEquals((await yoda.request("msgto", ["Hans"])).lines, ["Usage: /msgto USER TEXT"]);
    assertEquals((await yoda.request("creategroup", ["g"])).lines, [
      "Usage: /creategroup GROUP USER [USER ...]",
    ]);
    assertEquals((await yoda.request("joingroup")).lines, ["Usage: /joingroup GROUP"]);
    assertEquals((await yoda.request("groupmsg", ["g"])).lines, ["Usage: /groupmsg GROUP TEXT"]);
    assertEquals((await yoda.request("p2pvideo", ["Hans"])).lines, ["Usage: /p2pvideo USER FILE"]);
    assertEquals((await yoda.request("activeuser", ["x"])).lines, ["Usage: /activeuser"]);
    const bad = await yoda.request("dance");
    assertEquals([bad.code, bad.lines], ["unknown_command", ["Error. Invalid command!"]]);
  });
});

Deno.test("/msgto rejects control characters and overlong text", async () => {
  await withUsers(["Yoda", "Hans"], async (_t, [yoda]) => {
    assertEquals((await yoda.request("msgto", ["Hans", "a\nb"])).code, "bad_text");
    assertEquals((await yoda.request("msgto", ["Hans", "x".repeat(5000)])).code, "too_long");
  });
});

Deno.test("/activeuser lists the other online users, or says there are none", async () => {
  await withUsers(["Yoda"], async (t, [yoda]) => {
    assertEquals((await yoda.request("activeuser")).lines, ["no other active user"]);
    const since = formatTimestamp(t.clock.now);
    const hans = await RawClient.login(t.port, "Hans", TEST_USERS.Hans, 6666);
    const res = await yoda.request("activeuser");
    assertEquals(res.lines, [`Hans, 127.0.0.1, 6666, active since ${since}.`]);
    await hans.close();
  });
});

Deno.test("/creategroup creates a group with the creator joined and invites the others", async () => {
  await withUsers(["Yoda", "Hans", "Luke"], async (t, [yoda, hans, luke]) => {
    const res = await yoda.request("creategroup", ["jedi", "Hans", "Luke"]);
    assertEquals(res.lines, [
      "Group chat room has been created, room name: jedi, users in this room: Yoda Hans Luke",
    ]);
    const invite = await hans.push("invite");
    assertEquals([invite.ev, (invite as { group: string }).group], ["invite", "jedi"]);
    await luke.push("invite");
    assertEquals(t.read("jedi_messagelog.txt"), "");
    const taken = await hans.request("creategroup", ["jedi", "Yoda"]);
    assertEquals(taken.lines, ["Failed to create the group chat jedi: group name exists!"]);
  });
});

Deno.test("/creategroup refuses bad names, no members and unknown users; offline ones are invited", async () => {
  await withUsers(["Yoda", "Hans"], async (_t, [yoda]) => {
    assertEquals((await yoda.request("creategroup", ["bad-name", "Hans"])).code, "bad_name");
    assertEquals((await yoda.request("creategroup", ["g1", "Yoda"])).code, "no_members");
    const unknown = await yoda.request("creategroup", ["g1", "Vader"]);
    assertEquals(unknown.lines, [
      "Failed to create the group chat g1: Vader is not a registered user.",
    ]);
    // Luke is offline: invited all the same, he sees it at his next login (groups_test.ts).
    const offline = await yoda.request("creategroup", ["g1", "Hans", "Luke"]);
    assertEquals(offline.lines, [
      "Group chat room has been created, room name: g1, users in this room: Yoda Hans Luke",
    ]);
  });
});

Deno.test("/joingroup: joins once, and says when the group is missing or you are not invited", async () => {
  await withUsers(["Yoda", "Hans", "Luke"], async (_t, [yoda, hans, luke]) => {
    await yoda.expectOk("creategroup", ["rebels", "Hans"]);
    assertEquals((await hans.request("joingroup", ["nope"])).lines, [
      "Groupchat nope doesn't exist.",
    ]);
    assertEquals((await hans.request("joingroup", ["rebels"])).lines, [
      "Joined the group chat: rebels successfully.",
    ]);
    assertEquals((await hans.request("joingroup", ["rebels"])).lines, [
      "You have already joined Groupchat rebels",
    ]);
    assertEquals((await yoda.request("joingroup", ["rebels"])).lines, [
      "You have already joined Groupchat rebels",
    ]);
    const uninvited = await luke.request("joingroup", ["rebels"]);
    assertEquals([uninvited.ok, uninvited.code], [false, "not_invited"]);
  });
});

Deno.test("/groupmsg reaches every online joined member but the sender", async () => {
  await withUsers(["Yoda", "Hans", "Luke", "Leia"], async (t, [yoda, hans, luke, leia]) => {
    await yoda.expectOk("creategroup", ["g", "Hans", "Luke"]);
    await hans.expectOk("joingroup", ["g"]);
    const ts = formatTimestamp(t.clock.now);
    assertEquals((await yoda.request("groupmsg", ["g", "hello  group"])).lines, [
      "Group chat message sent.",
    ]);
    const got = await hans.push("groupmsg");
    assertEquals(got, {
      t: "push",
      ev: "groupmsg",
      group: "g",
      seq: 1,
      from: "Yoda",
      ts,
      at: t.clock.now,
      text: "hello  group",
    });
    // Luke is invited but has not joined; Leia is not a member; Yoda sent it.
    await hans.expectOk("groupmsg", ["g", "reply"]);
    await yoda.push("groupmsg", (p) => p.text === "reply");
    assertEquals(luke.pushes("groupmsg"), []);
    assertEquals(leia.pushes("groupmsg"), []);
    assertEquals(yoda.pushes("groupmsg").length, 1);
  });
});

Deno.test("/groupmsg errors: no group, not a member, invited but not joined", async () => {
  await withUsers(["Yoda", "Hans", "Luke"], async (_t, [yoda, hans, luke]) => {
    await yoda.expectOk("creategroup", ["g", "Hans"]);
    assertEquals((await yoda.request("groupmsg", ["nope", "x"])).lines, [
      "The group chat does not exist.",
    ]);
    assertEquals((await luke.request("groupmsg", ["g", "x"])).lines, [
      "You are not in this group chat.",
    ]);
    assertEquals((await hans.request("groupmsg", ["g", "x"])).lines, [
      "Please join the group before sending messages.",
    ]);
  });
});

Deno.test("/p2pvideo: offline receiver is refused; an online one gets the offer", async () => {
  await withUsers(["Yoda", "Hans"], async (_t, [yoda, hans]) => {
    const sha = "a".repeat(64);
    assertEquals((await yoda.request("p2pvideo", ["Luke", "v.mp4", "10", sha])).lines, [
      "Luke is offline",
    ]);
    const res = await yoda.request("p2pvideo", ["Hans", "dir/v.mp4", "10", sha]);
    assert(res.ok);
    assertEquals([res.data?.host, res.data?.port, res.data?.file], ["127.0.0.1", 7001, "v.mp4"]);
    const offer = await hans.push("transfer") as unknown as Record<string, unknown>;
    assertEquals([offer.from, offer.file, offer.size, offer.sha256], ["Yoda", "v.mp4", 10, sha]);
    assertEquals(offer.id, res.data?.id);
    assertEquals(offer.secret, res.data?.secret);
  });
});

Deno.test("/logout says bye, closes the session and the user goes offline", async () => {
  await withUsers(["Yoda", "Hans"], async (_t, [yoda, hans]) => {
    assertEquals((await hans.request("logout")).lines, ["Bye, Hans!"]);
    await hans.closed;
    assertEquals((await yoda.request("activeuser")).lines, ["no other active user"]);
  });
});

Deno.test("/help lists every command with its usage", async () => {
  await withUsers(["Yoda"], async (_t, [yoda]) => {
    const text = (await yoda.request("help")).lines.join("\n");
    for (
      const usage of [
        "/msgto USER TEXT",
        "/activeuser",
        "/creategroup GROUP USER",
        "/joingroup GROUP",
      ]
    ) {
      assert(text.includes(usage), usage);
    }
    for (const usage of ["/groupmsg GROUP TEXT", "/p2pvideo USER FILE", "/logout", "/help"]) {
      assert(text.includes(usage), usage);
    }
  });
});

Deno.test("a message to an offline user is queued and delivered at next login with its time", async () => {
  await withUsers(["Yoda"], async (t, [yoda]) => {
    const sentAtMs = t.clock.now;
    const sentAt = formatTimestamp(sentAtMs);
    const res = await yoda.request("msgto", ["Luke", "while you were out"]);
    assertEquals([res.ok, res.code], [true, "queued"]);
    assert(res.lines[0].includes("offline"));
    t.clock.advance(3_600_000);
    const luke = await RawClient.login(t.port, "Luke", TEST_USERS.Luke);
    const push = await luke.push("msg");
    assertEquals(push, {
      t: "push",
      ev: "msg",
      seq: 1,
      from: "Yoda",
      ts: sentAt,
      at: sentAtMs,
      text: "while you were out",
      queued: true,
    });
    // Not acknowledged: it comes again at the next login.
    await luke.close();
    const unacked = await RawClient.login(t.port, "Luke", TEST_USERS.Luke);
    assertEquals((await unacked.push("msg")).text, "while you were out");
    await unacked.ack();
    await unacked.close();
    // Acknowledged: delivered once only.
    const again = await RawClient.login(t.port, "Luke", TEST_USERS.Luke);
    await again.request("activeuser");
    assertEquals(again.pushes("msg"), []);
    await again.close();
  });
});

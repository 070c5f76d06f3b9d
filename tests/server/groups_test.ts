/**
 * Groups that grow: invitations to users who are offline, /invite by any
 * joined member, re-invitation after leaving, notices to members, missed
 * messages at login, and one case-insensitive namespace for users and groups.
 */

import { assert, assertEquals } from "../helpers/assert.ts";
import { type AnyFrame, RawClient } from "../helpers/raw_client.ts";
import { startTestServer, TEST_USERS, withUsers } from "../helpers/test_server.ts";

const login = (port: number, user: string) => RawClient.login(port, user, TEST_USERS[user]);
const notices = (c: RawClient) => c.pushes("notice").map((p) => p.text as string);
const members = (c: RawClient) =>
  c.pushes("member").map((p: AnyFrame) => `${p.user} ${p.change}${p.group ? ` ${p.group}` : ""}`);

Deno.test("/creategroup invites users who are offline; they see the invitation at their next login", async () => {
  await withUsers(["Yoda"], async (t, [yoda]) => {
    const res = await yoda.expectOk("creategroup", ["rebels", "Leia", "Luke"]);
    assertEquals(res.lines, [
      "Group chat room has been created, room name: rebels, users in this room: Yoda Leia Luke",
    ]);
    const leia = await login(t.port, "Leia");
    await leia.waitFor(() => notices(leia).length > 0);
    assertEquals(notices(leia), [
      "Yoda invited you to the group chat rebels: type /joingroup rebels to join.",
    ]);
    await leia.expectOk("joingroup", ["rebels"]);
    await yoda.waitFor(() => members(yoda).includes("Leia joined rebels"));
    await leia.close();
  });
});

Deno.test("/invite by a joined member reaches online and offline users; others may not invite", async () => {
  await withUsers(["Yoda", "Hans", "Luke"], async (t, [yoda, hans, luke]) => {
    await yoda.expectOk("creategroup", ["rebels", "Hans"]);
    assertEquals((await hans.request("invite", ["rebels", "Luke"])).code, "not_joined");
    assertEquals((await luke.request("invite", ["rebels", "Leia"])).code, "not_member");
    await hans.expectOk("joingroup", ["rebels"]);
    const res = await hans.expectOk("invite", ["rebels", "Luke", "Leia", "Yoda"]);
    assertEquals(res.lines, [
      "Invited Luke, Leia to the group chat rebels. Already in it: Yoda.",
    ]);
    const pushed = await luke.push("invite");
    assertEquals([pushed.group, pushed.from], ["rebels", "Hans"]);
    assertEquals([...pushed.members].sort(), ["Hans", "Leia", "Luke", "Yoda"]);
    assertEquals((await hans.request("invite", ["rebels", "Luke"])).code, "already_member");
    assertEquals((await hans.request("invite", ["rebels", "Vader"])).code, "unknown_user");
    assertEquals((await hans.request("invite", ["sith", "Luke"])).lines, [
      "Groupchat sith doesn't exist.",
    ]);
    const leia = await login(t.port, "Leia");
    await leia.waitFor(() => notices(leia).length > 0);
    assertEquals(notices(leia), [
      "Hans invited you to the group chat rebels: type /joingroup rebels to join.",
    ]);
    await leia.close();
  });
});

Deno.test("a member who left can be invited again, and members hear of joins, leaves and presence", async () => {
  await withUsers(["Yoda", "Hans"], async (t, [yoda, hans]) => {
    await yoda.expectOk("creategroup", ["rebels", "Hans"]);
    await hans.expectOk("joingroup", ["rebels"]);
    await hans.expectOk("leavegroup", ["rebels"]);
    await yoda.expectOk("invite", ["rebels", "Hans"]);
    await hans.expectOk("joingroup", ["rebels"]);
    await yoda.waitFor(() => members(yoda).length >= 3);
    assertEquals(members(yoda), ["Hans joined rebels", "Hans left rebels", "Hans joined rebels"]);
    await hans.expectOk("logout");
    await yoda.waitFor(() => members(yoda).includes("Hans offline"));
    const again = await login(t.port, "Hans");
    await yoda.waitFor(() => members(yoda).includes("Hans online"));
    await again.close();
  });
});

Deno.test("group messages missed while offline arrive at login; beyond the replay bound they are counted", async () => {
  const t = await startTestServer({ limits: { commandsPerSecond: 0 } });
  try {
    const yoda = await login(t.port, "Yoda");
    let hans = await login(t.port, "Hans");
    await yoda.expectOk("creategroup", ["rebels", "Hans"]);
    await hans.expectOk("joingroup", ["rebels"]);
    await hans.expectOk("logout");
    for (let i = 0; i < 5; i++) await yoda.expectOk("groupmsg", ["rebels", `while away ${i}`]);
    hans = await login(t.port, "Hans");
    await hans.waitFor(() => hans.pushes("groupmsg").length === 5);
    const got = hans.pushes("groupmsg");
    assertEquals(got.map((p) => p.text), [0, 1, 2, 3, 4].map((i) => `while away ${i}`));
    assert(got.every((p) => p.queued === true && p.group === "rebels"));
    await hans.ack();
    await hans.expectOk("logout");

    for (let i = 0; i < 250; i++) await yoda.expectOk("groupmsg", ["rebels", `flood ${i}`]);
    hans = await login(t.port, "Hans");
    await hans.waitFor(() => hans.pushes("groupmsg").length === 200);
    const flood = hans.pushes("groupmsg").map((p) => p.text);
    assertEquals(flood, Array.from({ length: 200 }, (_, i) => `flood ${i + 50}`));
    assert(
      notices(hans).includes("50 earlier messages in rebels while you were away: /history rebels"),
    );
    await hans.close();
    await yoda.close();
  } finally {
    await t.close();
  }
});

Deno.test("users and groups share one namespace, compared case-insensitively", async () => {
  await withUsers(["Yoda", "Hans"], async (_t, [yoda, hans]) => {
    const asUser = await yoda.request("creategroup", ["Hans", "Luke"]);
    assertEquals([asUser.code, asUser.lines], ["exists", [
      "Failed to create the group chat Hans: Hans is a username; pick another name.",
    ]]);
    assertEquals((await yoda.request("creategroup", ["hans", "Luke"])).code, "exists");
    await yoda.expectOk("creategroup", ["rebels", "Hans"]);
    assertEquals((await hans.request("creategroup", ["Rebels", "Yoda"])).lines, [
      "Failed to create the group chat Rebels: group name exists!",
    ]);
    // The group answers to any case, under its own name.
    await hans.expectOk("joingroup", ["REBELS"]);
    const sent = await hans.expectOk("groupmsg", ["Rebels", "hi"]);
    assert(sent.ok);
    assertEquals((await yoda.push("groupmsg")).group, "rebels");
    await yoda.expectOk("msgto", ["Hans", "private"]);
    assertEquals((await hans.expectOk("history", ["Yoda"])).data?.kind, "user");
  });
});

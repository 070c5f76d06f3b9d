import { assertEquals } from "../helpers/assert.ts";
import { formatTimestamp } from "../../shared/time.ts";
import { RawClient } from "../helpers/raw_client.ts";
import { startTestServer, TEST_USERS, withUsers } from "../helpers/test_server.ts";

Deno.test("formatTimestamp() writes DD Mon YYYY HH:MM:SS in local time", () => {
  assertEquals(formatTimestamp(new Date(2023, 5, 1, 15, 0, 1).getTime()), "01 Jun 2023 15:00:01");
  assertEquals(formatTimestamp(new Date(2022, 11, 9, 9, 5, 7).getTime()), "09 Dec 2022 09:05:07");
});

Deno.test("userlog.txt lists who is online and is renumbered after a logout", async () => {
  const t = await startTestServer();
  try {
    const ts = formatTimestamp(t.clock.now);
    const yoda = await RawClient.login(t.port, "Yoda", TEST_USERS.Yoda, 6666);
    const hans = await RawClient.login(t.port, "Hans", TEST_USERS.Hans, 6667);
    const luke = await RawClient.login(t.port, "Luke", TEST_USERS.Luke, 6668);
    assertEquals(
      t.read("userlog.txt"),
      `1; ${ts}; Yoda; 127.0.0.1; 6666\n2; ${ts}; Hans; 127.0.0.1; 6667\n` +
        `3; ${ts}; Luke; 127.0.0.1; 6668\n`,
    );
    await yoda.expectOk("logout");
    await yoda.closed;
    assertEquals(
      t.read("userlog.txt"),
      `1; ${ts}; Hans; 127.0.0.1; 6667\n2; ${ts}; Luke; 127.0.0.1; 6668\n`,
    );
    await hans.close();
    await luke.close();
    await yoda.close();
  } finally {
    await t.close();
  }
});

Deno.test("a killed client is removed from userlog.txt and presence", async () => {
  const t = await startTestServer();
  try {
    const ts = formatTimestamp(t.clock.now);
    const yoda = await RawClient.login(t.port, "Yoda", TEST_USERS.Yoda, 6666);
    const hans = await RawClient.login(t.port, "Hans", TEST_USERS.Hans, 6667);
    const luke = await RawClient.login(t.port, "Luke", TEST_USERS.Luke, 6668);
    await hans.close(); // no /logout: the socket just goes away
    // Wait until the server has noticed.
    for (let i = 0; i < 100; i++) {
      if ((await yoda.request("activeuser")).lines.length === 1) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    assertEquals((await yoda.request("activeuser")).lines.map((l) => l.split(",")[0]), ["Luke"]);
    assertEquals(
      t.read("userlog.txt"),
      `1; ${ts}; Yoda; 127.0.0.1; 6666\n2; ${ts}; Luke; 127.0.0.1; 6668\n`,
    );
    await yoda.close();
    await luke.close();
  } finally {
    await t.close();
  }
});

Deno.test("userlog.txt is emptied when the server starts", async () => {
  const t = await startTestServer();
  try {
    const yoda = await RawClient.login(t.port, "Yoda", TEST_USERS.Yoda);
    await yoda.close();
    await t.restart();
    assertEquals(t.read("userlog.txt"), "");
  } finally {
    await t.close();
  }
});

Deno.test("messagelog.txt numbers every private message from 1 across users", async () => {
  await withUsers(["Yoda", "Hans"], async (t, [yoda, hans]) => {
    const ts = formatTimestamp(t.clock.now);
    await yoda.expectOk("msgto", ["Hans", "first one"]);
    await hans.expectOk("msgto", ["Yoda", "second  one"]);
    await yoda.expectOk("msgto", ["Luke", "queued for Luke"]);
    assertEquals(
      t.read("messagelog.txt"),
      `1; ${ts}; Hans; first one\n2; ${ts}; Yoda; second  one\n3; ${ts}; Luke; queued for Luke\n`,
    );
  });
});

Deno.test("each group has its own log, created with the group and numbered from 1", async () => {
  await withUsers(["Yoda", "Hans"], async (t, [yoda, hans]) => {
    const ts = formatTimestamp(t.clock.now);
    await yoda.expectOk("creategroup", ["a", "Hans"]);
    await yoda.expectOk("creategroup", ["b", "Hans"]);
    assertEquals(t.read("a_messagelog.txt"), "");
    await hans.expectOk("joingroup", ["a"]);
    await yoda.expectOk("groupmsg", ["a", "one"]);
    await hans.expectOk("groupmsg", ["a", "two"]);
    await yoda.expectOk("groupmsg", ["b", "only in b"]);
    assertEquals(t.read("a_messagelog.txt"), `1; ${ts}; Yoda; one\n2; ${ts}; Hans; two\n`);
    assertEquals(t.read("b_messagelog.txt"), `1; ${ts}; Yoda; only in b\n`);
  });
});

Deno.test("groups, memberships, history and queued messages survive a restart", async () => {
  const t = await startTestServer();
  try {
    const yoda = await RawClient.login(t.port, "Yoda", TEST_USERS.Yoda);
    const hans = await RawClient.login(t.port, "Hans", TEST_USERS.Hans);
    await yoda.expectOk("creategroup", ["council", "Hans"]);
    await hans.expectOk("joingroup", ["council"]);
    await yoda.expectOk("groupmsg", ["council", "before restart"]);
    await yoda.expectOk("msgto", ["Luke", "queued before restart"]);
    await yoda.close();
    await hans.close();

    await t.restart();
    const yoda2 = await RawClient.login(t.port, "Yoda", TEST_USERS.Yoda);
    const hans2 = await RawClient.login(t.port, "Hans", TEST_USERS.Hans);
    assertEquals((await hans2.request("joingroup", ["council"])).lines, [
      "You have already joined Groupchat council",
    ]);
    const taken = await hans2.request("creategroup", ["council", "Yoda"]);
    assertEquals(taken.code, "exists");
    await yoda2.expectOk("groupmsg", ["council", "after restart"]);
    await hans2.push("groupmsg", (p) => p.text === "after restart");
    const lines = t.read("council_messagelog.txt").trimEnd().split("\n");
    assertEquals(lines.map((l) => l.split("; ").at(-1)), ["before restart", "after restart"]);
    assertEquals(lines.map((l) => l.split(";")[0]), ["1", "2"]);
    const luke = await RawClient.login(t.port, "Luke", TEST_USERS.Luke);
    assertEquals((await luke.push("msg")).text, "queued before restart");
    await yoda2.expectOk("msgto", ["Luke", "after"]);
    assertEquals(
      t.read("messagelog.txt").trimEnd().split("\n").map((l) => l.split(";")[0]),
      ["1", "2"],
    );
    await yoda2.close();
    await hans2.close();
    await luke.close();
  } finally {
    await t.close();
  }
});

Deno.test("a text log that disagrees with the database is rewritten at start", async () => {
  const t = await startTestServer();
  try {
    const yoda = await RawClient.login(t.port, "Yoda", TEST_USERS.Yoda);
    await yoda.expectOk("msgto", ["Hans", "one"]);
    await yoda.expectOk("msgto", ["Hans", "two"]);
    await yoda.close();
    const before = t.read("messagelog.txt");
    // Simulate a crash between the database write and the log append.
    Deno.writeTextFileSync(`${t.dataDir}/messagelog.txt`, before.split("\n")[0] + "\n");
    await t.restart();
    assertEquals(t.read("messagelog.txt"), before);
  } finally {
    await t.close();
  }
});

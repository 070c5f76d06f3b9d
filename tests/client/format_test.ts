import type { ClientEvent } from "../../client/events.ts";
import {
  formatBytes,
  formatCommandList,
  formatEvent,
  formatPush,
  type OutputLine,
} from "../../client/format.ts";
import { plainStyle, type Style } from "../../client/style.ts";
import type { PushFrame, ResponseFrame } from "../../shared/protocol.ts";
import { assertEquals } from "../helpers/assert.ts";

/** Shows where each style applies, without escape codes. */
const tags: Style = {
  name: (s) => `<n:${s}>`,
  group: (s) => `<g:${s}>`,
  error: (s) => `<e:${s}>`,
  system: (s) => `<s:${s}>`,
  time: (s) => `<t:${s}>`,
  mention: (s) => `<m:${s}>`,
};

const TS = "01 Jun 2023 15:00:01";

const res = (
  lines: string[],
  data?: Record<string, unknown>,
  ok = true,
  code = ok ? "ok" : "failed",
): ResponseFrame => ({ t: "res", id: 1, ok, code, lines, ...(data ? { data } : {}) });

function show(event: ClientEvent, style: Style = plainStyle): OutputLine[] {
  return formatEvent(event, { style });
}

const response = (cmd: string, r: ResponseFrame, args: string[] = []): ClientEvent => ({
  kind: "response",
  cmd,
  args,
  res: r,
});

Deno.test("formatBytes() counts in binary units", () => {
  assertEquals(formatBytes(0), "0 B");
  assertEquals(formatBytes(1023), "1023 B");
  assertEquals(formatBytes(1536), "1.5 KiB");
  assertEquals(formatBytes(12.3 * 2 ** 20), "12.3 MiB");
  assertEquals(formatBytes(2 ** 50), "1024.0 TiB");
});

Deno.test("formatPush() shows private and group messages as SPEC §3 words them", () => {
  const msg: PushFrame = {
    t: "push",
    ev: "msg",
    seq: 1,
    at: 0,
    from: "Hans",
    ts: TS,
    text: "hi  there",
  };
  assertEquals(formatPush(msg), `${TS}, Hans: hi  there`);
  assertEquals(formatPush({ ...msg, queued: true }), `${TS}, Hans: hi  there`);
  assertEquals(formatPush(msg, tags), `<t:${TS}>, <n:Hans>: hi  there`);
  const group: PushFrame = {
    t: "push",
    ev: "groupmsg",
    seq: 1,
    at: 0,
    group: "Jedi",
    from: "Yoda",
    ts: TS,
    text: "Do or do not",
  };
  assertEquals(formatPush(group), `${TS}, Jedi, Yoda: Do or do not`);
  assertEquals(formatPush(group, tags), `<t:${TS}>, <g:Jedi>, <n:Yoda>: Do or do not`);
});

Deno.test("formatPush() shows invitations, transfers and notices as system lines", () => {
  const invite: PushFrame = {
    t: "push",
    ev: "invite",
    group: "Jedi",
    from: "Yoda",
    ts: TS,
    members: ["Yoda", "Hans", "Luke"],
  };
  const inviteLine =
    "Yoda invited you to the group chat Jedi (Yoda Hans Luke). Type /joingroup Jedi to join.";
  assertEquals(formatPush(invite), inviteLine);
  assertEquals(formatPush(invite, tags), `<s:${inviteLine}>`);
  const transfer: PushFrame = {
    t: "push",
    ev: "transfer",
    id: "ab",
    secret: "s",
    from: "Hans",
    fromIp: "127.0.0.1",
    file: "clip.mp4",
    size: 5 * 2 ** 20,
    sha256: "0".repeat(64),
  };
  assertEquals(formatPush(transfer), "Hans is sending you clip.mp4 (5.0 MiB).");
  assertEquals(formatPush(transfer, tags), "<s:Hans is sending you clip.mp4 (5.0 MiB).>");
  const notice: PushFrame = { t: "push", ev: "notice", text: "Hans left the group chat Jedi." };
  assertEquals(formatPush(notice), "Hans left the group chat Jedi.");
  assertEquals(formatPush(notice, tags), "<s:Hans left the group chat Jedi.>");
  const member = (change: "joined" | "left" | "online" | "offline", group?: string): PushFrame => ({
    t: "push",
    ev: "member",
    user: "Hans",
    change,
    ...(group ? { group } : {}),
  });
  assertEquals(formatPush(member("joined", "Jedi"), tags), "<s:Hans joined the group chat Jedi.>");
  assertEquals(formatPush(member("left", "Jedi")), "Hans left the group chat Jedi.");
  assertEquals(formatPush(member("online")), "Hans is online.");
  assertEquals(formatPush(member("offline")), "Hans went offline.");
});

Deno.test("formatPush() names an event it does not know instead of failing", () => {
  const future = { t: "push", ev: "typing", from: "Hans" } as unknown as PushFrame;
  assertEquals(formatPush(future), "Server event: typing");
});

Deno.test("formatPush() neutralises control characters from the network", () => {
  const evil: PushFrame = {
    t: "push",
    ev: "msg",
    seq: 1,
    at: 0,
    from: "Ha\x1bns",
    ts: TS,
    text: "\x1b[2Jgone\r",
  };
  assertEquals(formatPush(evil), `${TS}, Ha\uFFFDns: \uFFFD[2Jgone\uFFFD`);
});

Deno.test("formatPush() removes characters that reorder or hide text", () => {
  const spoof: PushFrame = {
    t: "push",
    ev: "msg",
    seq: 1,
    at: 0,
    from: "Hans",
    ts: TS,
    text: "open \u202Eexe.txt\u202C and \u200Bsee\u2028this",
  };
  assertEquals(formatPush(spoof), `${TS}, Hans: open exe.txt and see\uFFFDthis`);
});

Deno.test("formatCommandList() lists the commands after login", () => {
  assertEquals(
    formatCommandList(["msgto", "logout"]),
    "Enter one of the following commands (/msgto, /logout):",
  );
  assertEquals(
    formatCommandList(["help"], tags),
    "<s:Enter one of the following commands (/help):>",
  );
  assertEquals(show({ kind: "ready", user: "Yoda", commands: ["help"] }), [
    { text: "Enter one of the following commands (/help):", error: false },
  ]);
});

Deno.test("formatEvent() prints a response's lines; failures as errors", () => {
  assertEquals(show(response("msgto", res([`message sent at ${TS}.`]))), [
    { text: `message sent at ${TS}.`, error: false },
  ]);
  assertEquals(show(response("joingroup", res(["Groupchat X doesn't exist."], undefined, false))), [
    { text: "Groupchat X doesn't exist.", error: true },
  ]);
  assertEquals(
    show(response("user", res(["Invalid Username. Please try again"], undefined, false)), tags),
    [{ text: "<e:Invalid Username. Please try again>", error: true }],
  );
  assertEquals(show(response("user", res([]))), []);
  assertEquals(show(response("help", res(["Commands:", "  /help  list"]))).length, 2);
  assertEquals(show(response("logout", res(["Bye, Yoda!"])), tags), [
    { text: "Bye, Yoda!", error: false },
  ]);
});

Deno.test("formatEvent() shows the login welcome as a system line", () => {
  assertEquals(show(response("pass", res(["Welcome to TESSENGER!"], { user: "Yoda" })), tags), [
    { text: "<s:Welcome to TESSENGER!>", error: false },
  ]);
  assertEquals(
    show(response("pass", res(["Invalid Password. Please try again"], undefined, false)), tags),
    [{ text: "<e:Invalid Password. Please try again>", error: true }],
  );
});

Deno.test("formatEvent() colours the names in /activeuser lines", () => {
  const lines = [
    `Hans, 127.0.0.1, 6000, active since ${TS}.`,
    `Luke, 10.0.0.2, 0, active since ${TS}.`,
  ];
  const data = {
    users: [
      { user: "Hans", ip: "127.0.0.1", udpPort: 6000, since: 1 },
      { user: "Luke", ip: "10.0.0.2", udpPort: 0, since: 2 },
    ],
  };
  assertEquals(show(response("activeuser", res(lines, data))).map((l) => l.text), lines);
  assertEquals(show(response("activeuser", res(lines, data)), tags).map((l) => l.text), [
    `<n:Hans>, 127.0.0.1, 6000, active since ${TS}.`,
    `<n:Luke>, 10.0.0.2, 0, active since ${TS}.`,
  ]);
  const none = res(["no other active user"], { users: [] });
  assertEquals(show(response("activeuser", none), tags), [
    { text: "no other active user", error: false },
  ]);
  // Data that does not match the lines: the server's lines win.
  const odd = res(lines, { users: [{ user: "Zed" }, { user: "Luke" }] });
  assertEquals(show(response("activeuser", odd), tags).map((l) => l.text), lines);
});

Deno.test("formatEvent() shows /history from its data, names and group coloured", () => {
  const user = res([
    "Last 2 messages with Hans:",
    `${TS}, Yoda: hi`,
    `${TS}, Hans: hello`,
  ], {
    kind: "user",
    target: "Hans",
    messages: [
      { seq: 1, ts: TS, from: "Yoda", to: "Hans", text: "hi" },
      { seq: 2, ts: TS, from: "Hans", to: "Yoda", text: "hello" },
    ],
  });
  assertEquals(show(response("history", user)).map((l) => l.text), user.lines);
  assertEquals(show(response("history", user), tags).map((l) => l.text), [
    "Last 2 messages with <n:Hans>:",
    `<t:${TS}>, <n:Yoda>: hi`,
    `<t:${TS}>, <n:Hans>: hello`,
  ]);
  const group = res(["Last message in Jedi:", `${TS}, Jedi, Luke: hey`], {
    kind: "group",
    target: "Jedi",
    messages: [{ seq: 7, ts: TS, from: "Luke", text: "hey" }],
  });
  assertEquals(show(response("history", group)).map((l) => l.text), group.lines);
  assertEquals(show(response("history", group), tags).map((l) => l.text), [
    "Last message in <g:Jedi>:",
    `<t:${TS}>, <g:Jedi>, <n:Luke>: hey`,
  ]);
  const empty = res(["No messages with Hans yet."], { kind: "user", target: "Hans", messages: [] });
  assertEquals(show(response("history", empty), tags).map((l) => l.text), [
    "No messages with Hans yet.",
  ]);
  // A server whose lines differ from its data: its lines are shown as they are.
  const other = res(["Last message with Hans:", "something else"], {
    kind: "user",
    target: "Hans",
    messages: [{ seq: 1, ts: TS, from: "Yoda", to: "Hans", text: "hi" }],
  });
  assertEquals(show(response("history", other), tags).map((l) => l.text), other.lines);
  const broken = res(["Last message with Hans:", "x"], { kind: "user", messages: "nope" });
  assertEquals(show(response("history", broken), tags).map((l) => l.text), broken.lines);
});

Deno.test("formatEvent() shows /groups with group and member names coloured", () => {
  const r = res([
    "Jedi: invited by Yoda, type /joingroup Jedi to join",
    "Rebels: joined, members: Hans Luke",
  ], {
    groups: [
      { group: "Jedi", state: "invited", creator: "Yoda", members: ["Yoda"] },
      { group: "Rebels", state: "joined", creator: "Luke", members: ["Hans", "Luke"] },
    ],
  });
  assertEquals(show(response("groups", r)).map((l) => l.text), r.lines);
  assertEquals(show(response("groups", r), tags).map((l) => l.text), [
    "<g:Jedi>: invited by <n:Yoda>, type /joingroup Jedi to join",
    "<g:Rebels>: joined, members: <n:Hans> <n:Luke>",
  ]);
  const none = res(["You are in no group chat and have no invitations."], { groups: [] });
  assertEquals(show(response("groups", none), tags).map((l) => l.text), none.lines);
});

Deno.test("formatEvent() shows local errors and a lost connection as errors", () => {
  assertEquals(
    show({ kind: "error", code: "unknown_command", message: "Error. Invalid command!" }, tags),
    [{ text: "<e:Error. Invalid command!>", error: true }],
  );
  assertEquals(
    show({ kind: "error", code: "connect", message: "Cannot connect to 127.0.0.1:5000: refused" }),
    [{ text: "Cannot connect to 127.0.0.1:5000: refused", error: true }],
  );
  assertEquals(show({ kind: "disconnected", reason: "server shutting down" }), [
    { text: "Disconnected from the server: server shutting down", error: true },
  ]);
  assertEquals(show({ kind: "push", push: { t: "push", ev: "notice", text: "n" } }), [
    { text: "n", error: false },
  ]);
});

Deno.test("formatEvent() shows the end of a transfer in the SPEC's words, errors as errors", () => {
  const sent: ClientEvent = {
    kind: "transfer",
    direction: "send",
    file: "movies/clip.mp4",
    peer: "Hans",
    ok: true,
  };
  assertEquals(formatEvent(sent, { style: plainStyle }), [
    { text: "movies/clip.mp4 has been uploaded", error: false },
  ]);
  const received: ClientEvent = {
    kind: "transfer",
    direction: "receive",
    file: "clip.mp4",
    peer: "Yoda",
    ok: true,
    path: "/dl/Yoda_clip.mp4",
  };
  // Where it was saved, always: a person looks for it there.
  assertEquals(formatEvent(received, { style: plainStyle }), [
    { text: "Received clip.mp4 from Yoda (saved as /dl/Yoda_clip.mp4)", error: false },
  ]);
  const renamed: ClientEvent = { ...received, path: "/dl/Yoda_clip (1).mp4" };
  assertEquals(formatEvent(renamed, { style: plainStyle }), [
    { text: "Received clip.mp4 from Yoda (saved as /dl/Yoda_clip (1).mp4)", error: false },
  ]);
  const failed: ClientEvent = {
    kind: "transfer",
    direction: "send",
    file: "clip.mp4",
    peer: "Hans",
    ok: false,
    reason: "Cannot complete transfer: the peer stopped answering",
  };
  assertEquals(formatEvent(failed, { style: tags }), [
    {
      text: "<e:Cannot send clip.mp4 to Hans: the peer stopped answering.>",
      error: true,
    },
  ]);
  assertEquals(formatEvent({ ...failed, direction: "receive" }, { style: plainStyle }), [
    {
      text: "Cannot receive clip.mp4 from Hans: the peer stopped answering.",
      error: true,
    },
  ]);
});

Deno.test("formatPush() shows today's time as HH:MM and highlights the reader's name", () => {
  const msg: PushFrame = {
    t: "push",
    ev: "msg",
    seq: 1,
    at: 0,
    from: "Hans",
    ts: TS,
    text: "yoda? Yoda! not yodaism",
  };
  assertEquals(
    formatPush(msg, tags, { self: "Yoda", today: "01 Jun 2023" }),
    "<t:15:00>, <n:Hans>: <m:yoda>? <m:Yoda>! not yodaism",
  );
  assertEquals(formatPush(msg, plainStyle, { today: "02 Jun 2023" }), `${TS}, Hans: ${msg.text}`);
});

Deno.test("formatEvent() prints no line for a group member's away change; formatPush() words it", () => {
  const away: PushFrame = { t: "push", ev: "away", user: "Hans", text: "lunch" };
  assertEquals(formatEvent({ kind: "push", push: away }, { style: plainStyle }), []);
  assertEquals(formatPush(away), "Hans is away: lunch");
  assertEquals(formatPush({ t: "push", ev: "away", user: "Hans" }), "Hans is back.");
});

import { Roster } from "../../client/roster.ts";
import type { ResponseFrame } from "../../shared/protocol.ts";
import { assertEquals } from "../helpers/assert.ts";

const ok = (data?: Record<string, unknown>): ResponseFrame => ({
  t: "res",
  id: 1,
  ok: true,
  code: "ok",
  lines: [],
  ...(data ? { data } : {}),
});

Deno.test("Roster learns users and groups from responses and pushes", () => {
  const r = new Roster();
  r.learn({ kind: "ready", user: "Yoda", commands: [] });
  r.learn({
    kind: "response",
    cmd: "activeuser",
    args: [],
    res: ok({ users: [{ user: "Hans", ip: "127.0.0.1", udpPort: 1, since: 0 }] }),
  });
  r.learn({
    kind: "push",
    push: { t: "push", ev: "msg", seq: 1, at: 0, from: "Luke", ts: "", text: "" },
  });
  r.learn({
    kind: "push",
    push: {
      t: "push",
      ev: "invite",
      group: "Jedi",
      from: "Obiwan",
      ts: "",
      members: ["Obiwan", "Yoda", "Leia"],
    },
  });
  r.learn({
    kind: "push",
    push: {
      t: "push",
      ev: "groupmsg",
      seq: 1,
      at: 0,
      group: "Rebels",
      from: "Han",
      ts: "",
      text: "",
    },
  });
  r.learn({ kind: "response", cmd: "creategroup", args: ["Sith", "Vader"], res: ok() });
  assertEquals([...r.users].sort(), ["Han", "Hans", "Leia", "Luke", "Obiwan", "Vader", "Yoda"]);
  assertEquals([...r.groups].sort(), ["Jedi", "Rebels", "Sith"]);

  r.learn({ kind: "response", cmd: "leavegroup", args: ["Sith"], res: ok() });
  assertEquals(r.groups.has("Sith"), false);
  r.learn({
    kind: "response",
    cmd: "groups",
    args: [],
    res: ok({
      groups: [{ group: "Jedi", state: "joined", creator: "Obiwan", members: ["Ahsoka"] }],
    }),
  });
  assertEquals([...r.groups], ["Jedi"]);

  const source = r.completionSource();
  assertEquals([...source.users].includes("Yoda"), false, "oneself is not offered");
  assertEquals([...source.users].includes("Ahsoka"), true);
});

Deno.test("Roster ignores failed responses", () => {
  const r = new Roster();
  r.learn({
    kind: "response",
    cmd: "creategroup",
    args: ["Sith", "Vader"],
    res: { ...ok(), ok: false, code: "offline" },
  });
  assertEquals([r.users.size, r.groups.size], [0, 0]);
});

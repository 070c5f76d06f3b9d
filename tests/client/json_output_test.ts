import { formatJsonEvent } from "../../client/json_output.ts";
import { assertEquals } from "../helpers/assert.ts";

Deno.test("formatJsonEvent() writes a response with its command, lines and data", () => {
  const line = formatJsonEvent({
    kind: "response",
    cmd: "msgto",
    args: ["Hans", "hi"],
    res: {
      t: "res",
      id: 4,
      ok: true,
      code: "ok",
      lines: ["message sent at 01 Jun 2023 15:00:01."],
      data: { ts: "01 Jun 2023 15:00:01", seq: 3, queued: false },
    },
  });
  assertEquals(
    line,
    '{"type":"response","cmd":"msgto","ok":true,"code":"ok",' +
      '"lines":["message sent at 01 Jun 2023 15:00:01."],' +
      '"data":{"ts":"01 Jun 2023 15:00:01","seq":3,"queued":false}}',
  );
  const failed = formatJsonEvent({
    kind: "response",
    cmd: "pass",
    args: [],
    res: { t: "res", id: 2, ok: false, code: "bad_password", lines: ["Invalid Password."] },
  });
  assertEquals(
    failed,
    '{"type":"response","cmd":"pass","ok":false,"code":"bad_password","lines":["Invalid Password."]}',
  );
});

Deno.test("formatJsonEvent() writes pushes with their fields, without a transfer's secret", () => {
  assertEquals(
    formatJsonEvent({
      kind: "push",
      push: {
        t: "push",
        ev: "msg",
        seq: 1,
        at: 0,
        from: "Hans",
        ts: "T",
        text: "hi",
        queued: true,
      },
    }),
    '{"type":"push","ev":"msg","seq":1,"at":0,"from":"Hans","ts":"T","text":"hi","queued":true}',
  );
  const transfer = JSON.parse(formatJsonEvent({
    kind: "push",
    push: {
      t: "push",
      ev: "transfer",
      id: "ab",
      secret: "top",
      from: "Hans",
      fromIp: "127.0.0.1",
      file: "f",
      size: 1,
      sha256: "0",
    },
  }));
  assertEquals(transfer, {
    type: "push",
    ev: "transfer",
    id: "ab",
    from: "Hans",
    fromIp: "127.0.0.1",
    file: "f",
    size: 1,
    sha256: "0",
  });
});

Deno.test("formatJsonEvent() writes ready, error and disconnected events", () => {
  assertEquals(
    formatJsonEvent({ kind: "ready", user: "Yoda", commands: ["msgto", "logout"] }),
    '{"type":"ready","user":"Yoda","commands":["msgto","logout"]}',
  );
  assertEquals(
    formatJsonEvent({ kind: "error", code: "unknown_command", message: "Error. Invalid command!" }),
    '{"type":"error","code":"unknown_command","message":"Error. Invalid command!"}',
  );
  assertEquals(
    formatJsonEvent({ kind: "disconnected", reason: "server shutting down" }),
    '{"type":"disconnected","reason":"server shutting down"}',
  );
});

Deno.test("formatJsonEvent() writes the end of a transfer, its time in whole milliseconds", () => {
  assertEquals(
    JSON.parse(formatJsonEvent({
      kind: "transfer",
      direction: "receive",
      file: "clip.mp4",
      peer: "Yoda",
      ok: true,
      bytes: 10,
      elapsedMs: 5.259346000000028,
      path: "/dl/Yoda_clip.mp4",
    })),
    {
      type: "transfer",
      direction: "receive",
      file: "clip.mp4",
      peer: "Yoda",
      ok: true,
      bytes: 10,
      elapsedMs: 5,
      path: "/dl/Yoda_clip.mp4",
    },
  );
});

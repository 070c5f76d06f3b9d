import { assertEquals } from "../../../helpers/assert.ts";
import { historyBatch, parseChathistory } from "../../../../server/frontends/irc/chathistory.ts";

Deno.test("parseChathistory() reads LATEST with * and caps the limit", () => {
  assertEquals(parseChathistory(["latest", "#rebels", "*", "500"], 200), {
    subcommand: "LATEST",
    target: "#rebels",
    ref: { kind: "none" },
    limit: 200,
  });
});

Deno.test("parseChathistory() reads BEFORE with a timestamp or a msgid", () => {
  assertEquals(
    parseChathistory(["BEFORE", "Yoda", "timestamp=2023-06-01T15:00:01.000Z", "10"], 200),
    {
      subcommand: "BEFORE",
      target: "Yoda",
      ref: { kind: "timestamp", at: Date.UTC(2023, 5, 1, 15, 0, 1) },
      limit: 10,
    },
  );
  assertEquals(parseChathistory(["BEFORE", "Yoda", "msgid=m42", "10"], 200), {
    subcommand: "BEFORE",
    target: "Yoda",
    ref: { kind: "msgid", id: "m42" },
    limit: 10,
  });
});

Deno.test("parseChathistory() refuses what it cannot answer with the standard codes", () => {
  const cases: [string[], string, string[]][] = [
    [[], "NEED_MORE_PARAMS", ["*"]],
    [["LATEST", "#g", "*"], "NEED_MORE_PARAMS", ["LATEST"]],
    [["FOO", "#g", "*", "5"], "UNKNOWN_COMMAND", ["FOO"]],
    [["AFTER", "#g", "msgid=x", "5"], "INVALID_PARAMS", ["AFTER"]],
    [["BEFORE", "#g", "*", "5"], "INVALID_PARAMS", ["BEFORE", "*"]],
    [["LATEST", "#g", "timestamp=yesterday", "5"], "INVALID_PARAMS", [
      "LATEST",
      "timestamp=yesterday",
    ]],
    [["LATEST", "#g", "msgid=", "5"], "INVALID_PARAMS", ["LATEST", "msgid="]],
    [["LATEST", "#g", "seq=5", "5"], "INVALID_PARAMS", ["LATEST", "seq=5"]],
    [["LATEST", "#g", "*", "0"], "INVALID_PARAMS", ["LATEST", "0"]],
    [["LATEST", "#g", "*", "-3"], "INVALID_PARAMS", ["LATEST", "-3"]],
  ];
  for (const [params, code, context] of cases) {
    const r = parseChathistory(params, 200);
    assertEquals("fail" in r ? [r.fail, r.context] : r, [code, context], params.join(" "));
  }
});

Deno.test("historyBatch() frames the messages, an empty page included", () => {
  const m = {
    tags: { time: "t" },
    source: "Hans!Hans@t",
    command: "PRIVMSG",
    params: ["#g", "hi"],
  };
  assertEquals(historyBatch("tessenger", "h1", "#g", [m]), [
    { source: "tessenger", command: "BATCH", params: ["+h1", "chathistory", "#g"] },
    { ...m, tags: { time: "t", batch: "h1" } },
    { source: "tessenger", command: "BATCH", params: ["-h1"] },
  ]);
  assertEquals(historyBatch("tessenger", "h2", "#g", []).length, 2);
});

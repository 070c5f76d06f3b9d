/**
 * Every way of starting the server runs it with the same V8 flags
 * (`server/v8_flags.ts`): `deno task server`, the compiled binary and the load
 * bench.
 */

import { ok as assert } from "node:assert/strict";
import { compileArgs } from "../scripts/compile.ts";
import { SERVER_V8_FLAGS, SERVER_V8_FLAGS_ARG } from "../server/v8_flags.ts";

Deno.test("deno task server passes the server's V8 flags", async () => {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
  );
  const task: string = config.tasks.server;
  assert(task.split(" ").includes(SERVER_V8_FLAGS_ARG), task);
});

Deno.test("the compiled binary gets the server's V8 flags", () => {
  assert(compileArgs("out").includes(SERVER_V8_FLAGS_ARG));
  assert(SERVER_V8_FLAGS_ARG.endsWith(SERVER_V8_FLAGS));
});

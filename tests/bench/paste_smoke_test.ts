/**
 * Keeps `bench/paste.ts` from rotting: one small paste at one width, as
 * `deno task bench:paste` runs it. Skipped where util-linux `script` is missing.
 */

import { assertEquals, assertMatch } from "../helpers/assert.ts";
import { fileURLToPath } from "node:url";
import { hasScript } from "../helpers/tools.ts";

const BENCH = fileURLToPath(new URL("../../bench/paste.ts", import.meta.url));

Deno.test({
  name: hasScript()
    ? "bench:paste pastes a line into the client's terminal and reports the time"
    : "bench:paste ... (skipped: util-linux script is not available)",
  ignore: !hasScript(),
  async fn() {
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-run=script",
        BENCH,
        "--sizes",
        "2000",
        "--columns",
        "40",
        "--runs",
        "1",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(stdout);
    assertEquals(code, 0, out + new TextDecoder().decode(stderr));
    assertMatch(out, /^ +2000 +40 +[0-9.]+$/m);
  },
});

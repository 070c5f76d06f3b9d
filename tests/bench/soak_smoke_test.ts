/**
 * `deno task bench:soak` runs end to end with its churn profile (slow readers,
 * crashes mid-backlog) on a tiny scale and finds nothing lost or shown twice;
 * the real run (1,000 clients, 10 minutes) is in docs/benchmarks.md.
 */

import { assert, assertEquals } from "../helpers/assert.ts";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

Deno.test("bench:soak --profile churn passes on 20 clients for 6 seconds", async () => {
  const out = await Deno.makeTempFile({ suffix: ".json" });
  try {
    const run = await new Deno.Command(Deno.execPath(), {
      args: [
        "task",
        "--quiet",
        "bench:soak",
        "--clients=20",
        "--minutes=0.1",
        "--think=0.2",
        "--churn=0.15",
        "--crash=0.3",
        "--slow=0.3",
        `--out=${out}`,
      ],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(run.stdout);
    assertEquals(run.code, 0, text + new TextDecoder().decode(run.stderr));
    const result = JSON.parse(await Deno.readTextFile(out));
    assertEquals([result.lost, result.shownTwice, result.ackedButNotInLog], [0, 0, 0]);
    assert(result.deliveriesOwed > 0 && result.privateAcked > 0, text);
    assert(text.includes("SOAK PASSED"));
  } finally {
    await Deno.remove(out);
  }
});

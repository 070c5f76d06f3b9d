import { parseServerArgs } from "../../server/cli.ts";
import { UsageError } from "../../shared/cli_args.ts";
import { assertEquals, assertThrows } from "../helpers/assert.ts";

const DB = "postgres://tessenger@db:5432/chat";
const REDIS = "redis://cache:6379";

Deno.test("tessenger server joins a cluster with --database and --redis, and runs alone without", () => {
  assertEquals(parseServerArgs([]).cluster, undefined);
  const cmd = parseServerArgs(["--port", "5001", "--database", DB, "--redis", REDIS]);
  assertEquals(cmd.cluster?.database, DB);
  assertEquals(cmd.cluster?.redis, REDIS);
  assertEquals(cmd.cluster?.nodeName.endsWith("-5001"), true, "HOSTNAME-PORT by default");
  const named = parseServerArgs([
    "--database",
    DB,
    "--redis",
    REDIS,
    "--node-name",
    "chat1",
    "--public-host",
    "192.0.2.7",
  ]);
  assertEquals([named.cluster?.nodeName, named.cluster?.publicHost], ["chat1", "192.0.2.7"]);
});

Deno.test("tessenger server refuses incomplete or malformed cluster flags in one line", () => {
  const refused = (args: string[], message: RegExp) =>
    assertThrows(
      () => parseServerArgs(args),
      (e: unknown) => e instanceof UsageError && message.test(e.message),
    );
  refused(["--database", DB], /--database and --redis go together/);
  refused(["--redis", REDIS], /--database and --redis go together/);
  refused(["--database", "mysql://x", "--redis", REDIS], /Invalid --database/);
  refused(["--database", DB, "--redis", "http://cache"], /Invalid --redis/);
  refused(["--database", DB, "--redis", REDIS, "--node-name", "a b"], /Invalid node name/);
  refused(["--node-name", "chat1"], /need --database and --redis/);
});

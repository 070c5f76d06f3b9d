import { assertEquals, assertThrows } from "../../helpers/assert.ts";
import { parseServerArgs } from "../../../server/cli.ts";
import { UsageError } from "../../../shared/cli_args.ts";

Deno.test("the server's UDP flags: the TCP port's number and the relay on by default, each cap settable", () => {
  assertEquals(parseServerArgs([]).udp, { port: undefined, relay: { relay: true } });
  assertEquals(
    parseServerArgs([
      "--udp-port",
      "0",
      "--no-relay",
      "--relay-max-transfers",
      "4",
      "--relay-transfer-rate",
      "5M",
      "--relay-total-rate",
      "1G",
    ]).udp,
    {
      port: 0,
      relay: {
        relay: false,
        maxTransfers: 4,
        transferRateBps: 5 * 1024 * 1024,
        totalRateBps: 1024 ** 3,
      },
    },
  );
  assertThrows(() => parseServerArgs(["--udp-port", "70000"]), UsageError);
  assertThrows(() => parseServerArgs(["--relay-transfer-rate", "fast"]), UsageError);
});

import { assertEquals, assertThrows } from "../helpers/assert.ts";
import { parseByteSize, UsageError } from "../../shared/cli_args.ts";

Deno.test("parseByteSize counts K, M, G in 1024s unless told to count in 1000s", () => {
  assertEquals(parseByteSize("500M", "size"), 500 * 2 ** 20);
  assertEquals(parseByteSize("2GB", "size"), 2 * 2 ** 30);
  assertEquals(parseByteSize("1048576", "size"), 1048576);
  assertEquals(parseByteSize("100M", "size", 1000), 1e8);
  assertEquals(parseByteSize("100MB", "size", 1000), 1e8);
  assertEquals(parseByteSize("1.5k", "size", 1000), 1500);
});

Deno.test("parseByteSize counts KiB, MiB, GiB in 1024s whatever the base", () => {
  assertEquals(parseByteSize("100MiB", "size", 1000), 100 * 2 ** 20);
  assertEquals(parseByteSize("1GiB", "size"), 2 ** 30);
});

Deno.test("parseByteSize rejects what is not a size with a one-line UsageError", () => {
  for (const text of ["", "ten", "5X", "-1M", "1 M"]) {
    assertThrows(
      () => parseByteSize(text, "size"),
      (e: unknown) => e instanceof UsageError && e.message.startsWith("Invalid size"),
    );
  }
});

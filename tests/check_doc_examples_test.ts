/**
 * `deno task check` type-checks the JSDoc examples through scripts/check_doc_examples.ts,
 * which drops only the unused-import errors of the line deno injects into each example.
 */

import { assertEquals } from "./helpers/assert.ts";
import { filterCheckOutput, type SourceReader } from "../scripts/check_doc_examples.ts";

const MOD = "file:///repo/shared/mod.ts";
/** mod.ts: an example at lines 3–7 with one import of its own. */
const SOURCE = [
  "/**",
  " * Demo.",
  " * ```ts",
  ' * import { helper } from "./helper.ts";',
  " * one(helper);",
  " * ```",
  " */",
].join("\n");
const read: SourceReader = (url) => url === MOD ? SOURCE : undefined;

const injectedWithSnippet = [
  "TS6133 [ERROR]: 'two' is declared but its value is never read.",
  `import { one, two } from "${MOD}";`,
  "              ~~~",
  `    at ${MOD}#3-7.ts:2:15`,
].join("\n");
/** deno leaves out a long source line; the place (after 1 own import: line 2) tells. */
const injectedWithoutSnippet = [
  "TS6133 [ERROR]: 'three' is declared but its value is never read.",
  `    at ${MOD}#3-7.ts:2:20`,
].join("\n");
const realUnused = [
  "TS6133 [ERROR]: 'stored' is declared but its value is never read.",
  "const stored = one();",
  "      ~~~~~~",
  `    at ${MOD}#3-7.ts:3:7`,
].join("\n");
const unusedOnAnotherLine = [
  "TS6133 [ERROR]: 'helper' is declared but its value is never read.",
  `    at ${MOD}#3-7.ts:1:10`,
].join("\n");
const missingName = [
  "TS2304 [ERROR]: Cannot find name 'COMMANDS'.",
  "one(COMMANDS);",
  "    ~~~~~~~~",
  `    at ${MOD}#3-7.ts:3:5`,
].join("\n");

function output(...blocks: string[]): string {
  return ["Check shared/mod.ts", `Check ${MOD}#3-7.ts`, ...blocks.flatMap((b) => [b, ""])]
    .concat(blocks.length > 0 ? ["Found 1 error.", "", "error: Type checking failed."] : [])
    .join("\n");
}

Deno.test("the doc check drops unused-import errors on the injected line, with or without its text", () => {
  const verdict = filterCheckOutput(output(injectedWithSnippet, injectedWithoutSnippet), read);
  assertEquals(verdict, { errors: [], checked: 2, dropped: 2 });
});

Deno.test("the doc check keeps every other error, unused names of the example included", () => {
  for (const block of [realUnused, unusedOnAnotherLine, missingName]) {
    const verdict = filterCheckOutput(output(injectedWithSnippet, block), read);
    assertEquals(verdict.errors, [block]);
    assertEquals(verdict.dropped, 1);
  }
});

Deno.test("the doc check fails on a syntax error in an example and on empty input", () => {
  const syntax = [
    "error: SyntaxError: Unexpected character '…'",
    "  |",
    "4 | if (x) …commit()",
    `    at ${MOD}#3-7.ts:4:8`,
  ].join("\n");
  assertEquals(filterCheckOutput(`Check ${MOD}\n${syntax}\n`, read).errors, [syntax]);
  assertEquals(filterCheckOutput("", read).errors.length, 1);
});

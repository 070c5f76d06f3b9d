/**
 * The few assertions the client suites use, on top of `node:assert` (the
 * standard library's `@std/assert` is not available offline).
 *
 * @module
 */

import nodeAssert from "node:assert/strict";

/** Throws unless `value` is truthy. */
export function assert(value: unknown, message?: string): asserts value {
  nodeAssert.ok(value, message);
}

/** Deep, strict equality. */
export function assertEquals<T>(actual: unknown, expected: T, message?: string): void {
  nodeAssert.deepStrictEqual(actual, expected, message);
}

/** Throws unless `text` matches `pattern`. */
export function assertMatch(text: string, pattern: RegExp, message?: string): void {
  nodeAssert.match(text, pattern, message);
}

/** Throws unless `text` contains `part`. */
export function assertIncludes(text: string, part: string): void {
  nodeAssert.ok(
    text.includes(part),
    `Expected ${JSON.stringify(text)} to include ${JSON.stringify(part)}`,
  );
}

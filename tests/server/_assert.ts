/**
 * The few assertions these tests need (JSR, and with it `@std/assert`, is not
 * reachable from this build environment).
 *
 * @module
 */

import { deepStrictEqual } from "node:assert";

/** Throws unless `cond` is truthy. */
export function assert(cond: unknown, message = "Assertion failed"): asserts cond {
  if (!cond) throw new Error(message);
}

/** Throws unless the two values are deeply equal. */
export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  deepStrictEqual(actual, expected, message);
}

/** Throws unless `text` matches `pattern`. */
export function assertMatch(text: string, pattern: RegExp): void {
  if (!pattern.test(text)) {
    throw new Error(`Expected ${JSON.stringify(text)} to match ${pattern}`);
  }
}

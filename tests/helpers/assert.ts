/**
 * The assertions every test uses, built on `node:assert/strict` (JSR, and with
 * it `@std/assert`, is not reachable from this build environment).
 *
 * `assert` is node's strict assert itself: call it as `assert(value)`, or use
 * its methods (`assert.equal`, `assert.deepEqual`, ...).
 *
 * @module
 */

import nodeAssert from "node:assert/strict";

/** Throws unless `value` is truthy; also carries node's strict assert methods. */
export const assert: typeof nodeAssert = nodeAssert;

/** Deep, strict equality (`Object.is` for primitives). */
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

/** Throws unless `fn` throws an error matching `expected` (a class, RegExp or predicate). */
export function assertThrows(fn: () => unknown, expected: nodeAssert.AssertPredicate): void {
  nodeAssert.throws(fn, expected);
}

/**
 * Resolves with the error once `fn`'s promise rejects (with an instance of
 * `type`, when given); throws if it resolves.
 */
export async function assertRejects<E extends Error = Error>(
  fn: () => Promise<unknown>,
  type?: new (...args: never[]) => E,
): Promise<E> {
  try {
    await fn();
  } catch (e) {
    if (type !== undefined && !(e instanceof type)) {
      throw new nodeAssert.AssertionError({ message: `Expected ${type.name}, got ${e}` });
    }
    return e as E;
  }
  throw new nodeAssert.AssertionError({ message: "Expected the promise to reject" });
}

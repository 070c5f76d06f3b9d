/**
 * How the conformance suites register their tests: one `Deno.test` per
 * behaviour and implementation, on a fresh fixture that is always cleaned up,
 * skipped (saying why) where the implementation cannot run.
 *
 * @module
 */

/** Registers `impl: name`, run on a fixture from `open`. */
export function portTest<F extends { cleanup(): Promise<void> }>(
  impl: string,
  skip: string | undefined,
  name: string,
  open: () => Promise<F>,
  fn: (fixture: F) => Promise<void>,
): void {
  Deno.test({
    name: skip ? `${impl}: ${name} (skipped: ${skip})` : `${impl}: ${name}`,
    ignore: skip !== undefined,
    async fn() {
      const fixture = await open();
      try {
        await fn(fixture);
      } finally {
        await fixture.cleanup();
      }
    },
  });
}

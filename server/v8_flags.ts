/**
 * The V8 flags the server runs with. `deno task server`, the compiled binary
 * (`scripts/compile.ts`) and the load bench all pass {@link SERVER_V8_FLAGS};
 * `tests/v8_flags_test.ts` checks that `deno.json` agrees.
 *
 * `--max-semi-space-size=2` caps each of V8's young-generation semi-spaces at
 * 2 MiB (the default lets them grow to 16 MiB). A burst of logins keeps many
 * new objects alive across scavenges, which made V8 grow the young generation
 * to ~49 MiB and keep it committed while the sessions sat idle: ~4 KB of RSS
 * per client at 10,000 idle clients (docs/benchmarks.md, "Chat server load").
 * With the cap, objects that survive are promoted to the old generation
 * sooner; the fan-out throughput measured within run-to-run noise of the
 * default (N=50 a little lower, N=500 higher).
 *
 * @module
 */

/** The `--v8-flags` value of every server launch. */
export const SERVER_V8_FLAGS = "--max-semi-space-size=2";

/** The `deno run` / `deno compile` argument carrying {@link SERVER_V8_FLAGS}. */
export const SERVER_V8_FLAGS_ARG = `--v8-flags=${SERVER_V8_FLAGS}`;

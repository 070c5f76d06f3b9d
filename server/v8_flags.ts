/**
 * The V8 flags the server runs with. `deno task server`, the compiled binary
 * (`scripts/compile.ts`) and the load bench all pass {@link SERVER_V8_FLAGS};
 * `tests/v8_flags_test.ts` checks that `deno.json` agrees.
 *
 * `--max-semi-space-size=4` caps each of V8's young-generation semi-spaces at
 * 4 MiB (the default lets them grow to 16 MiB). A burst of logins keeps many
 * new objects alive across scavenges, which made V8 grow the young generation
 * to ~49 MiB and keep it committed while the sessions sat idle: ~4 KB of RSS
 * per client at 10,000 idle clients (docs/benchmarks.md, "Chat server load").
 * The cap was 2 MiB until the send queues held strings; since then 4 MiB
 * measures lower (10,000 idle clients: 4.9–5.2 KB each against 6.1–7.6 KB
 * with 2 MiB, two alternating sets of 3 runs: fewer objects promoted to the
 * old generation just before they die) and 8 MiB higher (5.6–5.8 KB); the
 * fan-out throughput of all three is within run-to-run noise.
 *
 * @module
 */

/** The `--v8-flags` value of every server launch. */
export const SERVER_V8_FLAGS = "--max-semi-space-size=4";

/** The `deno run` / `deno compile` argument carrying {@link SERVER_V8_FLAGS}. */
export const SERVER_V8_FLAGS_ARG = `--v8-flags=${SERVER_V8_FLAGS}`;

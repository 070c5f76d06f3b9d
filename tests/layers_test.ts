/**
 * The layer rule of docs/architecture.md, checked on every import between top-level
 * folders: `shared/` imports nothing of ours, `server/` and `client/` only `shared/` (and
 * never each other), `dev/` (what tests and benches share) and `bench/` nothing from
 * `tests/`, and nothing imports `tests/` or `bench/` but the tests.
 */

import { assertEquals } from "./helpers/assert.ts";
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

/** Which top-level folders each one may import from (its own is always allowed). */
const MAY_IMPORT: Record<string, readonly string[]> = {
  "main.ts": ["server", "client", "shared"],
  shared: [],
  server: ["shared"],
  client: ["shared"],
  scripts: ["server", "shared"],
  dev: ["server", "client", "shared"],
  bench: ["server", "client", "shared", "dev"],
  tests: ["main.ts", "server", "client", "shared", "dev", "scripts", "bench"],
};

/**
 * Imports that break the rule today, each with the work that removes it. The test fails
 * when one of them is gone, so that the list does not outlive them.
 */
const KNOWN_EXCEPTIONS = new Set<string>([]);

async function* sourceFiles(dir: string): AsyncIterable<string> {
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.startsWith(".") || entry.name === "node_modules") continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory) yield* sourceFiles(path);
    else if (entry.name.endsWith(".ts")) yield path;
  }
}

const topLevel = (path: string) => path.split("/")[0];

/** A relative import, re-export or dynamic import; group 1 is the specifier. */
const IMPORT_PATTERN = /(?:\bfrom|\bimport)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g;

/** Every relative import (static, dynamic or re-export) between two top-level folders. */
async function crossingImports(): Promise<string[]> {
  const found: string[] = [];
  for await (const file of sourceFiles(ROOT)) {
    const from = relative(ROOT, file);
    const text = await Deno.readTextFile(file);
    for (const [, spec] of text.matchAll(IMPORT_PATTERN)) {
      const to = normalize(join(dirname(from), spec));
      if (topLevel(to) !== topLevel(from)) found.push(`${from} -> ${to}`);
    }
  }
  return found.sort();
}

Deno.test("no module imports from a layer it may not use", async () => {
  const violations = (await crossingImports()).filter((edge) => {
    const [from, to] = edge.split(" -> ");
    const allowed = MAY_IMPORT[topLevel(from)];
    return allowed === undefined || !allowed.includes(topLevel(to));
  });
  assertEquals(violations.filter((v) => !KNOWN_EXCEPTIONS.has(v)), [], "imports across layers");
  assertEquals(
    [...KNOWN_EXCEPTIONS].filter((e) => !violations.includes(e)),
    [],
    "exceptions that no longer happen: remove them from KNOWN_EXCEPTIONS in tests/layers_test.ts",
  );
});

Deno.test("the layer check sees imports, re-exports and dynamic imports", () => {
  const text = `import { a } from "../client/io.ts";\nexport { b } from "./b.ts";\n` +
    `const c = await import("../tests/x.ts");\nimport "../shared/side.ts";`;
  assertEquals([...text.matchAll(IMPORT_PATTERN)].map((m) => m[1]), [
    "../client/io.ts",
    "./b.ts",
    "../tests/x.ts",
    "../shared/side.ts",
  ]);
});

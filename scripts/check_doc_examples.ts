/**
 * Reads the output of `NO_COLOR=1 deno check --doc ...` on stdin and fails on any error
 * but one kind: `deno check --doc` adds to every JSDoc example an import of all the
 * documented module's exports, and with `noUnusedLocals` each export the example does not
 * use is an error (TS6133, or TS6192 when none is used; denoland/deno#26900). Those
 * errors, on that injected line only, are dropped; every other diagnostic and every other
 * failure (a syntax error, a missing module) is printed and fails the check. The injected
 * line is known by its text (an import of the module by its absolute URL) or, where deno
 * leaves a long line out, by its place: right after the example's own imports.
 *
 * ```sh
 * NO_COLOR=1 deno check --doc main.ts 'server/**\/*.ts' 2>&1 | deno run --allow-read scripts/check_doc_examples.ts
 * ```
 *
 * @module
 */

/** What {@link filterCheckOutput} kept. */
export interface CheckVerdict {
  /** Diagnostics and error lines to show; the check failed if there is any. */
  errors: string[];
  /** Files and doc examples deno checked. */
  checked: number;
  /** Errors on the injected import line that were dropped. */
  dropped: number;
}

const UNUSED = /^TS(6133|6192) \[ERROR\]/;
/** The injected line imports the module by its absolute URL; examples use relative paths. */
const INJECTED_IMPORT = /^import (type )?\{.*\} from "file:\/\/\/[^"]+";$/;
/** Where a diagnostic is in a doc example: `at file:///.../mod.ts#4-10.ts:2:1`. */
const IN_EXAMPLE = /^\s+at (file:\/\/\/\S+)#(\d+)-(\d+)\.(?:ts|tsx|js|jsx):(\d+):\d+$/;

/** Reads a module's source (by file URL); undefined if it cannot. */
export type SourceReader = (url: string) => string | undefined;

const readSource: SourceReader = (url) => {
  try {
    return Deno.readTextFileSync(new URL(url));
  } catch {
    return undefined;
  }
};

/**
 * Whether a TS6133/TS6192 block sits on the line deno injected: given by its text, or else
 * by its place, one line below the example's own imports, which deno hoists to the top.
 */
function onInjectedLine(block: string[], read: SourceReader): boolean {
  const where = block.map((l) => IN_EXAMPLE.exec(l)).find((m) => m !== null);
  if (!where) return false;
  if (INJECTED_IMPORT.test(block[1] ?? "")) return true;
  if (!block[1]?.startsWith("    at ")) return false; // a source line, and not the injected one
  const [, url, from, to, line] = where;
  const source = read(url);
  if (source === undefined) return false;
  const example = source.split("\n").slice(Number(from), Number(to) - 1);
  const imports = example.filter((l) => /^\s*\*\s?import\s/.test(l)).length;
  return Number(line) === imports + 1;
}

/** Splits deno check's output into its verdict. */
export function filterCheckOutput(output: string, read: SourceReader = readSource): CheckVerdict {
  const lines = output.split("\n");
  const errors: string[] = [];
  let checked = 0;
  let dropped = 0;
  let i = 0;
  /** The message at line i and the lines after it, up to a blank one. */
  const takeBlock = () => {
    const block = [lines[i]];
    while (i + 1 < lines.length && lines[i + 1].trim() !== "") block.push(lines[++i]);
    return block;
  };
  for (; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith("Check ")) {
      checked++;
    } else if (/^TS\d+ \[ERROR\]/.test(line)) {
      const block = takeBlock();
      const injected = UNUSED.test(line) && onInjectedLine(block, read);
      if (injected) dropped++;
      else errors.push(block.join("\n"));
    } else if (line.startsWith("error: ")) {
      const block = takeBlock();
      // "Type checking failed." only restates the diagnostics above; any other error stands.
      if (line !== "error: Type checking failed.") errors.push(block.join("\n"));
    }
  }
  if (checked === 0 && errors.length === 0) {
    errors.push("deno check printed nothing it checked: was its output piped in?");
  }
  return { errors, checked, dropped };
}

if (import.meta.main) {
  const output = await new Response(Deno.stdin.readable).text();
  const { errors, checked, dropped } = filterCheckOutput(output);
  if (errors.length > 0) {
    console.error(errors.join("\n\n"));
    console.error(`\n${errors.length} type-check error(s) in code or doc examples.`);
    Deno.exit(1);
  }
  console.log(
    `Checked ${checked} modules and doc examples` +
      (dropped > 0 ? ` (${dropped} unused injected imports ignored, denoland/deno#26900)` : ""),
  );
}

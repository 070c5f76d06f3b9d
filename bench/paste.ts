/**
 * How long a paste takes to appear in the client's line editor: the client's
 * terminal (client/io.ts TerminalIO) runs in a pseudo-terminal of the given
 * width (util-linux `script`); a line of N characters is written to it at once,
 * as a terminal writes a paste, then Enter. The time is from the first byte
 * read to the line being complete, the median of the runs.
 *
 * ```sh
 * deno task bench:paste [--sizes 1000,4000,70000] [--columns 40,80] [--runs 3]
 * deno task bench:paste --help
 * ```
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { parseIntIn, UsageError } from "../shared/cli_args.ts";
import { benchFlags, runBench } from "./cli.ts";

const USAGE = `Usage: deno task bench:paste [--sizes N,N...] [--columns N,N...] [--runs N]

  --sizes N,N...     characters pasted in one line (default 1000,4000,70000)
  --columns N,N...   widths of the terminal (default 40,80)
  --runs N           runs of each size and width; the median is shown (default 3)`;

const READER = fileURLToPath(new URL("./paste/read_one_line.ts", import.meta.url));

function list(text: string, what: string, max: number): number[] {
  return text.split(",").map((t) => parseIntIn(t.trim(), what, 1, max));
}

/** One paste of `size` characters into a terminal `columns` wide: milliseconds. */
async function pasteOnce(size: number, columns: number): Promise<number> {
  const command = `stty cols ${columns} rows 24; exec '${Deno.execPath()}' run --quiet ` +
    `--allow-read '${READER}'`;
  const child = new Deno.Command("script", {
    args: ["-q", "-e", "-c", command, "/dev/null"],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  let output = "";
  const reading = (async () => {
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) output += chunk;
  })();
  const writer = child.stdin.getWriter();
  const until = async (pattern: RegExp, what: string) => {
    const end = Date.now() + 120_000;
    while (!pattern.test(output)) {
      if (Date.now() > end) throw new Error(`Cannot finish the paste: no ${what} after 120 s`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  try {
    await until(/> /, "prompt");
    await writer.write(new TextEncoder().encode("x".repeat(size) + "\r"));
    await until(/READ -?\d+ [\d.]+/, "line");
    const [, length, ms] = /READ (-?\d+) ([\d.]+)/.exec(output)!;
    if (Number(length) !== size) throw new Error(`Read ${length} characters, pasted ${size}`);
    return Number(ms);
  } finally {
    await writer.close().catch(() => {});
    await child.status;
    await reading;
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function main(): Promise<number> {
  const v = benchFlags(Deno.args, {
    sizes: { type: "string", default: "1000,4000,70000" },
    columns: { type: "string", default: "40,80" },
    runs: { type: "string", default: "3" },
  }, USAGE);
  if (!v) return 0;
  const sizes = list(v.sizes, "size", 1_000_000);
  const widths = list(v.columns, "column count", 1000);
  const runs = parseIntIn(v.runs, "runs", 1, 100);
  if (Deno.build.os !== "linux") {
    throw new UsageError("bench:paste needs Linux (util-linux script)");
  }
  console.log("characters  columns  median ms");
  for (const size of sizes) {
    for (const columns of widths) {
      const times: number[] = [];
      for (let i = 0; i < runs; i++) times.push(await pasteOnce(size, columns));
      console.log(
        `${String(size).padStart(10)}  ${String(columns).padStart(7)}  ${
          median(times).toFixed(1).padStart(9)
        }`,
      );
    }
  }
  return 0;
}

if (import.meta.main) Deno.exit(await runBench("bench:paste", main));

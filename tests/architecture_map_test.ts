/**
 * docs/architecture.md is the map of the code: every source file outside tests/ is named
 * in its layout, in the entry of its folder (files of shared/transfer/ may instead be in
 * docs/transfer.md's table of files, by path or in their folder's row).
 */

import { assertEquals } from "./helpers/assert.ts";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const SKIP = new Set(["tests", "node_modules", "dist"]);

async function* sourceFiles(dir: string): AsyncIterable<string> {
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.startsWith(".") || SKIP.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory) yield* sourceFiles(path);
    else if (entry.name.endsWith(".ts")) yield relative(ROOT, path);
  }
}

const indent = (line: string) => line.length - line.trimStart().length;

/** The lines of the layout entry at `at`: it runs on over the lines indented deeper. */
function entry(lines: string[], at: number): string[] {
  let end = at + 1;
  while (
    end < lines.length && (lines[end].trim() === "" || indent(lines[end]) > indent(lines[at]))
  ) {
    end++;
  }
  return lines.slice(at, end);
}

/**
 * The text of the layout that describes `path`'s folder: narrowed to the entry of each
 * folder on the way that the layout lists (`server/`, then `frontends/irc/`, ...).
 */
function describedIn(layout: string[], path: string): string {
  const folders = path.split("/").slice(0, -1);
  let lines = layout;
  for (let k = 0; k < folders.length;) {
    let n = folders.length - k;
    for (; n >= 1; n--) {
      const name = folders.slice(k, k + n).join("/") + "/";
      const at = lines.findIndex((l) => l.trim().split(/\s+/)[0] === name);
      if (at !== -1) {
        lines = entry(lines, at);
        break;
      }
    }
    if (n === 0) break;
    k += n;
  }
  return lines.join("\n");
}

/** Whether docs/transfer.md's table of files names `file`, or its folder's row names it. */
function inTransferTable(transfer: string, file: string): boolean {
  const folder = file.slice(0, file.lastIndexOf("/") + 1);
  const name = file.slice(folder.length);
  return transfer.split("\n").some((line) =>
    line.startsWith("|") &&
    (line.includes(`\`${file}\``) ||
      (line.includes(`\`${folder}\``) && line.includes(`\`${name}\``)))
  );
}

Deno.test("docs/architecture.md names every source file outside tests/", async () => {
  const architecture = await Deno.readTextFile(join(ROOT, "docs/architecture.md"));
  const transfer = await Deno.readTextFile(join(ROOT, "docs/transfer.md"));
  const layout = (/## Layout\n+```\n([\s\S]*?)\n```/.exec(architecture)?.[1] ?? "").split("\n");
  const unnamed: string[] = [];
  for await (const file of sourceFiles(ROOT)) {
    const name = file.split("/").at(-1)!.replaceAll(".", "\\.");
    const named = new RegExp(`(^|[\\s/(,])${name}\\b`, "m").test(describedIn(layout, file)) ||
      (file.startsWith("shared/transfer/") && inTransferTable(transfer, file));
    if (!named) unnamed.push(file);
  }
  assertEquals(unnamed.sort(), [], "files to add to the layout in docs/architecture.md");
});

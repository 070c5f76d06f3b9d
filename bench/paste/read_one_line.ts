/**
 * The far end of `bench:paste`: the client's terminal (TerminalIO) reads one
 * line at a `> ` prompt, then prints `READ <characters> <ms>` (from the first
 * byte typed to the line) and exits.
 *
 * @module
 */

import process from "node:process";
import { TerminalIO } from "../../client/io.ts";

const io = new TerminalIO();
let first: number | undefined;
// Before the line editor sees the first chunk (it handles each one synchronously).
process.stdin.prependOnceListener("data", () => first = performance.now());
const line = await io.readLine("> ");
const ms = performance.now() - (first ?? performance.now());
io.print(`READ ${line?.length ?? -1} ${ms.toFixed(1)}`);
io.close();

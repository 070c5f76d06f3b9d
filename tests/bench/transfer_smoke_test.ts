/**
 * Keeps `bench/transfer.ts` from rotting: the whole benchmark (every method, the relay
 * included) on a 2 MB file and on a 1 MB one with 1200-byte datagrams, once, as
 * `deno task bench:transfer` runs it, `--suites`, and one cell of the path matrix (root).
 */

import { assert, assertEquals } from "../helpers/assert.ts";
import { fileURLToPath } from "node:url";
import { pathLabUnavailable } from "../../dev/path_lab.ts";

const BENCH = fileURLToPath(new URL("../../bench/transfer.ts", import.meta.url));
const PERMISSIONS = [
  "--allow-net=127.0.0.1",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-sys=loadavg",
  "--allow-run=deno,cat,ip,id", // as deno.json's bench:transfer
];

async function bench(args: string[]): Promise<{ code: number; out: string }> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSIONS, BENCH, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code, out: decoder.decode(stdout) + decoder.decode(stderr) };
}

Deno.test("bench:transfer runs every method on small files and reports the ratios", async () => {
  const { code, out } = await bench(["--sizes", "2M,1M@1200", "--runs", "1"]);
  assertEquals(code, 0, out);
  for (const size of ["2M", "1M@1200"]) {
    for (const method of ["tcp", "blast", "ours", "ours 1%", "ours 5%", "relay"]) {
      assert(
        new RegExp(`${size} run 1 ${method} +[0-9.]+ MB/s`).test(out),
        `no result for ${method} on ${size}:\n${out}`,
      );
    }
  }
  assert(out.includes("2M (1.9 MiB, payload 60000 B, striped)"), out);
  assert(out.includes("1M@1200 (976.6 KiB, payload 1200 B, one socket)"), out);
  assert(!out.includes("FAILED"), out);
  assert(/ratios \(medians\): ours\/tcp [0-9.]+, ours\/blast [0-9.]+/.test(out), out);
  assert(/relay +[0-9.]+ MB\/s, CPU [0-9.]+ s per 100 MB, server [0-9.]+ s per GB/.test(out), out);
  assert(
    /relayed\/direct goodput \(medians\) [0-9.]+; the server's CPU [0-9.]+ s per relayed GB/.test(
      out,
    ),
    out,
  );
});

Deno.test("bench:transfer --suites measures every protection suite", async () => {
  // 1200-byte datagrams go to libsodium too; 60 000-byte ones to node:crypto alone.
  for (const payload of ["1200", "60000"]) {
    const { code, out } = await bench(["--suites", "--payload", payload]);
    assertEquals(code, 0, out);
    const rows = [
      "chacha20-poly1305 \\(node:crypto\\)",
      "poly1305 \\(node:crypto\\)",
      "aes-256-gcm \\(node:crypto\\)",
      ...(payload === "1200"
        ? ["chacha20-poly1305 \\(libsodium\\)", "poly1305 \\(libsodium\\)"]
        : []),
    ];
    for (const row of rows) {
      const figures = new RegExp(`^  ${row} +[0-9.]+ +[0-9.]+`, "m");
      assert(figures.test(out), `no figures for ${row}:\n${out}`);
    }
  }
});

const pathLabMissing = await pathLabUnavailable();

Deno.test({
  name: `bench:transfer --paths runs a matrix cell through the path lab, nobody beating the link${
    pathLabMissing ? ` (skipped: it ${pathLabMissing})` : ""
  }`,
  ignore: pathLabMissing !== undefined,
  fn: async () => {
    const { code, out } = await bench(
      [
        "--paths",
        "20x20",
        "--losses",
        "1",
        "--path-size",
        "2M",
        "--runs",
        "1",
        "--path-methods",
        "tcp-reno,ours",
      ],
    );
    assertEquals(code, 0, out);
    assert(!out.includes("FAILED"), out);
    const row = /^ {2}1% +([0-9.]+) +(.*)$/m.exec(out);
    assert(row, `no 1% row:\n${out}`);
    const shares = [...row[2].matchAll(/[0-9.]+ \(([0-9.]+)\)/g)].map((m) => Number(m[1]));
    assertEquals(shares.length, 2, out);
    // 20 Mbit/s at 1 % loss: 2.475 MB/s at most; loopback without the emulator is far faster.
    for (const share of shares) assert(share > 0 && share <= 1.05, out);
  },
});

/**
 * bench:transfer's path matrix: for each emulated path (rate × RTT) and loss rate, a
 * kernel TCP copy and our transfer move the same file between two network namespaces
 * through the same packet-level emulator (dev/path_lab.ts: a drop-tail queue, loss on
 * each direction), and each goodput is reported against the limit rate × (1 − loss).
 * TCP runs with each congestion control this kernel allows a namespace to pick (Reno, BBR
 * here; CUBIC when allowed). Needs root; every peer is a child process (bench/path_peer.ts).
 *
 * ```ts
 * const table = await runPathMatrix({
 *   paths: [{ mbps: 50, rttMs: 40 }], losses: [0, 0.01], size: 20e6, runs: 1,
 *   queueMs: 50, methods: ["tcp-bbr", "ours"], root: "/tmp",
 * });
 * console.log(table.join("\n"));
 * ```
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describeFile, type TransferOffer } from "../client/transfer_driver.ts";
import { type PathLab, pathLabUnavailable, startPathLab } from "../dev/path_lab.ts";

const PEER = fileURLToPath(new URL("./path_peer.ts", import.meta.url));
const CONFIG = fileURLToPath(new URL("../deno.json", import.meta.url));

/** Methods of the matrix: a TCP copy per congestion control, and ours per controller. */
export const PATH_METHODS = ["tcp-reno", "tcp-cubic", "tcp-bbr", "ours", "ours-newreno"];

/** What {@linkcode runPathMatrix} measures. */
export interface PathMatrixOptions {
  paths: Array<{ mbps: number; rttMs: number }>;
  /** Loss rates, each direction (0.01 for 1 %). */
  losses: number[];
  /** File size (bytes). */
  size: number;
  runs: number;
  /** The bottleneck's drop-tail queue (ms at its rate). */
  queueMs: number;
  methods: string[];
  /**
   * A run still going after this long (ms) is stopped and measured by what had arrived
   * (TCP Reno at 5 % loss moves a few hundred kB/s). Default 60 000.
   */
  limitMs?: number;
  /** Where the files go. */
  root: string;
  /** Printed as each run ends. */
  log?: (line: string) => void;
}

/** A child's JSON lines, one at a time. */
function jsonLines(child: Deno.ChildProcess): () => Promise<Record<string, unknown>> {
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  return async () => {
    for (;;) {
      const end = buffered.indexOf("\n");
      if (end >= 0) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 1);
        if (line.trim().startsWith("{")) return JSON.parse(line);
        continue;
      }
      const { value, done } = await reader.read();
      if (done) throw new Error("a peer ended without its result");
      buffered += value;
    }
  };
}

type Peer = ReturnType<typeof peer>;

const peer = (lab: PathLab, host: "a" | "b", args: string[]) => {
  const child = lab.spawn(host, [Deno.execPath(), "run", "-A", "--config", CONFIG, PEER, ...args]);
  return { child, next: jsonLines(child) };
};

/** How a run ended: its goodput (MB/s), and whether it was cut at the time limit. */
interface Ending {
  mbps: number;
  cut: boolean;
  /** The receiver's last line, when it finished. */
  result?: Record<string, unknown>;
}

/**
 * Waits for the receiver's result; past `limitMs` after `start` kills both peers and
 * takes the goodput from the receiver's last progress line.
 */
async function finish(
  receiver: Peer,
  sender: Peer,
  start: number,
  limitMs: number,
): Promise<Ending> {
  let last = { bytes: 0, at: start };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), Math.max(0, start + limitMs - Date.now()));
  });
  try {
    for (;;) {
      const pending = receiver.next();
      const line = await Promise.race([pending, limit]);
      if (line === undefined) {
        pending.catch(() => {}); // the receiver is killed: its stream ends without a result
        for (const p of [sender, receiver]) {
          try {
            p.child.kill("SIGKILL");
          } catch {
            // ended
          }
        }
        await Promise.all([sender.child.status, receiver.child.status]);
        return { mbps: last.bytes / 1e6 / ((last.at - start) / 1000), cut: true };
      }
      if ("progress" in line) last = { bytes: Number(line.progress), at: Number(line.at) };
      if ("done" in line) {
        const mbps = Number(line.bytes ?? 0) / 1e6 / ((Number(line.done) - start) / 1000);
        return { mbps, cut: false, result: line };
      }
    }
  } finally {
    clearTimeout(timer);
  }
}

/** One run of a TCP copy from A to B. */
async function tcpRun(
  lab: PathLab,
  src: string,
  dir: string,
  cc: string,
  limitMs: number,
): Promise<{ mbps: number; detail: string }> {
  await lab.sysctl("a", "net.ipv4.tcp_congestion_control", cc);
  await lab.sysctl("b", "net.ipv4.tcp_congestion_control", cc);
  const receiver = peer(lab, "b", ["tcp-recv", join(dir, "tcp.out")]);
  const { port } = await receiver.next();
  const sender = peer(lab, "a", ["tcp-send", src, lab.b, String(port)]);
  const { start } = await sender.next();
  const end = await finish(receiver, sender, Number(start), limitMs);
  await Promise.all([sender.child.status, receiver.child.status]);
  return { mbps: end.mbps, detail: end.cut ? `cut at ${limitMs / 1000} s` : "" };
}

/** One run of our transfer from A to B: goodput in MB/s, and what the sender saw. */
async function oursRun(
  lab: PathLab,
  src: string,
  dir: string,
  cc: "bbr" | "newreno",
  limitMs: number,
): Promise<{ mbps: number; detail: string }> {
  const d = await describeFile(src);
  const hex = (n: number) =>
    Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => b.toString(16).padStart(2, "0"))
      .join("");
  const offer: TransferOffer = {
    id: hex(8),
    secret: hex(32),
    from: "bench",
    to: "peer",
    fileName: d.baseName,
    size: d.size,
    sha256: d.sha256,
  };
  const out = await Deno.makeTempDir({ dir });
  const receiver = peer(lab, "b", ["ours-recv", out, JSON.stringify(offer)]);
  const { port } = await receiver.next();
  const sender = peer(lab, "a", ["ours-send", src, lab.b, String(port), JSON.stringify(offer), cc]);
  const { start } = await sender.next();
  const end = await finish(receiver, sender, Number(start), limitMs);
  const sent = end.cut ? undefined : await sender.next();
  await Promise.all([sender.child.status, receiver.child.status]);
  await Deno.remove(out, { recursive: true });
  if (end.cut) return { mbps: end.mbps, detail: `cut at ${limitMs / 1000} s` };
  if (!end.result?.ok) {
    return { mbps: 0, detail: `FAILED (${end.result?.reason ?? sent?.reason})` };
  }
  return {
    mbps: end.mbps,
    detail: `retransmitted ${sent?.retransmissions}, srtt ${Number(sent?.srttMs).toFixed(1)} ms`,
  };
}

/** The TCP congestion controls a namespace may choose here (net.ipv4.tcp_allowed_...). */
async function allowedTcp(): Promise<Set<string>> {
  // Through cat: Deno reads /proc only with every permission.
  const out = await new Deno.Command("cat", {
    args: ["/proc/sys/net/ipv4/tcp_allowed_congestion_control"],
    stdout: "piped",
    stderr: "null",
  }).output().catch(() => undefined);
  if (out === undefined || out.code !== 0) return new Set();
  return new Set(new TextDecoder().decode(out.stdout).trim().split(/\s+/));
}

/** Runs the matrix; returns the report's lines (a table per path). */
export async function runPathMatrix(o: PathMatrixOptions): Promise<string[]> {
  const why = await pathLabUnavailable();
  if (why !== undefined) return [`path matrix skipped: it ${why}`];
  const log = o.log ?? (() => {});
  const allowed = await allowedTcp();
  const methods = o.methods.filter((m) => {
    if (!m.startsWith("tcp-") || allowed.has(m.slice(4))) return true;
    log(`  ${m}: skipped, this kernel does not let a namespace choose ${m.slice(4)}`);
    return false;
  });
  const src = join(o.root, "path_src.bin");
  await writeRandom(src, o.size);
  const rows: string[] = [];
  let anyCut = false;
  for (const path of o.paths) {
    rows.push(
      `\n${path.mbps} Mbit/s × ${path.rttMs} ms RTT, ${o.queueMs} ms drop-tail queue, ` +
        `${(o.size / 1e6).toFixed(0)} MB, medians of ${o.runs} run(s), MB/s (share of the limit):`,
    );
    rows.push(
      `  ${"loss".padEnd(5)} ${"limit".padStart(7)} ` +
        methods.map((m) => m.padStart(16)).join(" "),
    );
    for (const loss of o.losses) {
      const limit = path.mbps * 1e6 / 8 / 1e6 * (1 - loss);
      const medians: string[] = [];
      for (const method of methods) {
        const samples: number[] = [];
        let cut = false;
        for (let run = 0; run < o.runs; run++) {
          const lab = await startPathLab({
            forward: { mbps: path.mbps, delayMs: path.rttMs / 2, queueMs: o.queueMs, loss },
            seed: 1000 + run,
          });
          try {
            const dir = await Deno.makeTempDir({ dir: o.root });
            let mbps: number;
            let detail = "";
            const limitMs = o.limitMs ?? 60_000;
            if (method.startsWith("tcp-")) {
              ({ mbps, detail } = await tcpRun(lab, src, dir, method.slice(4), limitMs));
            } else {
              const cc = method === "ours" ? "bbr" : "newreno";
              ({ mbps, detail } = await oursRun(lab, src, dir, cc, limitMs));
            }
            await Deno.remove(dir, { recursive: true });
            samples.push(mbps);
            cut ||= detail.startsWith("cut");
            anyCut ||= cut;
            log(
              `  ${path.mbps}x${path.rttMs} ${(loss * 100).toFixed(0)}% run ${run + 1} ${
                method.padEnd(12)
              } ${mbps.toFixed(2).padStart(7)} MB/s ${detail}`,
            );
          } finally {
            await lab.close();
          }
        }
        samples.sort((a, b) => a - b);
        const m = samples[Math.floor(samples.length / 2)];
        medians.push(`${m.toFixed(2)} (${(m / limit).toFixed(2)})${cut ? "*" : ""}`.padStart(16));
      }
      rows.push(
        `  ${(`${(loss * 100).toFixed(0)}%`).padEnd(5)} ${limit.toFixed(2).padStart(7)} ${
          medians.join(" ")
        }`,
      );
    }
  }
  await Deno.remove(src);
  const limitS = (o.limitMs ?? 60_000) / 1000;
  if (anyCut) rows.push(`\n* a run was cut at ${limitS} s: its rate is what had arrived by then`);
  return rows;
}

async function writeRandom(path: string, size: number): Promise<void> {
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  const block = new Uint8Array(1024 * 1024);
  for (let written = 0; written < size;) {
    const n = Math.min(block.length, size - written);
    for (let at = 0; at < n; at += 65536) crypto.getRandomValues(block.subarray(at, at + 65536));
    for (let at = 0; at < n;) at += await file.write(block.subarray(at, n));
    written += n;
  }
}

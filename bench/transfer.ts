/**
 * P2P transfer benchmark on loopback. In one run, for each file size, measures goodput of:
 *   tcp      plain TCP copy with Deno (file → socket → file, 1 MiB buffers, fsync at the end
 *            like our receiver)
 *   blast    raw UDP blast, no reliability, same payload size: the receiver writes what
 *            arrives to the file, fsync at the end (received bytes / time)
 *   ours     our transfer, direct
 *   ours 1%  our transfer through the lossy relay at 1 % loss
 *   ours 5%  our transfer through the lossy relay at 5 % loss
 *   relay    our transfer through a real server's UDP relay (a `tessenger server` child
 *            process, its caps lifted), both peers taking no direct path
 * and reports min/median/max over the runs and the ratios, and the CPU time (user + system,
 * every thread of the process) each method spends per 100 MB; for `relay` also the
 * server process's CPU time per relayed GB (from /proc/PID/stat, read with `cat`). The receiving side of every
 * method runs in its own Worker (as the peer would run in its own process); the relay runs
 * in a third one. Files go to a temp dir that is removed at the end.
 *
 * With `--paths`, instead: the path matrix (bench/transfer_paths.ts), ours against a kernel
 * TCP copy over emulated paths between network namespaces (root needed).
 *
 *   deno task bench:transfer                        # 100M, 1G, 100M@1200; 3 runs
 *   deno task bench:transfer --sizes 100M --runs 1  # quick
 *   deno task bench:transfer --paths 50x40,100x100  # the path matrix (root)
 *   deno task bench:transfer --help                 # every flag
 *
 * @module
 */

import { join } from "node:path";
import process from "node:process";
import {
  describeFile,
  LOOPBACK_PAYLOAD_SIZE,
  TransferEndpoint,
  type TransferEndpoint as Endpoint,
  type TransferOffer,
} from "../client/transfer_driver.ts";
import type { CipherSuite } from "../shared/transfer/mod.ts";
import {
  createPacketProtection,
  DATA_OVERHEAD,
  FAST_AEAD_MAX_BYTES,
  formatBytes,
  HEADER_SIZE,
  loadFastAead,
  LOOPBACK_CIPHER_SUITE,
  MAX_PAYLOAD_SIZE,
  MIN_PAYLOAD_SIZE,
} from "../shared/transfer/mod.ts";
import { parseByteSize, parseIntIn, UsageError } from "../shared/cli_args.ts";
import { PathEmulator } from "../dev/path_emulator.ts";
import { type ServerProcess, spawnServer } from "../dev/server_process.ts";
import { ServerConnection } from "../client/connection.ts";
import { benchFlags, runBench } from "./cli.ts";
import { PATH_METHODS, runPathMatrix } from "./transfer_paths.ts";
import { receiveToFile, sendFile, TCP_BUFFER } from "./tcp_copy.ts";
import { closePathLabs } from "../dev/path_lab.ts";
import type { CongestionControlName } from "../shared/transfer/mod.ts";

const HOST = "127.0.0.1";
const RANDOM_BLOCK = 16 * 1024 * 1024;
/** The blast receiver stops after this long without a datagram (ms). */
const BLAST_IDLE_MS = 300;
const ALL_METHODS = ["tcp", "blast", "ours", "ours 1%", "ours 5%", "relay"];
/** Clock ticks per second of /proc/PID/stat's times (USER_HZ, 100 on Linux). */
const CLOCK_TICKS = 100;

type Request =
  | { kind: "tcp"; path: string }
  | { kind: "blast"; expected: number; path: string }
  | {
    kind: "ours";
    offer: TransferOffer;
    dir: string;
    payloadSize: number;
    striping: boolean;
    /** Through the server's relay only. */
    relayOnly: boolean;
  }
  | { kind: "relay"; targetPort: number; loss: number; seed: number }
  | { kind: "stop" };

type Reply =
  | { kind: "ready"; port: number }
  | { kind: "finished"; bytes: number; at: number; ok: boolean; detail?: string };

/** Absolute time in ms, comparable across workers. */
function clock(): number {
  return performance.timeOrigin + performance.now();
}

// --- worker side ------------------------------------------------------------------------

/** The worker global, typed minimally (this file is type-checked as a main module). */
interface WorkerScope {
  postMessage(message: unknown): void;
  onmessage: ((event: MessageEvent<Request>) => void) | null;
  close(): void;
}

function serveWorker(): void {
  const scope = self as unknown as WorkerScope;
  const post = (r: Reply) => scope.postMessage(r);
  let stop: (() => Promise<void>) | undefined;
  scope.onmessage = async (event: MessageEvent<Request>) => {
    const req = event.data;
    if (req.kind === "stop") {
      await stop?.();
      post({ kind: "finished", bytes: 0, at: clock(), ok: true });
      scope.close();
      return;
    }
    if (req.kind === "tcp") {
      const listener = Deno.listen({ hostname: HOST, port: 0 });
      post({ kind: "ready", port: (listener.addr as Deno.NetAddr).port });
      const conn = await listener.accept();
      listener.close();
      const bytes = await receiveToFile(conn, req.path);
      post({ kind: "finished", bytes, at: clock(), ok: true });
    } else if (req.kind === "blast") {
      // The prototype's receiver: every datagram that arrives goes to the file, in arrival
      // order, nothing is asked for again. Written in 1 MiB blocks and fsynced at the end,
      // as the TCP receiver above and ours do, so all three measure a transfer to disk.
      const socket = Deno.listenDatagram({ transport: "udp", hostname: HOST, port: 0 });
      post({ kind: "ready", port: (socket.addr as Deno.NetAddr).port });
      using out = await Deno.open(req.path, { write: true, create: true, truncate: true });
      const block = new Uint8Array(TCP_BUFFER + 65536);
      let filled = 0;
      let bytes = 0;
      let last = clock();
      const timer = setInterval(() => {
        if (clock() - last > BLAST_IDLE_MS) socket.close();
      }, 50);
      try {
        for (;;) {
          const [d] = await socket.receive(block.subarray(filled, filled + 65536));
          filled += d.length;
          bytes += d.length;
          last = clock();
          if (bytes >= req.expected) break;
          if (filled >= TCP_BUFFER) {
            for (let at = 0; at < filled;) at += await out.write(block.subarray(at, filled));
            filled = 0;
          }
        }
        socket.close();
      } catch {
        // closed after the idle period
      }
      clearInterval(timer);
      const flushStart = clock();
      for (let at = 0; at < filled;) at += await out.write(block.subarray(at, filled));
      await out.sync();
      // The idle wait after the last datagram is not counted; the final flush is.
      post({ kind: "finished", bytes, at: last + (clock() - flushStart), ok: true });
    } else if (req.kind === "ours") {
      const endpoint = await TransferEndpoint.open({
        hostname: HOST,
        port: 0,
        downloadsDir: req.dir,
        payloadSize: req.payloadSize,
        striping: req.striping,
        relayOnly: req.relayOnly,
      });
      const handle = endpoint.expect(req.offer, HOST);
      post({ kind: "ready", port: endpoint.port });
      // Closed on "stop", once the sender finished too: a draining receiver answers the
      // sender's probes with DONE, so a lost DONE does not leave the sender to time out.
      stop = () => endpoint.close();
      const result = await handle.done;
      const at = clock();
      if (Deno.env.get("BENCH_DEBUG")) console.log("receiver", handle.stats(), endpoint.stats);
      post({
        kind: "finished",
        bytes: result.ok ? result.bytes : 0,
        at,
        ok: result.ok,
        detail: result.ok ? undefined : result.reason,
      });
    } else if (req.kind === "relay") {
      const emulator = await PathEmulator.open({
        target: { hostname: HOST, port: req.targetPort },
        loss: req.loss,
        reorder: req.loss / 5,
        duplicate: req.loss / 5,
        seed: req.seed,
      });
      stop = () => emulator.close();
      post({ kind: "ready", port: emulator.port });
    }
  };
}

/** A worker running serveWorker(), with request/reply helpers. */
class Peer {
  readonly #worker = new Worker(import.meta.url, { type: "module", name: "bench-peer" });
  #queue: Reply[] = [];
  #waiting: ((r: Reply) => void) | undefined;
  constructor() {
    this.#worker.onmessage = (e: MessageEvent<Reply>) => {
      if (this.#waiting) {
        const w = this.#waiting;
        this.#waiting = undefined;
        w(e.data);
      } else this.#queue.push(e.data);
    };
  }
  request(req: Request): void {
    this.#worker.postMessage(req);
  }
  next(): Promise<Reply> {
    const r = this.#queue.shift();
    if (r) return Promise.resolve(r);
    return new Promise((resolve) => (this.#waiting = resolve));
  }
  async ready(req: Request): Promise<number> {
    this.request(req);
    const r = await this.next();
    if (r.kind !== "ready") throw new Error("Cannot start peer: it did not get ready");
    return r.port;
  }
  async finished(): Promise<Extract<Reply, { kind: "finished" }>> {
    const r = await this.next();
    if (r.kind !== "finished") throw new Error("Cannot read result: unexpected reply");
    return r;
  }
  async stop(): Promise<void> {
    this.request({ kind: "stop" });
    await this.finished();
    this.#worker.terminate();
  }
}

// --- methods ----------------------------------------------------------------------------

/** CPU seconds (user + system) of every thread of this process since `from`. */
function cpuSince(from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1e6;
}

interface Sample {
  mbps: number;
  /** CPU time of the whole process (both peers' threads, and the relay's) during the run, s. */
  cpuSeconds: number;
  /** `relay`: CPU time of the server process during the run, s. */
  serverCpuSeconds?: number;
  ok: boolean;
  detail?: string;
}

async function runTcp(src: string, dst: string, size: number): Promise<Sample> {
  const peer = new Peer();
  const port = await peer.ready({ kind: "tcp", path: dst });
  const cpu0 = process.cpuUsage();
  const t0 = clock();
  await sendFile(src, await Deno.connect({ hostname: HOST, port }));
  const r = await peer.finished();
  const cpuSeconds = cpuSince(cpu0);
  await peer.stop();
  return { mbps: size / 1e6 / ((r.at - t0) / 1000), cpuSeconds, ok: r.bytes === size };
}

async function runBlast(
  src: string,
  dst: string,
  size: number,
  payload: number,
): Promise<Sample> {
  const peer = new Peer();
  const port = await peer.ready({ kind: "blast", expected: size, path: dst });
  const socket = Deno.listenDatagram({ transport: "udp", hostname: HOST, port: 0 });
  const to = { transport: "udp" as const, hostname: HOST, port };
  using file = await Deno.open(src, { read: true });
  const buffer = new Uint8Array(TCP_BUFFER - (TCP_BUFFER % payload));
  const cpu0 = process.cpuUsage();
  const t0 = clock();
  for (;;) {
    const n = await file.read(buffer);
    if (n === null) break;
    const sends: Promise<number>[] = [];
    for (let at = 0; at < n; at += payload) {
      // Views, not copies: a fresh array per datagram would throttle the blast (to ≈ 380
      // instead of 1000–1600 MB/s here); `buffer` is reused only after every send is done.
      sends.push(socket.send(buffer.subarray(at, Math.min(n, at + payload)), to));
      if (sends.length >= 64) await Promise.all(sends.splice(0));
    }
    await Promise.all(sends);
  }
  const r = await peer.finished();
  const cpuSeconds = cpuSince(cpu0);
  socket.close();
  await peer.stop();
  const seconds = (r.at - t0) / 1000;
  return {
    mbps: r.bytes / 1e6 / seconds,
    cpuSeconds,
    ok: true,
    detail: `${(100 * (1 - r.bytes / size)).toFixed(1)}% lost`,
  };
}

async function runOurs(
  src: string,
  dir: string,
  size: number,
  payloadSize: number,
  suite: CipherSuite | undefined,
  loss: number,
  seed: number,
  striping: boolean,
  server?: BenchServer,
  cc?: CongestionControlName,
): Promise<Sample> {
  const d = await describeFile(src);
  // Through a server, it brokers the transfer (id, secret, its UDP port); else made up here.
  const brokered = server === undefined ? undefined : await server.broker(d);
  const offer: TransferOffer = {
    id: brokered?.id ?? Array.from(
      crypto.getRandomValues(new Uint8Array(8)),
      (b) => b.toString(16).padStart(2, "0"),
    )
      .join(""),
    secret: brokered?.secret ??
      btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32)))),
    from: "bench",
    to: "peer",
    fileName: d.baseName,
    size: d.size,
    sha256: d.sha256,
    suite,
    server: brokered?.server,
  };
  const relayOnly = server !== undefined;
  const receiver = new Peer();
  // No striping through the relay: it forwards one port, and datagrams sent straight to
  // the receiver's other ports would go around its losses.
  const stripe = striping && loss === 0 && !relayOnly;
  const receiverPort = await receiver.ready({
    kind: "ours",
    offer,
    dir,
    payloadSize,
    striping: stripe,
    relayOnly,
  });
  let relay: Peer | undefined;
  let port = receiverPort;
  if (loss > 0) {
    relay = new Peer();
    port = await relay.ready({ kind: "relay", targetPort: receiverPort, loss, seed });
  }
  const endpoint: Endpoint = await TransferEndpoint.open({
    hostname: HOST,
    port: 0,
    downloadsDir: dir,
    payloadSize,
    striping: stripe,
    relayOnly,
    // Through the lossy emulator the path stands for a real network: BBR, as there.
    congestionControl: cc ?? (loss > 0 ? "bbr" : undefined),
  });
  const cpu0 = Deno.env.get("BENCH_DEBUG") ? threadCpu() : undefined;
  const serverCpuStart = await server?.cpuSeconds();
  const cpuStart = process.cpuUsage();
  const t0 = clock();
  const handle = endpoint.send(offer, src, { hostname: HOST, port });
  const trace = Deno.env.get("BENCH_TRACE")
    ? setInterval(() => {
      const s = handle.stats();
      console.log(
        `    ${handle.progress().bytes} B acked, cwnd ${s.cwndBytes?.toFixed(0)}, ` +
          `srtt ${s.srttMs?.toFixed(2)} ms, pacing ${
            ((s.pacingRateBps ?? 0) / 1e6).toFixed(0)
          } MB/s ` +
          `(wake-ups ${s.pacingLatenessMs?.toFixed(1)} ms late), lost ${s.lostPackets}, ` +
          `sent ${s.dataPacketsSent}`,
      );
    }, Number(Deno.env.get("BENCH_TRACE_MS") ?? 100))
    : undefined;
  const [sent, received] = await Promise.all([handle.done, receiver.finished()]);
  const cpuSeconds = cpuSince(cpuStart);
  const serverCpuSeconds = server === undefined
    ? undefined
    : (await server.cpuSeconds()) - serverCpuStart!;
  clearInterval(trace);
  if (cpu0 !== undefined) {
    const wall = (received.at - t0) / 1000;
    const cpu1 = threadCpu();
    const busy = [...cpu1].map(([name, [run, wait]]) => {
      const [run0, wait0] = cpu0.get(name) ?? [0, 0];
      const pct = (x: number) => (x / wall * 100).toFixed(0);
      return `${name} ${pct(run - run0)}% (waiting for a CPU ${pct(wait - wait0)}%)`;
    });
    console.log(`    CPU during the transfer (of ${wall.toFixed(2)} s): ${busy.join(", ")}`);
    let total = 0;
    for (const [name, [run]] of cpu1) total += run - (cpu0.get(name)?.[0] ?? 0);
    console.log(`    CPU, all threads: ${(total / (size / 1e8)).toFixed(2)} s per 100 MB`);
    console.log(handle.stats(), endpoint.stats);
  }
  await endpoint.close();
  await relay?.stop();
  await receiver.stop();
  const ok = sent.ok && received.ok;
  const via = sent.ok ? sent.via : undefined;
  const wrongPath = ok && via !== (relayOnly ? "relay" : "direct");
  return {
    mbps: size / 1e6 / ((received.at - t0) / 1000),
    cpuSeconds,
    serverCpuSeconds,
    ok: ok && !wrongPath,
    detail: wrongPath ? `went ${via}` : ok ? undefined : (sent.ok ? received.detail : sent.reason),
  };
}

/**
 * A real `tessenger server` child process whose UDP relay carries the `relay` method's
 * transfers (its rate caps lifted: the benchmark measures the relay, not its limits), with
 * two logged-in users, the sender "bench" and the receiver "peer".
 */
class BenchServer {
  private constructor(
    readonly process: ServerProcess,
    readonly sender: ServerConnection,
    readonly receiver: ServerConnection,
  ) {}

  static async start(root: string): Promise<BenchServer> {
    const dir = await Deno.makeTempDir({ dir: root, prefix: "server_" });
    const credentials = join(dir, "credentials.txt");
    await Deno.writeTextFile(credentials, "bench bench-pw\npeer peer-pw\n");
    const proc = await spawnServer([
      "--data-dir",
      dir,
      "--credentials",
      credentials,
      "--relay-transfer-rate",
      "1000G",
      "--relay-total-rate",
      "1000G",
    ], { deno: "deno" });
    const login = async (user: string) => {
      const conn = await ServerConnection.connect({ host: HOST, port: proc.port });
      await conn.request("user", [user]);
      const res = await conn.request("pass", [`${user}-pw`, "0"]);
      if (!res.ok) throw new Error(`Cannot log in ${user}: ${res.lines.join(" ")}`);
      return conn;
    };
    return new BenchServer(proc, await login("bench"), await login("peer"));
  }

  /** Asks the server to broker a transfer of `file` from "bench" to "peer". */
  async broker(file: { baseName: string; size: number; sha256: string }) {
    const res = await this.sender.request("p2pvideo", [
      "peer",
      file.baseName,
      String(file.size),
      file.sha256,
    ]);
    const data = res.data as { id: string; secret: string; serverUdpPort?: number } | undefined;
    if (!res.ok || data?.serverUdpPort === undefined) {
      throw new Error(`Cannot broker a relayed transfer: ${res.lines.join(" ") || "no UDP port"}`);
    }
    return {
      id: data.id,
      secret: data.secret,
      server: { hostname: HOST, port: data.serverUdpPort },
    };
  }

  /** CPU seconds (user + system) the server process has used so far. */
  async cpuSeconds(): Promise<number> {
    const out = await new Deno.Command("cat", {
      args: [`/proc/${this.process.child.pid}/stat`],
      stdout: "piped",
    }).output();
    // Fields 14 and 15 (utime, stime) follow the ")" that ends the command name.
    const text = new TextDecoder().decode(out.stdout);
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  }

  async close(): Promise<void> {
    this.sender.close();
    this.receiver.close();
    this.process.child.kill("SIGTERM");
    await this.process.child.status;
    await this.process.drained;
  }
}

/**
 * Per thread name of this process: [seconds on a CPU, seconds runnable but waiting for
 * one] from /proc/self/task/TID/schedstat (Linux), for BENCH_DEBUG. Deno only lets a
 * program read /proc/self with --allow-all, so the task leaves these figures empty.
 */
function threadCpu(): Map<string, [number, number]> {
  const out = new Map<string, [number, number]>();
  let tasks: Deno.DirEntry[] = [];
  try {
    tasks = [...Deno.readDirSync("/proc/self/task")];
  } catch {
    return out;
  }
  for (const e of tasks) {
    try {
      const comm = Deno.readTextFileSync(`/proc/self/task/${e.name}/comm`).trim();
      const [run, wait] = Deno.readTextFileSync(`/proc/self/task/${e.name}/schedstat`)
        .split(" ").map((n) => Number(n) / 1e9);
      const sum = out.get(comm) ?? [0, 0];
      out.set(comm, [sum[0] + run, sum[1] + wait]);
    } catch {
      // The thread ended meanwhile.
    }
  }
  return out;
}

// --- main -------------------------------------------------------------------------------

const CIPHER_SUITES: readonly CipherSuite[] = ["chacha20-poly1305", "poly1305", "aes-256-gcm"];

const USAGE = `Usage: deno task bench:transfer [--sizes LIST] [--runs N] [--payload BYTES]
       [--suite NAME] [--methods LIST] [--no-striping] [--cc bbr|newreno]
       deno task bench:transfer --paths LIST [--losses LIST] [--path-size SIZE]
       [--path-methods LIST] [--queue-ms MS] [--path-limit S] [--runs N]
       deno task bench:transfer --suites [--payload BYTES]

  --sizes LIST     file sizes, comma-separated (default 100M,1G,100M@1200). Sizes count in
                   1000s (100M and 100MB are 10^8 bytes; 100MiB is 2^20 x 100). SIZE@BYTES
                   runs with BYTES per datagram and one receiving socket, as a transfer off
                   loopback does
  --runs N         runs per method and size, reported as min / median / max (default 3)
  --payload BYTES  UDP payload per datagram where a size names none (default ${LOOPBACK_PAYLOAD_SIZE})
  --suite NAME     packet protection: ${CIPHER_SUITES.join(", ")} (default: the
                   transfer's own choice, ${LOOPBACK_CIPHER_SUITE} on loopback)
  --methods LIST   ${ALL_METHODS.map((m) => m.replace(" ", "-")).join(",")} (default all)
  --no-striping    one receiving socket for every size
  --cc NAME        congestion control of ours: bbr or newreno (default: the transfer's
                   own choice, newreno towards loopback; the lossy methods use bbr)
  --suites         instead: seal / open cost of one datagram per protection suite

The path matrix (root: network namespaces, a TUN router emulating each path):
  --paths LIST         paths as MBITxRTT_MS, comma-separated, e.g. 50x40,100x100
  --losses LIST        loss in percent, each direction (default 0,1,5)
  --path-size SIZE     the file each method moves (default 50M)
  --path-methods LIST  ${PATH_METHODS.join(",")} (default tcp-reno,tcp-cubic,tcp-bbr,ours;
                       a TCP the kernel does not let a namespace choose is skipped)
  --queue-ms MS        the bottleneck's drop-tail queue (default 50)
  --path-limit S       a run still going after S seconds is stopped and measured by what
                       had arrived, marked * (default 60)

Environment: BENCH_DEBUG=1 prints both sides' counters; BENCH_TRACE=1 the sender's window
every 100 ms (BENCH_TRACE_MS=N: every N ms).`;

/** One entry of `--sizes`: bytes, and the payload size when the entry names one. */
interface SizeSpec {
  text: string;
  bytes: number;
  payload?: number;
}

function payloadSize(text: string, what: string): number {
  return parseIntIn(text, what, MIN_PAYLOAD_SIZE, MAX_PAYLOAD_SIZE);
}

function parseSettings(argv: string[]) {
  const v = benchFlags(argv, {
    sizes: { type: "string", default: "100M,1G,100M@1200" },
    runs: { type: "string", default: "3" },
    payload: { type: "string", default: String(LOOPBACK_PAYLOAD_SIZE) },
    suite: { type: "string" },
    methods: { type: "string", default: ALL_METHODS.join(",") },
    "no-striping": { type: "boolean", default: false },
    cc: { type: "string" },
    suites: { type: "boolean", default: false },
    paths: { type: "string" },
    losses: { type: "string", default: "0,1,5" },
    "path-size": { type: "string", default: "50M" },
    "path-methods": { type: "string", default: "tcp-reno,tcp-cubic,tcp-bbr,ours" },
    "queue-ms": { type: "string", default: "50" },
    "path-limit": { type: "string", default: "60" },
  }, USAGE);
  if (!v) return undefined;
  const sizes: SizeSpec[] = v.sizes.split(",").map((text) => {
    const [size, payload] = text.trim().split("@");
    return {
      text: text.trim(),
      bytes: parseByteSize(size, "--sizes entry", 1000),
      payload: payload === undefined ? undefined : payloadSize(payload, "--sizes payload"),
    };
  });
  const methods = v.methods.split(",").map((m) => m.trim().replace("-", " "));
  for (const m of methods) {
    if (!ALL_METHODS.includes(m)) {
      throw new UsageError(`Unknown method: ${JSON.stringify(m)}`, USAGE);
    }
  }
  if (v.suite !== undefined && !CIPHER_SUITES.includes(v.suite as CipherSuite)) {
    throw new UsageError(`Unknown suite: ${JSON.stringify(v.suite)}`, USAGE);
  }
  if (v.cc !== undefined && v.cc !== "bbr" && v.cc !== "newreno") {
    throw new UsageError(`Unknown congestion control: ${JSON.stringify(v.cc)}`, USAGE);
  }
  const paths = v.paths?.split(",").map((text) => {
    const m = /^(\d+(?:\.\d+)?)x(\d+(?:\.\d+)?)$/.exec(text.trim());
    if (!m) {
      throw new UsageError(`A path is MBITxRTT_MS (50x40), not ${JSON.stringify(text)}`, USAGE);
    }
    return { mbps: Number(m[1]), rttMs: Number(m[2]) };
  });
  const losses = v.losses.split(",").map((text) => {
    const pct = Number(text.trim());
    if (!(pct >= 0 && pct < 100)) {
      throw new UsageError(`Not a loss in %: ${JSON.stringify(text)}`, USAGE);
    }
    return pct / 100;
  });
  const pathMethods = v["path-methods"].split(",").map((m) => m.trim());
  for (const m of pathMethods) {
    if (!PATH_METHODS.includes(m)) {
      throw new UsageError(`Unknown path method: ${JSON.stringify(m)}`, USAGE);
    }
  }
  return {
    suitesOnly: v.suites,
    sizes,
    runs: parseIntIn(v.runs, "--runs", 1, 100),
    payload: payloadSize(v.payload, "--payload"),
    suite: v.suite as CipherSuite | undefined,
    methods,
    striping: !v["no-striping"],
    cc: v.cc as CongestionControlName | undefined,
    paths,
    losses,
    pathSize: parseByteSize(v["path-size"], "--path-size", 1000),
    pathMethods,
    queueMs: parseIntIn(v["queue-ms"], "--queue-ms", 1, 10_000),
    pathLimitMs: 1000 * parseIntIn(v["path-limit"], "--path-limit", 1, 3600),
  };
}

async function writeRandomFile(path: string, size: number): Promise<void> {
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  const block = new Uint8Array(RANDOM_BLOCK);
  for (let at = 0; at < block.length; at += 65536) {
    crypto.getRandomValues(block.subarray(at, at + 65536));
  }
  for (let written = 0; written < size;) {
    const n = Math.min(block.length, size - written);
    block[0] = written & 0xff; // no two blocks identical
    for (let at = 0; at < n;) at += await file.write(block.subarray(at, n));
    written += n;
  }
}

/** The 1-minute load average (other work on the machine skews every figure). */
function loadAverage(): string {
  try {
    return Deno.loadavg()[0].toFixed(2);
  } catch {
    return "unknown"; // needs --allow-sys=loadavg
  }
}

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0], median: s[Math.floor(s.length / 2)], max: s[s.length - 1] };
}

/**
 * Median seal and open time of one datagram of `payload` bytes, per protection suite and,
 * for the ChaCha20 suites, with libsodium and with node:crypto alone.
 */
async function measureSuites(payload: number): Promise<void> {
  const loaded = await loadFastAead();
  const header = new Uint8Array(HEADER_SIZE);
  const body = new Uint8Array(payload - DATA_OVERHEAD + 4);
  const out = new Uint8Array(payload);
  const median = (f: () => void) => {
    const times: number[] = [];
    for (let round = 0; round < 15; round++) {
      const t0 = performance.now();
      for (let i = 0; i < 100; i++) f();
      times.push((performance.now() - t0) * 10); // µs per call
    }
    return stats(times).median.toFixed(1);
  };
  console.log(`Seal / open of one ${payload}-byte datagram, µs (median of 15 × 100):`);
  const libsodium = loaded && payload <= FAST_AEAD_MAX_BYTES;
  for (const suite of CIPHER_SUITES) {
    for (const fast of suite === "aes-256-gcm" ? [false] : libsodium ? [true, false] : [false]) {
      const p = createPacketProtection(new Uint8Array(32), suite, { libsodium: fast });
      let pn = 0;
      const seal = median(() => p.seal(0, pn++, header, body, undefined, out));
      const sealed = p.seal(0, 7, header, body).slice();
      // A fresh copy each time: opening may decrypt in place (a copy costs ≈ 0.1 µs).
      const copy = new Uint8Array(sealed.length);
      const open = median(() => p.open(0, 7, (copy.set(sealed), copy)));
      const name = `${suite} (${fast ? "libsodium" : "node:crypto"})`;
      console.log(`  ${name.padEnd(32)} ${seal.padStart(7)} ${open.padStart(7)}`);
    }
  }
}

async function main(argv: string[]): Promise<void> {
  const opts = parseSettings(argv);
  if (!opts) return;
  if (opts.suitesOnly) return await measureSuites(opts.payload);
  const root = await Deno.makeTempDir({ prefix: "tessenger_bench_" });
  if (opts.paths !== undefined) {
    // Ctrl-C: the namespaces go too (the peers, in the same process group, end by themselves,
    // so the run in progress fails: that failure waits here for the exit).
    let interrupted: Promise<never> | undefined;
    const onInterrupt = () => {
      interrupted ??= (async () => {
        await closePathLabs();
        await Deno.remove(root, { recursive: true }).catch(() => {});
        Deno.exit(130);
      })();
    };
    Deno.addSignalListener("SIGINT", onInterrupt);
    try {
      console.log(
        `P2P transfer path matrix: ${navigator.hardwareConcurrency} CPUs, load average ${loadAverage()}`,
      );
      const rows = await runPathMatrix({
        paths: opts.paths,
        losses: opts.losses,
        size: opts.pathSize,
        runs: opts.runs,
        queueMs: opts.queueMs,
        methods: opts.pathMethods,
        limitMs: opts.pathLimitMs,
        root,
        log: (line) => console.log(line),
      });
      console.log(rows.join("\n"));
      console.log(`\nload average at the end: ${loadAverage()}`);
    } catch (e) {
      if (interrupted !== undefined) await interrupted;
      throw e;
    } finally {
      Deno.removeSignalListener("SIGINT", onInterrupt);
      await Deno.remove(root, { recursive: true });
    }
    return;
  }
  const onInterrupt = () => {
    Deno.removeSync(root, { recursive: true });
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onInterrupt);
  console.log(
    `P2P transfer benchmark: loopback, payload ${opts.payload} B unless given, suite ${
      opts.suite ?? "default"
    }, ${opts.runs} run(s), ${navigator.hardwareConcurrency} CPUs, load average ${loadAverage()}`,
  );
  const rows: string[] = [];
  let server: BenchServer | undefined;
  try {
    for (const { text: sizeText, bytes: size, payload: ownPayload } of opts.sizes) {
      // SIZE@PAYLOAD: that payload and one receiving socket, as a transfer off loopback.
      const payload = ownPayload ?? opts.payload;
      const striping = ownPayload === undefined && opts.striping;
      const src = join(root, `src_${size}.bin`);
      await writeRandomFile(src, size);
      const results = new Map<string, { mbps: number[]; cpu: number[]; serverCpu: number[] }>();
      for (let run = 0; run < opts.runs; run++) {
        for (const method of opts.methods) {
          const dir = await Deno.makeTempDir({ dir: root });
          let sample: Sample;
          if (method === "tcp") sample = await runTcp(src, join(dir, "out.bin"), size);
          else if (method === "blast") {
            sample = await runBlast(src, join(dir, "out.bin"), size, payload);
          } else {
            const loss = method === "ours" || method === "relay"
              ? 0
              : Number(method.split(" ")[1].replace("%", "")) / 100;
            if (method === "relay") server ??= await BenchServer.start(root);
            sample = await runOurs(
              src,
              dir,
              size,
              payload,
              opts.suite,
              loss,
              1000 + run,
              striping,
              method === "relay" ? server : undefined,
              opts.cc,
            );
          }
          await Deno.remove(dir, { recursive: true });
          const cpu = sample.cpuSeconds / (size / 1e8);
          const serverCpu = sample.serverCpuSeconds === undefined
            ? undefined
            : sample.serverCpuSeconds / (size / 1e9);
          console.log(
            `  ${sizeText} run ${run + 1} ${method.padEnd(8)} ${
              sample.mbps.toFixed(1).padStart(7)
            } MB/s, CPU ${cpu.toFixed(2)} s per 100 MB` +
              (serverCpu === undefined ? "" : `, server ${serverCpu.toFixed(2)} s per GB`) +
              (sample.ok ? "" : "  FAILED") + (sample.detail ? `  (${sample.detail})` : ""),
          );
          if (!results.has(method)) results.set(method, { mbps: [], cpu: [], serverCpu: [] });
          results.get(method)!.mbps.push(sample.ok ? sample.mbps : 0);
          results.get(method)!.cpu.push(cpu);
          if (serverCpu !== undefined) results.get(method)!.serverCpu.push(serverCpu);
        }
      }
      await Deno.remove(src);
      const med = (m: string, k: "mbps" | "cpu" | "serverCpu" = "mbps") =>
        results.has(m) ? stats(results.get(m)![k]).median : NaN;
      rows.push(
        `\n${sizeText} (${formatBytes(size)}, payload ${payload} B, ${
          striping ? "striped" : "one socket"
        }), MB/s, and CPU seconds per 100 MB:`,
      );
      rows.push(
        `  ${"method".padEnd(8)} ${"min".padStart(8)} ${"median".padStart(8)} ${
          "max".padStart(8)
        } ${"CPU".padStart(6)}`,
      );
      for (const [method, xs] of results) {
        const s = stats(xs.mbps);
        rows.push(
          `  ${method.padEnd(8)} ${s.min.toFixed(1).padStart(8)} ${
            s.median.toFixed(1).padStart(8)
          } ${s.max.toFixed(1).padStart(8)} ${med(method, "cpu").toFixed(2).padStart(6)}`,
        );
      }
      const ratio = (a: string, b: string, k: "mbps" | "cpu" = "mbps") =>
        (med(a, k) / med(b, k)).toFixed(2);
      rows.push(
        `  ratios (medians): ours/tcp ${ratio("ours", "tcp")}, ours/blast ${
          ratio("ours", "blast")
        }, ` +
          `1% loss/clean ${ratio("ours 1%", "ours")}, 5% loss/clean ${ratio("ours 5%", "ours")}`,
      );
      rows.push(
        `  CPU per 100 MB (medians): ours/tcp ${ratio("ours", "tcp", "cpu")}, ours/blast ${
          ratio("ours", "blast", "cpu")
        }`,
      );
      if (results.has("relay")) {
        rows.push(
          `  relayed/direct goodput (medians) ${ratio("relay", "ours")}; the server's CPU ${
            med("relay", "serverCpu").toFixed(2)
          } s per relayed GB`,
        );
      }
    }
  } finally {
    await server?.close();
    Deno.removeSignalListener("SIGINT", onInterrupt);
    await Deno.remove(root, { recursive: true });
  }
  console.log(rows.join("\n"));
  console.log(`\nload average at the end: ${loadAverage()}`);
}

if (self.name === "bench-peer") serveWorker();
else if (import.meta.main) Deno.exit(await runBench("bench:transfer", () => main(Deno.args)));

/**
 * `deno task bench:load`: runs the same chat workloads against TESSENGER,
 * ngIRCd and InspIRCd in one go and prints Markdown tables (min / median /
 * max over the runs), plus an SVG chart of the fan-out results.
 *
 * Workloads: fanout (one sender → a group of N), talkers (many clients sending
 * private messages at a steady rate), idle (server memory per logged-in idle
 * client), logins (login storm, 100 in flight). `--help` lists the flags.
 *
 * Nothing is installed: a missing IRC daemon is skipped with the reason and
 * how to install it. Every server is started here and stopped by its PID.
 *
 * @module
 */

import { join } from "node:path";
import { hashPassword, SCRYPT_COST } from "../server/passwords.ts";
import { parseIntIn, UsageError } from "../shared/cli_args.ts";
import { benchFlags, runBench } from "./cli.ts";
import { connectMany, type LoadClient } from "./load/clients.ts";
import {
  cell,
  type ChartSeries,
  fanoutChart,
  short,
  type Spread,
  spread,
  table,
} from "./load/report.ts";
import {
  cpuSeconds,
  DEFAULT_ANCHORS,
  missingReason,
  openFileLimit,
  REFERENCE_KINDS,
  SERVER_KINDS,
  type ServerKind,
  type ServerUnderTest,
  startServer,
} from "./load/servers.ts";
import {
  type FanoutResult,
  fanoutRun,
  idleRamp,
  type IdleStep,
  loginStorm,
  type LoginStormResult,
  sleep,
  type TalkersResult,
  talkersRun,
} from "./load/workloads.ts";

const WORKLOADS = ["fanout", "talkers", "idle", "logins"] as const;
type Workload = typeof WORKLOADS[number];

const USAGE = `Usage: deno task bench:load [--servers LIST] [--workloads LIST] [--runs N]
       [--fanout-sizes LIST] [--fanout-deliveries N] [--talkers N] [--talker-rate N]
       [--talker-seconds N] [--idle-steps LIST] [--idle-in-flight N] [--logins N] [--chart FILE] [--json FILE]
       [--anchors DIR] [--keep] [--tessenger-flags FLAGS] [--cluster K] [--cluster-deliveries N]

  --servers LIST          tessenger,tessenger-irc,ngircd,inspircd,deno-relay (default all;
                          tessenger-irc is TESSENGER driven through its IRC door, deno-relay
                          the Deno floor, an IRC relay that stores and checks nothing)
  --workloads LIST        fanout,talkers,idle,logins (default all four)
  --runs N                runs per figure, reported as min / median / max (default 3)
  --fanout-sizes LIST     receivers per group (default 50,500)
  --fanout-deliveries N   deliveries per fan-out run; messages = N / receivers (default 5000000)
  --talkers N             clients in the many-talkers workload (default 1000)
  --talker-rate N         private messages per second per talker (default 2)
  --talker-seconds N      sending time per talkers run (default 10)
  --idle-steps LIST       idle clients to measure memory at (default 1000,5000,10000)
  --idle-in-flight N       logins in flight while ramping the idle clients (default 100)
  --logins N              logins per login-storm run (default 300)
  --chart FILE            write the fan-out SVG chart here (default docs/load-chart.svg)
  --json FILE             also write every run's figures as JSON
  --anchors DIR           where ngircd.conf and inspircd.conf are (default ${DEFAULT_ANCHORS})
  --keep                  keep the scratch directory (server logs, data dirs)
  --tessenger-flags FLAGS extra deno flags for the TESSENGER server, space-separated
                          (e.g. --tessenger-flags="--cpu-prof --cpu-prof-dir=/tmp/p")
  --cluster K             fan-out also against K TESSENGER nodes on one PostgreSQL and
                          one Redis started here, members spread over the nodes
                          (docs/cluster.md; needs postgresql and redis-server)
  --cluster-deliveries N  deliveries per fan-out run of the cluster, at most --fanout-deliveries
                          (default 250000: a run waits for a commit per message)`;

const SERVER_TITLE: Record<ServerKind, string> = {
  tessenger: "TESSENGER",
  "tessenger-irc": "TESSENGER (IRC)",
  ngircd: "ngIRCd",
  inspircd: "InspIRCd",
  "deno-relay": "Deno relay",
  "tessenger-cluster": "TESSENGER cluster",
};

/** The password of every generated account. */
const PASSWORD = "load-bench-pw";
/**
 * Cost of the accounts used to set up fan-out, talkers and idle: the server
 * checks each hash with the parameters stored in it, and 30,000 logins at the
 * production cost would take most of an hour without changing what those
 * workloads measure. The login storm uses the production cost.
 */
const SETUP_COST = { N: 1024, r: 8, p: 1 };

interface Settings {
  servers: ServerKind[];
  workloads: Workload[];
  runs: number;
  fanoutSizes: number[];
  fanoutDeliveries: number;
  talkers: number;
  talkerRate: number;
  talkerSeconds: number;
  idleSteps: number[];
  idleInFlight: number;
  logins: number;
  chart: string;
  json?: string;
  anchors: string;
  keep: boolean;
  tessengerFlags: string[];
  /** Nodes of the cluster the fan-out also runs against; undefined: none. */
  cluster?: number;
  clusterDeliveries: number;
}

function list(text: string, what: string): string[] {
  const items = text.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (items.length === 0) throw new UsageError(`Invalid ${what}: empty list`, USAGE);
  return items;
}

const positive = (text: string, what: string, max = 1e9) => parseIntIn(text, what, 1, max);

function parseSettings(argv: string[]): Settings | undefined {
  const v = benchFlags(argv, {
    servers: { type: "string", default: SERVER_KINDS.join(",") },
    workloads: { type: "string", default: WORKLOADS.join(",") },
    runs: { type: "string", default: "3" },
    "fanout-sizes": { type: "string", default: "50,500" },
    // A run opens with a burst of 100 messages at once: at N=500 that is 50,000 deliveries,
    // 5 % of a 1,000,000-delivery run (≈ 0.3 s), so its p99 was the opening burst (and one
    // GC pause) rather than the steady state. 5,000,000 makes the burst 1 %.
    "fanout-deliveries": { type: "string", default: "5000000" },
    talkers: { type: "string", default: "1000" },
    "talker-rate": { type: "string", default: "2" },
    "talker-seconds": { type: "string", default: "10" },
    "idle-steps": { type: "string", default: "1000,5000,10000" },
    "idle-in-flight": { type: "string", default: "100" },
    logins: { type: "string", default: "300" },
    chart: { type: "string", default: "docs/load-chart.svg" },
    json: { type: "string" },
    anchors: { type: "string", default: DEFAULT_ANCHORS },
    keep: { type: "boolean", default: false },
    "tessenger-flags": { type: "string", default: "" },
    cluster: { type: "string" },
    "cluster-deliveries": { type: "string", default: "250000" },
  }, USAGE);
  if (!v) return undefined;
  const servers = list(v.servers, "--servers");
  for (const s of servers) {
    if (!SERVER_KINDS.includes(s as ServerKind)) {
      throw new UsageError(`Unknown server: ${s}`, USAGE);
    }
  }
  const workloads = list(v.workloads, "--workloads");
  for (const w of workloads) {
    if (!WORKLOADS.includes(w as Workload)) throw new UsageError(`Unknown workload: ${w}`, USAGE);
  }
  const idleSteps = list(v["idle-steps"], "--idle-steps").map((s) =>
    positive(s, "--idle-steps", 15_000)
  ).sort((a, b) => a - b);
  return {
    servers: servers as ServerKind[],
    workloads: workloads as Workload[],
    runs: positive(v.runs, "--runs", 20),
    fanoutSizes: list(v["fanout-sizes"], "--fanout-sizes").map((s) =>
      positive(s, "--fanout-sizes", 5000)
    ),
    fanoutDeliveries: positive(v["fanout-deliveries"], "--fanout-deliveries", 1e8),
    talkers: positive(v.talkers, "--talkers", 5000),
    talkerRate: positive(v["talker-rate"], "--talker-rate", 1000),
    talkerSeconds: positive(v["talker-seconds"], "--talker-seconds", 600),
    idleSteps,
    idleInFlight: positive(v["idle-in-flight"], "--idle-in-flight", 5000),
    logins: positive(v.logins, "--logins", 5000),
    chart: v.chart,
    json: v.json,
    anchors: v.anchors,
    keep: v.keep,
    tessengerFlags: v["tessenger-flags"].split(" ").filter((f) => f !== ""),
    cluster: v.cluster === undefined ? undefined : parseIntIn(v.cluster, "--cluster", 2, 16),
    clusterDeliveries: positive(v["cluster-deliveries"], "--cluster-deliveries", 1e8),
  };
}

const log = (text: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${text}`);
const names = (prefix: string, from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => `${prefix}${from + i}`);

/** Everything measured, keyed by server. */
interface Results {
  fanout: Record<string, Record<number, FanoutResult[]>>;
  talkers: Record<string, TalkersResult[]>;
  idle: Record<string, { baseRssBytes: number; steps: IdleStep[] }[]>;
  logins: Record<string, LoginStormResult[]>;
  skipped: Record<string, string>;
  failed: string[];
  /** 1-minute load average before each server's workload: other work on the machine skews figures. */
  load: string[];
}

/** Starts a server in its own scratch dir; it is stopped by {@link stop} or at the end. */
async function start(
  kind: ServerKind,
  ctx: Context,
  groups?: { name: string; members: string[] }[],
): Promise<ServerUnderTest> {
  const runDir = await Deno.makeTempDir({ dir: ctx.scratch, prefix: `${kind}-` });
  const options = {
    runDir,
    credentialsPath: ctx.credentialsPath,
    password: PASSWORD,
    anchorsDir: ctx.settings.anchors,
    denoFlags: ctx.settings.tessengerFlags,
    groups,
  };
  const server = kind === "tessenger-cluster"
    ? await (await import("./load/cluster.ts")).startCluster(ctx.settings.cluster ?? 3, options)
    : await startServer(kind, options);
  ctx.running.add(server);
  return server;
}

/** Stops a server by its PID. */
async function stop(server: ServerUnderTest, ctx: Context): Promise<void> {
  await server.stop();
  ctx.running.delete(server);
}

/** Starts a server, runs `body`, and always stops the server by its PID. */
async function withServer<T>(
  kind: ServerKind,
  ctx: Context,
  body: (server: ServerUnderTest) => Promise<T>,
): Promise<T> {
  const server = await start(kind, ctx);
  try {
    return await body(server);
  } finally {
    await stop(server, ctx);
  }
}

interface Context {
  settings: Settings;
  scratch: string;
  credentialsPath: string;
  running: Set<ServerUnderTest>;
}

async function closeAll(clients: LoadClient[]): Promise<void> {
  for (const c of clients) c?.close();
  await Promise.all(clients.map((c) => c?.closed));
}

/** A server with a fan-out group joined by a sender and N receivers. */
interface FanoutBench {
  kind: ServerKind;
  /** A tenth of a run, not counted; run just before the first counted one. */
  warmUp(): Promise<void>;
  run(tag: number): Promise<FanoutResult>;
  close(): Promise<void>;
}

async function setUpFanout(kind: ServerKind, n: number, ctx: Context): Promise<FanoutBench> {
  const members = names("u", 0, n + 1);
  const server = await start(kind, ctx, [{ name: "load", members }]);
  let all: LoadClient[] = [];
  const close = async () => {
    await closeAll(all);
    await stop(server, ctx);
  };
  try {
    const receivers = await connectMany(server.driver, members.slice(1), { readBytes: 32768 });
    const [sender] = await connectMany(server.driver, members.slice(0, 1));
    all = [sender, ...receivers];
    for (let i = 0; i < all.length; i += 50) {
      await Promise.all(all.slice(i, i + 50).map((c) => c.join("load")));
    }
    await sleep(1000); // let the server finish the joins (IRC: JOIN broadcasts)
    const deliveries = kind === "tessenger-cluster"
      ? Math.min(ctx.settings.clusterDeliveries, ctx.settings.fanoutDeliveries)
      : ctx.settings.fanoutDeliveries;
    const messages = Math.ceil(deliveries / n);
    return {
      kind,
      warmUp: async () => {
        log(`  ${SERVER_TITLE[kind]} N=${n} warm-up: ${Math.ceil(messages / 10)} messages`);
        await fanoutRun(sender, receivers, {
          group: "load",
          messages: Math.ceil(messages / 10),
          tag: 1000,
        });
      },
      run: async (tag) => {
        const processes = server.processes ?? [{ name: SERVER_TITLE[kind], pid: server.pid }];
        const before = await Promise.all(processes.map(cpuSeconds));
        const res = await fanoutRun(sender, receivers, { group: "load", messages, tag });
        const after = await Promise.all(processes.map(cpuSeconds));
        res.cpu = Object.fromEntries(
          processes.map((p, i) => [p.name, (after[i] - before[i]) / (res.elapsedMs / 1000) * 100]),
        );
        return res;
      },
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

/**
 * Fan-out to N receivers on every server: all of them set up first, then run r of each
 * server in turn (the first after a warm-up), so that drift in the machine's speed (a
 * shared VM) touches every server alike instead of whichever ran last.
 */
async function runFanout(
  kinds: ServerKind[],
  n: number,
  ctx: Context,
  results: Results,
): Promise<void> {
  const benches: FanoutBench[] = [];
  try {
    for (const kind of kinds) {
      const label = `${SERVER_TITLE[kind]} fanout N=${n}`;
      const load = Deno.loadavg()[0];
      results.load.push(`${label}: ${load.toFixed(2)}`);
      log(`${label}: setting up (load average ${load.toFixed(2)})`);
      try {
        benches.push(await setUpFanout(kind, n, ctx));
      } catch (e) {
        fail(results, `${label}: ${(e as Error).message}`);
      }
    }
    const failed = new Set<FanoutBench>();
    for (let r = 0; r < ctx.settings.runs; r++) {
      for (const bench of benches) {
        if (failed.has(bench)) continue;
        let res: FanoutResult;
        try {
          if (r === 0) await bench.warmUp();
          res = await bench.run(r);
        } catch (e) {
          failed.add(bench);
          fail(results, `${SERVER_TITLE[bench.kind]} fanout N=${n}: ${(e as Error).message}`);
          continue;
        }
        log(
          `  ${SERVER_TITLE[bench.kind]} N=${n} run ${r + 1}: ${
            short(res.deliveriesPerSec)
          } deliveries/s, p50 ${res.p50Ms.toFixed(2)} ms, p99 ${res.p99Ms.toFixed(2)} ms, ` +
            `lost ${res.lost}, dup ${res.duplicated}, errors ${res.errors}; CPU ` +
            Object.entries(res.cpu ?? {}).map(([p, c]) => `${p} ${c.toFixed(0)} %`).join(", "),
        );
        ((results.fanout[bench.kind] ??= {})[n] ??= []).push(res);
      }
    }
  } finally {
    for (const bench of benches) await bench.close();
  }
}

function fail(results: Results, why: string): void {
  results.failed.push(why);
  log(`FAILED ${why}`);
}

async function runTalkers(kind: ServerKind, ctx: Context): Promise<TalkersResult[]> {
  return await withServer(kind, ctx, async (server) => {
    const clients = await connectMany(server.driver, names("u", 0, ctx.settings.talkers), {
      readBytes: 4096,
    });
    try {
      await sleep(1000);
      const results: TalkersResult[] = [];
      for (let r = 0; r < ctx.settings.runs; r++) {
        const res = await talkersRun(clients, {
          ratePerSec: ctx.settings.talkerRate,
          durationMs: ctx.settings.talkerSeconds * 1000,
          tag: r,
        });
        log(
          `  run ${r + 1}: ${short(res.sentPerSec)} msg/s, p50 ${res.p50Ms.toFixed(2)} ms, ` +
            `p99 ${res.p99Ms.toFixed(2)} ms, lost ${res.lost}, dup ${res.duplicated}, ` +
            `misdelivered ${res.misdelivered}, errors ${res.errors}`,
        );
        results.push(res);
      }
      return results;
    } finally {
      await closeAll(clients);
    }
  });
}

async function runIdle(
  kind: ServerKind,
  ctx: Context,
): Promise<{ baseRssBytes: number; steps: IdleStep[] }[]> {
  const results = [];
  const max = ctx.settings.idleSteps.at(-1)!;
  for (let r = 0; r < ctx.settings.runs; r++) {
    results.push(
      await withServer(kind, ctx, async (server) => {
        // Let the fresh server settle before the baseline.
        await sleep(1000);
        const t0 = performance.now();
        const { baseRssBytes, steps, clients } = await idleRamp(
          server.driver,
          names("u", 0, max),
          server.rss,
          { steps: ctx.settings.idleSteps, inFlight: ctx.settings.idleInFlight },
        );
        log(
          `  run ${r + 1}: base ${(baseRssBytes / 2 ** 20).toFixed(1)} MiB; ` +
            steps.map((s) => `${s.clients}: ${(s.perClientBytes / 1000).toFixed(2)} KB/client`)
              .join(", ") +
            ` (${((performance.now() - t0) / 1000).toFixed(0)} s)`,
        );
        await closeAll(clients);
        return { baseRssBytes, steps };
      }),
    );
  }
  return results;
}

async function runLogins(kind: ServerKind, ctx: Context): Promise<LoginStormResult[]> {
  return await withServer(kind, ctx, async (server) => {
    const results: LoginStormResult[] = [];
    const k = ctx.settings.logins;
    for (let r = 0; r < ctx.settings.runs; r++) {
      const res = await loginStorm(server.driver, names("s", r * k, (r + 1) * k), 100);
      log(
        `  run ${r + 1}: ${res.loginsPerSec.toFixed(1)} logins/s ` +
          `(${res.logins} in ${(res.elapsedMs / 1000).toFixed(1)} s, ${res.failures} failed)`,
      );
      results.push(res);
    }
    return results;
  });
}

/** Writes the accounts every workload logs in as; one hash per cost, shared. */
async function writeCredentials(path: string, settings: Settings): Promise<void> {
  const setupHash = await hashPassword(PASSWORD, SETUP_COST);
  const stormHash = await hashPassword(PASSWORD, SCRYPT_COST);
  const setupUsers = Math.max(
    settings.idleSteps.at(-1)!,
    settings.talkers,
    ...settings.fanoutSizes.map((n) => n + 1),
  );
  const lines = names("u", 0, setupUsers).map((u) => `${u} ${setupHash}`);
  lines.push(...names("s", 0, settings.logins * settings.runs).map((u) => `${u} ${stormHash}`));
  await Deno.writeTextFile(path, lines.join("\n") + "\n");
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const ms = (v: number) => v.toFixed(1);
const kb = (v: number) => (v / 1000).toFixed(2);

/** The servers the fan-out ran against: the chosen ones, and the cluster with --cluster. */
function fanoutKinds(settings: Settings, results: Results): ServerKind[] {
  const kinds = settings.servers.filter((s) => !results.skipped[s]);
  if (settings.cluster && !results.skipped["tessenger-cluster"]) kinds.push("tessenger-cluster");
  return kinds;
}

/** CPU per process of the run with the median deliveries/s. */
function cpuCell(runs: FanoutResult[]): string {
  const median = [...runs].sort((a, b) => a.deliveriesPerSec - b.deliveriesPerSec)[
    Math.floor(runs.length / 2)
  ];
  return Object.entries(median.cpu ?? {}).map(([p, c]) => `${p} ${c.toFixed(0)}`).join(", ");
}

function report(results: Results, settings: Settings): string {
  const out: string[] = [];
  const servers = settings.servers.filter((s) => !results.skipped[s]);
  if (settings.workloads.includes("fanout")) {
    const rows: string[][] = [];
    for (const n of settings.fanoutSizes) {
      for (const s of fanoutKinds(settings, results)) {
        const runs = results.fanout[s]?.[n];
        if (!runs) continue;
        rows.push([
          `N=${n}`,
          SERVER_TITLE[s],
          cell(spread(runs.map((r) => r.deliveriesPerSec))),
          cell(spread(runs.map((r) => r.p50Ms)), ms),
          cell(spread(runs.map((r) => r.p99Ms)), ms),
          `${sum(runs.map((r) => r.lost))} / ${sum(runs.map((r) => r.duplicated))} / ${
            sum(runs.map((r) => r.errors))
          }`,
          cpuCell(runs),
        ]);
      }
    }
    out.push(
      `### Fan-out (closed loop, ≤ 100 in flight, ${settings.fanoutDeliveries} deliveries per run` +
        (settings.cluster
          ? `; the cluster ${Math.min(settings.clusterDeliveries, settings.fanoutDeliveries)})`
          : ")"),
      "",
      table(
        [
          "case",
          "server",
          "deliveries/s",
          "p50 ms",
          "p99 ms",
          "lost / dup / errors",
          "CPU % of a core (median run)",
        ],
        rows,
      ),
      "",
    );
  }
  if (settings.workloads.includes("talkers")) {
    const rows = servers.filter((s) => results.talkers[s]).map((s) => {
      const runs = results.talkers[s];
      return [
        SERVER_TITLE[s],
        cell(spread(runs.map((r) => r.sentPerSec))),
        cell(spread(runs.map((r) => r.p50Ms)), ms),
        cell(spread(runs.map((r) => r.p99Ms)), ms),
        `${sum(runs.map((r) => r.lost))} / ${sum(runs.map((r) => r.duplicated))} / ${
          sum(runs.map((r) => r.misdelivered))
        } / ${sum(runs.map((r) => r.errors))}`,
      ];
    });
    out.push(
      `### Many talkers (${settings.talkers} clients × ${settings.talkerRate} msg/s for ` +
        `${settings.talkerSeconds} s, random peers)`,
      "",
      table(
        ["server", "sent msg/s", "p50 ms", "p99 ms", "lost / dup / misdelivered / errors"],
        rows,
      ),
      "",
    );
  }
  if (settings.workloads.includes("idle")) {
    const rows: string[][] = [];
    for (const s of servers) {
      const runs = results.idle[s];
      if (!runs) continue;
      settings.idleSteps.forEach((step, i) => {
        const at = runs.map((r) => r.steps[i]).filter((x) => x !== undefined);
        rows.push([
          SERVER_TITLE[s],
          String(step),
          cell(spread(runs.map((r) => r.baseRssBytes / 2 ** 20)), (v) => v.toFixed(1)),
          cell(spread(at.map((x) => x.rssBytes / 2 ** 20)), (v) => v.toFixed(1)),
          cell(spread(at.map((x) => x.perClientBytes)), kb),
        ]);
      });
    }
    out.push(
      "### Idle clients: server RSS growth per client (VmRSS 2 s after the last login)",
      "",
      table(["server", "clients", "RSS before MiB", "RSS after MiB", "KB per client"], rows),
      "",
    );
  }
  if (settings.workloads.includes("logins")) {
    const rows = servers.filter((s) => results.logins[s]).map((s) => {
      const runs = results.logins[s];
      return [
        SERVER_TITLE[s],
        cell(spread(runs.map((r) => r.loginsPerSec)), (v) => v.toFixed(1)),
        String(sum(runs.map((r) => r.failures))),
        s === "tessenger" || s === "tessenger-irc"
          ? `scrypt N=2^${Math.log2(SCRYPT_COST.N)}, r=${SCRYPT_COST.r}, p=${SCRYPT_COST.p}`
          : "none (IRC NICK/USER)",
      ];
    });
    out.push(
      `### Login storm (${settings.logins} logins per run, 100 in flight)`,
      "",
      table(["server", "logins/s", "failed", "password check"], rows),
      "",
    );
  }
  out.push(
    `1-minute load average before each part (${navigator.hardwareConcurrency} cores; ` +
      "anything well above the bench's own ~1-2 means other work shared the CPU):",
    "",
    results.load.join("; "),
    "",
  );
  for (const [s, why] of Object.entries(results.skipped)) out.push(`- ${s}: ${why}`);
  for (const f of results.failed) out.push(`- failed: ${f}`);
  out.push(...targets(results, settings));
  return out.join("\n");
}

/** The targets, checked against the best reference of this run, for each door. */
function targets(results: Results, settings: Settings): string[] {
  const lines = ["", "### Targets (TESSENGER vs the best reference in this run, medians)", ""];
  const refs = settings.servers.filter((s) => REFERENCE_KINDS.includes(s) && !results.skipped[s]);
  const med = (runs: number[]) => spread(runs).median;
  for (const kind of ["tessenger", "tessenger-irc"] as const) {
    if (!settings.servers.includes(kind)) continue;
    const title = SERVER_TITLE[kind];
    for (const n of settings.fanoutSizes) {
      const ours = results.fanout[kind]?.[n];
      const theirs = refs.map((s) => results.fanout[s]?.[n]).filter((x) => x !== undefined);
      if (!ours || theirs.length === 0) continue;
      const best = Math.max(...theirs.map((runs) => med(runs.map((r) => r.deliveriesPerSec))));
      const bestP99 = Math.min(...theirs.map((runs) => med(runs.map((r) => r.p99Ms))));
      const d = med(ours.map((r) => r.deliveriesPerSec)) / best;
      const p = med(ours.map((r) => r.p99Ms)) / bestP99;
      lines.push(
        `- ${title} fan-out N=${n}: deliveries/s ${d.toFixed(2)}× best ` +
          `(${d >= 1 ? "met" : "NOT met"}), p99 ${p.toFixed(2)}× best (${
            p <= 1 ? "met" : "NOT met"
          })`,
      );
    }
    const idle = results.idle[kind];
    if (idle) {
      const last = settings.idleSteps.length - 1;
      const per = med(idle.map((r) => r.steps[last]?.perClientBytes ?? NaN));
      lines.push(
        `- ${title} idle ${settings.idleSteps[last]} clients: ${kb(per)} KB per client ` +
          `(target ≤ 8 KB: ${per <= 8000 ? "met" : "NOT met"})`,
      );
    }
    let bad = 0;
    for (const runs of Object.values(results.fanout[kind] ?? {})) {
      bad += sum(runs.map((r) => r.lost + r.duplicated));
    }
    bad += sum((results.talkers[kind] ?? []).map((r) => r.lost + r.duplicated + r.misdelivered));
    lines.push(`- lost + duplicated messages (${title}, all workloads): ${bad}`);
  }
  return lines;
}

function chart(results: Results, settings: Settings): string | undefined {
  const servers = settings.servers.filter((s) => !results.skipped[s] && results.fanout[s]);
  if (servers.length === 0) return undefined;
  const series = (pick: (r: FanoutResult) => number): ChartSeries[] =>
    settings.fanoutSizes.map((n) => ({
      label: `N=${n}`,
      values: servers.map((s) => ({
        server: s,
        spread: results.fanout[s]?.[n]
          ? spread(results.fanout[s][n].map(pick))
          : { min: NaN, median: NaN, max: NaN } as Spread,
      })),
    }));
  return fanoutChart(
    series((r) => r.deliveriesPerSec),
    series((r) => r.p99Ms),
    `bench/load.ts, ${settings.runs} runs per bar (median; whisker min–max), ` +
      `${new Date().toISOString().slice(0, 16)}Z, ${navigator.hardwareConcurrency} cores ` +
      "shared by generator and server",
  );
}

async function main(argv: string[]): Promise<number> {
  const settings = parseSettings(argv);
  if (!settings) return 0;
  const results: Results = {
    fanout: {},
    talkers: {},
    idle: {},
    logins: {},
    skipped: {},
    failed: [],
    load: [],
  };
  for (const s of settings.servers) {
    const why = await missingReason(s, settings.anchors);
    if (why) {
      results.skipped[s] = why;
      log(why);
    }
  }
  if (settings.cluster) {
    SERVER_TITLE["tessenger-cluster"] = `TESSENGER ×${settings.cluster}`;
    const check = (await import("../dev/engines.ts")).checkEngines();
    if (!check.ok) {
      results.skipped["tessenger-cluster"] = `${check.reason}; the cluster is skipped`;
      log(results.skipped["tessenger-cluster"]);
    }
  }
  const limit = await openFileLimit();
  const needFds = Math.max(settings.idleSteps.at(-1)!, settings.talkers) + 200;
  if (limit < needFds) {
    console.error(
      `bench:load: the open-file limit is ${limit}, ${needFds} are needed; ` +
        `raise it first (ulimit -n ${needFds}) or pass smaller --idle-steps/--talkers`,
    );
    return 2;
  }
  const scratch = await Deno.makeTempDir({ prefix: "tessenger-load-" });
  // ngIRCd runs as nobody and must reach its config inside.
  await Deno.chmod(scratch, 0o755);
  const ctx: Context = {
    settings,
    scratch,
    credentialsPath: join(scratch, "credentials.txt"),
    running: new Set(),
  };
  const onSignal = () => {
    log("interrupted: stopping servers");
    Promise.all([...ctx.running].map((s) => s.stop())).finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  const started = performance.now();
  try {
    await writeCredentials(ctx.credentialsPath, settings);
    const servers = settings.servers.filter((s) => !results.skipped[s]);
    for (const w of settings.workloads) {
      if (w === "fanout") {
        const kinds = fanoutKinds(settings, results);
        for (const n of settings.fanoutSizes) await runFanout(kinds, n, ctx, results);
        continue;
      }
      for (const s of servers) {
        const label = `${SERVER_TITLE[s]} ${w}`;
        const load = Deno.loadavg()[0];
        results.load.push(`${label}: ${load.toFixed(2)}`);
        log(`${label} (load average ${load.toFixed(2)})`);
        try {
          if (w === "talkers") results.talkers[s] = await runTalkers(s, ctx);
          else if (w === "idle") results.idle[s] = await runIdle(s, ctx);
          else results.logins[s] = await runLogins(s, ctx);
        } catch (e) {
          fail(results, `${label}: ${(e as Error).message}`);
        }
      }
    }
  } finally {
    await Promise.all([...ctx.running].map((s) => s.stop()));
    Deno.removeSignalListener("SIGINT", onSignal);
    if (!settings.keep) await Deno.remove(scratch, { recursive: true }).catch(() => {});
    else log(`scratch kept in ${scratch}`);
  }
  log(`done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  console.log(report(results, settings));
  const svg = chart(results, settings);
  if (svg && settings.workloads.includes("fanout")) {
    await Deno.writeTextFile(settings.chart, svg);
    log(`chart written to ${settings.chart}`);
  }
  if (settings.json) {
    await Deno.writeTextFile(settings.json, JSON.stringify({ settings, results }, null, 2));
  }
  return results.failed.length === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(await runBench("bench:load", () => main(Deno.args)));

/**
 * Soak test: a real server (a child process, so its RSS can be read from
 * /proc) and N chat clients for T minutes with churn: logins, clean logouts,
 * killed connections, private messages to online and offline users, group
 * creation (offline invitees too), joins and group traffic. The `churn` profile
 * (the default) adds clients that read slowly (a 4 KiB buffer and a pause after
 * every read) and clients that crash while their backlog streams in (the
 * connection cut after a few messages, before they are acknowledged). Each
 * client acknowledges what it showed when the real client does (AckScheduler)
 * and shows a message only once (by its seq); its record of what it showed
 * survives its crashes, as a client that reconnects keeps it.
 *
 * At the end every user logs in once more and waits for what it is owed, the
 * server is stopped, and the run is checked: every message acknowledged to its
 * sender was shown to each receiver exactly once (private messages to their
 * receiver, group messages to every member who had joined before it was sent),
 * is in the text logs exactly once, and log numbering has no gaps.
 *
 * ```sh
 * deno task bench:soak --clients 1000 --minutes 10 [--profile churn|steady] [--seed 1]
 * deno task bench:soak --help
 * ```
 *
 * @module
 */

import { hashPassword } from "../server/passwords.ts";
import { SERVER_V8_FLAGS_ARG } from "../server/v8_flags.ts";
import { MAIN_PERMISSIONS } from "../dev/main_process.ts";
import { type ServerProcess, spawnServer } from "../dev/server_process.ts";
import { parseIntIn, UsageError } from "../shared/cli_args.ts";
import { MAX_SERVER_FRAME_BYTES, PROTOCOL_VERSION } from "../shared/limits.ts";
import { FrameDecoder, FrameError, frameLine, type PushFrame } from "../shared/protocol.ts";
import { AckScheduler, SeenStreams } from "../client/connection.ts";
import { benchFlags, runBench } from "./cli.ts";

const USAGE = `Usage: deno task bench:soak [--clients N] [--minutes N] [--profile NAME]
       [--think SECONDS] [--churn P] [--slow P] [--crash P] [--seed N] [--out FILE]

  --clients N        chat clients (default 1000)
  --minutes N        length of the run (default 10)
  --profile NAME     churn: slow readers and crashes mid-backlog (--slow 0.1 --crash 0.1);
                     steady: neither (--slow 0 --crash 0) (default churn)
  --think SECONDS    mean time between two actions of one client (default 2)
  --churn P          probability that an action ends the session, by logout or a killed
                     connection (default 0.05)
  --slow P           share of the clients that read slowly (default: the profile's)
  --crash P          probability that a login's backlog is cut by a crash after a few
                     messages, before they are acknowledged (default: the profile's)
  --seed N           seed of the clients' choices: the same seed, the same run (default 1)
  --out FILE         also write the result JSON here`;

interface SoakSettings {
  clients: number;
  minutes: number;
  profile: string;
  thinkSeconds: number;
  churn: number;
  slow: number;
  crash: number;
  seed: number;
  out?: string;
}

const PROFILES: Record<string, { slow: number; crash: number }> = {
  churn: { slow: 0.1, crash: 0.1 },
  steady: { slow: 0, crash: 0 },
};

function parseSettings(argv: string[]): SoakSettings | undefined {
  const v = benchFlags(argv, {
    clients: { type: "string", default: "1000" },
    minutes: { type: "string", default: "10" },
    profile: { type: "string", default: "churn" },
    think: { type: "string", default: "2" },
    churn: { type: "string", default: "0.05" },
    slow: { type: "string" },
    crash: { type: "string" },
    seed: { type: "string", default: "1" },
    out: { type: "string" },
  }, USAGE);
  if (!v) return undefined;
  const fraction = (text: string, what: string, max: number) => {
    const n = Number(text);
    if (text.trim() === "" || !(n >= 0 && n <= max)) {
      throw new UsageError(`Invalid ${what}: ${JSON.stringify(text)}. Expected 0-${max}`, USAGE);
    }
    return n;
  };
  const profile = PROFILES[v.profile];
  if (profile === undefined) {
    throw new UsageError(
      `Invalid --profile: ${JSON.stringify(v.profile)}. Expected ${
        Object.keys(PROFILES).join(" or ")
      }`,
      USAGE,
    );
  }
  return {
    clients: parseIntIn(v.clients, "--clients", 1, 50_000),
    minutes: fraction(v.minutes, "--minutes", 24 * 60),
    profile: v.profile,
    thinkSeconds: fraction(v.think, "--think", 3600),
    churn: fraction(v.churn, "--churn", 1),
    slow: v.slow === undefined ? profile.slow : fraction(v.slow, "--slow", 1),
    crash: v.crash === undefined ? profile.crash : fraction(v.crash, "--crash", 1),
    seed: parseIntIn(v.seed, "--seed", 0, 2 ** 32 - 1),
    out: v.out,
  };
}

/** The run's settings, set by {@link main} from the command line. */
let settings: SoakSettings;
const PASSWORD = "soak-password";
const REQUEST_TIMEOUT_MS = 30_000;
const encoder = new TextEncoder();

// Seeded PRNG (mulberry32): the same seed gives the same choices.
let seed = 0;
function random(): number {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- bookkeeping

type EndKind = "logout" | "kill" | "crash" | "server";

const stats = {
  logins: 0,
  loginFailures: 0,
  logouts: 0,
  kills: 0,
  crashes: 0,
  slowClients: 0,
  serverCloses: new Map<string, number>(),
  privateSent: 0,
  privateQueued: 0,
  groupSent: 0,
  groupsCreated: 0,
  joins: 0,
  otherRequests: 0,
  /** Pushes a client received again after a reconnect and did not show (seq already seen). */
  resentNotShown: 0,
  errors: new Map<string, number>(),
  connectErrors: 0,
  latencies: [] as number[],
  warningKinds: new Map<string, number>(),
};
const count = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);

/** Message id (the first word of its text) → who must see it. */
const owed = new Map<string, { to: string[]; group?: string }>();
/** `user id` → how often that user's client showed the message. */
const shown = new Map<string, number>();
/** `user group` pairs whose backlog at some login was cut by the replay bound. */
const replayBounded = new Set<string>();
/** Group → its joined members, as the clients know it (a join counts once its response came). */
const groups = new Map<string, Set<string>>();
let nextMessage = 0;
let nextGroup = 0;

// ------------------------------------------------------------------- client

interface Frame {
  t: string;
  id?: number;
  ok?: boolean;
  code?: string;
  lines?: string[];
  ev?: string;
  seq?: number;
  text?: string;
  group?: string;
  reason?: string;
  data?: Record<string, unknown>;
}

/** How a {@link Wire} reads. */
interface WireOptions {
  /**
   * What the user's client has shown, kept across its sessions, as the real client keeps
   * it: a push whose seq is not new in its stream is not shown again.
   */
  seen: SeenStreams;
  /** Read 4 KiB at a time and pause after each read. */
  slow: boolean;
  /** Cut the connection, unacknowledged, after this many pushes (a crash mid-backlog). */
  crashAfter?: number;
}

/**
 * One connection of a soak user: a thin client over the shared codec and the client's
 * SeenStreams, not client/connection.ts, because it must misbehave as clients do (read
 * slowly, die mid-read without acknowledging).
 */
class Wire {
  readonly #conn: Deno.Conn;
  readonly #options: WireOptions;
  #nextId = 1;
  readonly #pending = new Map<number, (f: Frame | undefined) => void>();
  readonly done: Promise<void>;
  bye: string | undefined;
  crashed = false;
  #pushes = 0;
  readonly #acks: AckScheduler;
  #writes: Promise<unknown> = Promise.resolve();
  onPush: (f: Frame) => void = () => {};

  constructor(conn: Deno.Conn, options: WireOptions) {
    this.#conn = conn;
    this.#options = options;
    this.#acks = new AckScheduler(options.seen, (ack) => {
      this.#send(frameLine(ack)).catch(() => {});
    });
    this.done = this.#read();
  }

  async #read(): Promise<void> {
    const decoder = new FrameDecoder(MAX_SERVER_FRAME_BYTES);
    const buf = new Uint8Array(this.#options.slow ? 4096 : 16 * 1024);
    try {
      while (true) {
        const n = await this.#conn.read(buf);
        if (n === null) break;
        for (const item of decoder.push(buf.subarray(0, n))) {
          if (item instanceof FrameError) {
            count(stats.errors, `client_decode_${item.code}`);
            continue;
          }
          const f = item as Frame;
          if (f.t === "res" || (f.t === "error" && f.id !== undefined)) {
            const w = this.#pending.get(f.id!);
            this.#pending.delete(f.id!);
            w?.(f);
          } else if (f.t === "push") {
            if (
              this.#options.crashAfter !== undefined && ++this.#pushes > this.#options.crashAfter
            ) {
              // The process dies now: this push and the rest of the read are never shown or acked.
              this.crashed = true;
              this.kill();
              break;
            }
            if (this.#options.seen.see(f as PushFrame)) this.onPush(f);
            else stats.resentNotShown++;
          } else if (f.t === "bye") this.bye = f.reason;
          else if (f.t === "error") count(stats.errors, `frame_${f.code}`);
        }
        if (this.crashed) break;
        // Everything this read carried has been shown: acknowledge it, as the client does.
        this.#acks.soon();
        if (this.#options.slow) await sleep(50 + random() * 100);
      }
    } catch {
      // reset or closed by us
    }
    // Dead or closed: what is still pending is never acknowledged (the server sends it again).
    this.#acks.stop();
    for (const w of this.#pending.values()) w(undefined);
    this.#pending.clear();
  }

  #send(text: string): Promise<unknown> {
    const bytes = encoder.encode(text);
    const write = this.#writes.then(async () => {
      let off = 0;
      while (off < bytes.length) off += await this.#conn.write(bytes.subarray(off));
    });
    this.#writes = write.catch(() => {});
    return write;
  }

  /**
   * Sends a request; resolves with its response, or undefined if the connection
   * ended. A response that takes over {@link REQUEST_TIMEOUT_MS} counts as an
   * error and the connection is dropped, so a stall shows up in the report
   * instead of hanging the run.
   */
  async request(cmd: string, args: string[] = []): Promise<Frame | undefined> {
    this.#acks.flush(); // before anything that may end the session, as the client does
    const id = this.#nextId++;
    const p = new Promise<Frame | undefined>((r) => {
      const timer = setTimeout(() => {
        count(stats.errors, `timeout_${cmd}`);
        this.kill();
      }, REQUEST_TIMEOUT_MS);
      this.#pending.set(id, (f) => {
        clearTimeout(timer);
        r(f);
      });
    });
    try {
      await this.#send(frameLine({ t: "req", id, cmd, args }));
    } catch {
      this.#pending.get(id)?.(undefined);
      this.#pending.delete(id);
    }
    return p;
  }

  kill(): void {
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }
}

let users: string[] = [];
const online = new Set<string>();
const seen = new Map<string, SeenStreams>();
const slowUsers = new Set<string>();
let stopping = false;

const INVITED = /^(\S+) invited you to the group chat (\S+): /;
const REPLAY_BOUND = /^\d+ earlier messages in (\S+) while you were away/;

function onPush(user: string, f: Frame): void {
  if ((f.ev === "msg" || f.ev === "groupmsg") && typeof f.text === "string") {
    const key = `${user} ${f.text.split(" ")[0]}`;
    shown.set(key, (shown.get(key) ?? 0) + 1);
  } else if (f.ev === "invite" && f.group) {
    pendingInvites.get(user)?.add(f.group);
  } else if (f.ev === "notice" && typeof f.text === "string") {
    const invited = INVITED.exec(f.text);
    if (invited) pendingInvites.get(user)?.add(invited[2]);
    const bounded = REPLAY_BOUND.exec(f.text);
    if (bounded) replayBounded.add(`${user} ${bounded[1]}`);
  }
}
/** Groups each user was invited to and has not joined yet. */
const pendingInvites = new Map<string, Set<string>>();

async function login(
  port: number,
  user: string,
  crashAfter?: number,
): Promise<Wire | undefined> {
  let conn: Deno.Conn;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
  } catch {
    stats.connectErrors++;
    return undefined;
  }
  const w = new Wire(conn, { seen: seen.get(user)!, slow: slowUsers.has(user), crashAfter });
  w.onPush = (f) => onPush(user, f);
  const hello = await w.request("hello", [String(PROTOCOL_VERSION)]);
  const u = hello?.ok ? await w.request("user", [user]) : undefined;
  const p = u?.ok ? await w.request("pass", [PASSWORD, "0"]) : undefined;
  if (!p?.ok) {
    if (!w.crashed) {
      stats.loginFailures++;
      count(stats.errors, `login_${p?.code ?? u?.code ?? hello?.code ?? "closed"}`);
    }
    w.kill();
    await w.done;
    return undefined;
  }
  stats.logins++;
  return w;
}

function ended(user: string, w: Wire, kind: EndKind): void {
  online.delete(user);
  if (kind === "server") count(stats.serverCloses, w.bye ?? "connection lost");
}

async function act(user: string, w: Wire): Promise<"stay" | EndKind> {
  if (w.crashed) return "crash";
  // Churn first: with probability --churn the session ends, 60 % by logout and
  // 40 % by a killed connection; otherwise one chat action.
  const churn = random();
  if (churn < settings.churn * 0.6) {
    const res = await w.request("logout");
    if (!res) return w.crashed ? "crash" : "server";
    await w.done;
    return "logout";
  }
  if (churn < settings.churn) {
    w.kill();
    await w.done;
    return "kill";
  }
  const r = random();
  if (r < 0.5) {
    const to = pick(users);
    if (to === user) return "stay";
    const id = `p${nextMessage++}`;
    const t0 = performance.now();
    const res = await w.request("msgto", [to, `${id} from ${user} to ${to}`]);
    if (!res) return w.crashed ? "crash" : "server";
    stats.latencies.push(performance.now() - t0);
    if (!res.ok) {
      count(stats.errors, `msgto_${res.code}`);
      return "stay";
    }
    owed.set(id, { to: [to] });
    stats.privateSent++;
    if (res.code === "queued") stats.privateQueued++;
  } else if (r < 0.7) {
    const mine = [...groups].filter(([, m]) => m.has(user)).map(([g]) => g);
    if (mine.length === 0) return "stay";
    const group = pick(mine);
    const id = `g${nextMessage++}`;
    // Owed to those who had joined before it was sent (their join answered).
    const members = [...groups.get(group)!].filter((m) => m !== user);
    const res = await w.request("groupmsg", [group, `${id} from ${user}`]);
    if (!res) return w.crashed ? "crash" : "server";
    if (!res.ok) count(stats.errors, `groupmsg_${res.code}`);
    else {
      owed.set(id, { to: members, group });
      stats.groupSent++;
    }
  } else if (r < 0.75) {
    const others = users.filter((u) => u !== user);
    const invited = [pick(others), pick(others)];
    const group = `soakgroup${nextGroup++}`;
    const res = await w.request("creategroup", [group, ...invited]);
    if (!res) return w.crashed ? "crash" : "server";
    if (res.ok) {
      groups.set(group, new Set([user]));
      stats.groupsCreated++;
    } else count(stats.errors, `creategroup_${res.code}`);
  } else if (r < 0.8) {
    const invites = pendingInvites.get(user)!;
    const group = invites.values().next().value;
    if (group === undefined) return "stay";
    invites.delete(group);
    const res = await w.request("joingroup", [group]);
    if (!res) return w.crashed ? "crash" : "server";
    if (res.ok) {
      groups.get(group)?.add(user);
      stats.joins++;
    } else if (res.code !== "already_joined") count(stats.errors, `joingroup_${res.code}`);
  } else {
    const res = await w.request(r < 0.9 ? "activeuser" : "ping");
    if (!res) return w.crashed ? "crash" : "server";
    stats.otherRequests++;
    if (!res.ok) count(stats.errors, `other_${res.code}`);
  }
  return "stay";
}

async function runUser(port: number, user: string, startDelay: number): Promise<void> {
  await sleep(startDelay);
  while (!stopping) {
    // Some logins crash while their backlog streams in, after a few messages.
    const crashAfter = random() < settings.crash ? Math.floor(random() * 20) : undefined;
    const w = await login(port, user, crashAfter);
    if (!w) {
      await sleep(1000 + random() * 2000);
      continue;
    }
    online.add(user);
    let outcome: "stay" | EndKind = "stay";
    while (!stopping && outcome === "stay") {
      await sleep(settings.thinkSeconds * 1000 * (0.5 + random()));
      if (stopping) break;
      outcome = await act(user, w);
    }
    if (outcome === "stay") {
      // The run is over: log out cleanly.
      const res = await w.request("logout");
      await w.done;
      outcome = res?.ok ? "logout" : w.crashed ? "crash" : "server";
    }
    if (outcome === "logout") stats.logouts++;
    if (outcome === "kill") stats.kills++;
    if (outcome === "crash") stats.crashes++;
    ended(user, w, outcome);
    if (!stopping) await sleep(1000 + random() * 4000);
  }
}

/** How many messages `user` is owed and has not been shown yet. */
function unshown(user: string, byUser: Map<string, string[]>): number {
  let n = 0;
  for (const id of byUser.get(user) ?? []) if (!shown.has(`${user} ${id}`)) n++;
  return n;
}

// ------------------------------------------------------------------- server

/** The server under soak, and what it logged so far. */
interface SoakServer extends ServerProcess {
  logged: {
    warnings: number;
    errors: number;
    /** The first error lines (and anything else on stderr), at most 20. */
    errorLines: string[];
  };
}

async function startSoakServer(dir: string): Promise<SoakServer> {
  const logged = { warnings: 0, errors: 0, errorLines: [] as string[] };
  // logtape's console sink writes warnings and errors to stderr.
  const onLine = (line: string, stream: "stdout" | "stderr") => {
    if (/ WARNING /.test(line)) {
      logged.warnings++;
      if (stream === "stderr") {
        count(
          stats.warningKinds,
          line.replace(/^.* WARNING +/, "").replace(/\b(soak\d+|\d+)\b/g, "N"),
        );
      }
      return;
    }
    const error = / (ERROR|FATAL) /.test(line);
    if (error) logged.errors++;
    if ((error || stream === "stderr") && logged.errorLines.length < 20) {
      logged.errorLines.push(line);
    }
  };
  // As `deno task server` and the binary run it: the same permissions and V8 flag.
  const server = await spawnServer([
    "--data-dir",
    `${dir}/data`,
    "--credentials",
    `${dir}/credentials.txt`,
    "--conn-rate",
    "0",
    "--log-level",
    "info",
  ], { deno: "deno", denoFlags: [...MAIN_PERMISSIONS, SERVER_V8_FLAGS_ARG], onLine });
  return { ...server, logged };
}

/**
 * The server's resident set size in KiB (VmRSS). Read with `ps`, since Deno
 * grants reads of another process's `/proc/PID/status` only with --allow-all.
 */
async function rssKiB(pid: number): Promise<number> {
  const out = await new Deno.Command("ps", { args: ["-o", "rss=", "-p", String(pid)] }).output();
  return Number(new TextDecoder().decode(out.stdout).trim());
}

// ------------------------------------------------------------------- checks

/** `N; TS; X; TEXT` lines: checks numbering 1..n and returns the ids in TEXT. */
function readLog(path: string): { ids: Map<string, number>; gaps: number; lines: number } {
  let text = "";
  try {
    text = Deno.readTextFileSync(path);
  } catch {
    // missing file: no lines
  }
  const ids = new Map<string, number>();
  let gaps = 0;
  const lines = text.split("\n").filter((l) => l !== "");
  lines.forEach((l, i) => {
    const parts = l.split("; ");
    if (Number(parts[0]) !== i + 1) gaps++;
    const id = parts.slice(3).join("; ").split(" ")[0];
    ids.set(id, (ids.get(id) ?? 0) + 1);
  });
  return { ids, gaps, lines: lines.length };
}

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

// ---------------------------------------------------------------------- run

async function main(argv: string[]): Promise<number> {
  const parsed = parseSettings(argv);
  if (!parsed) return 0;
  settings = parsed;
  seed = settings.seed;
  users = Array.from({ length: settings.clients }, (_, i) => `soak${String(i).padStart(5, "0")}`);
  for (const u of users) {
    pendingInvites.set(u, new Set());
    seen.set(u, new SeenStreams());
    if (random() < settings.slow) slowUsers.add(u);
  }
  stats.slowClients = slowUsers.size;
  const durationMs = settings.minutes * 60_000;
  const dir = await Deno.makeTempDir({ prefix: "tessenger-soak-" });
  const hash = await hashPassword(PASSWORD);
  await Deno.writeTextFile(
    `${dir}/credentials.txt`,
    users.map((u) => `${u} ${hash}\n`).join(""),
  );
  const server = await startSoakServer(dir);
  const pid = server.child.pid;
  console.log(
    `server pid ${pid} on port ${server.port}; ${settings.clients} clients for ${settings.minutes} min`,
  );
  const rssStart = await rssKiB(pid);

  const started = performance.now();
  // Spread the first logins over 20 s (or a fifth of a short run).
  const ramp = Math.min(20_000, durationMs / 5);
  const runs = users.map((u, i) => runUser(server.port, u, (i / settings.clients) * ramp));
  const samples: { t: number; rss: number; online: number }[] = [];
  const sampler = setInterval(async () => {
    const t = Math.round((performance.now() - started) / 1000);
    const s = { t, rss: await rssKiB(pid), online: online.size };
    samples.push(s);
    console.log(
      `t=${t}s rss=${
        (s.rss / 1024).toFixed(1)
      }MiB online=${s.online} private=${stats.privateSent} ` +
        `group=${stats.groupSent} logins=${stats.logins} kills=${stats.kills}`,
    );
  }, 10_000);
  await sleep(durationMs);
  stopping = true;
  await Promise.all(runs);
  clearInterval(sampler);
  const rssEndOfTraffic = await rssKiB(pid);
  // Baseline: once a fifth of the run is over, when the clients have all logged in.
  const rssBaseline = samples.find((s) => s.t * 1000 >= durationMs / 5)?.rss ?? samples[0]?.rss ??
    rssStart;

  // Drain: everyone logs in once more and waits for what it is owed (at most 60 s each).
  const byUser = new Map<string, string[]>();
  for (const [id, m] of owed) {
    for (const u of m.to) {
      if (m.group !== undefined && replayBounded.has(`${u} ${m.group}`)) continue;
      const list = byUser.get(u);
      if (list) list.push(id);
      else byUser.set(u, [id]);
    }
  }
  stopping = false;
  let drained = 0;
  for (let i = 0; i < users.length; i += 50) {
    await Promise.all(
      users.slice(i, i + 50).map(async (u) => {
        const w = await login(server.port, u);
        if (!w) return;
        for (let t = 0; t < 600 && unshown(u, byUser) > 0; t++) await sleep(100);
        await w.request("logout");
        await w.done;
        drained++;
      }),
    );
  }

  server.child.kill("SIGTERM");
  const status = await server.child.status;
  await server.drained;

  // Checks: every message acknowledged to its sender was shown once to each receiver it was owed to.
  let lost = 0, shownTwice = 0, boundedByReplay = 0;
  for (const [id, m] of owed) {
    for (const u of m.to) {
      const n = shown.get(`${u} ${id}`) ?? 0;
      if (n > 1) shownTwice++;
      if (n === 0) {
        if (m.group !== undefined && replayBounded.has(`${u} ${m.group}`)) boundedByReplay++;
        else lost++;
      }
    }
  }
  const privLog = readLog(`${dir}/data/messagelog.txt`);
  let notLogged = 0, loggedTwice = 0;
  let groupGaps = 0;
  const groupLogs = new Map<string, Map<string, number>>();
  for (const g of groups.keys()) {
    const log = readLog(`${dir}/data/${g}_messagelog.txt`);
    groupGaps += log.gaps;
    groupLogs.set(g, log.ids);
  }
  for (const [id, m] of owed) {
    const n = (m.group === undefined ? privLog.ids : groupLogs.get(m.group))?.get(id) ?? 0;
    if (n === 0) notLogged++;
    if (n > 1) loggedTwice++;
  }
  const rssPeak = Math.max(rssStart, ...samples.map((s) => s.rss));
  const result = {
    ...settings,
    out: undefined,
    logins: stats.logins,
    loginFailures: stats.loginFailures,
    logouts: stats.logouts,
    kills: stats.kills,
    crashes: stats.crashes,
    slowClients: stats.slowClients,
    serverClosed: Object.fromEntries(stats.serverCloses),
    privateAcked: stats.privateSent,
    privateQueued: stats.privateQueued,
    groupAcked: stats.groupSent,
    groupsCreated: stats.groupsCreated,
    joins: stats.joins,
    otherRequests: stats.otherRequests,
    errors: Object.fromEntries(stats.errors),
    connectErrors: stats.connectErrors,
    msgtoLatencyMs: {
      p50: Number(percentile(stats.latencies, 0.5).toFixed(2)),
      p99: Number(percentile(stats.latencies, 0.99).toFixed(2)),
      max: Number(percentile(stats.latencies, 1).toFixed(2)),
    },
    deliveriesOwed: [...owed.values()].reduce((n, m) => n + m.to.length, 0),
    lost,
    shownTwice,
    resentNotShown: stats.resentNotShown,
    leftToHistoryByReplayBound: boundedByReplay,
    ackedButNotInLog: notLogged,
    ackedLoggedTwice: loggedTwice,
    logNumberingGaps: privLog.gaps + groupGaps,
    drainedUsers: drained,
    serverWarnings: server.logged.warnings,
    serverWarningKinds: Object.fromEntries(stats.warningKinds),
    serverErrors: server.logged.errors,
    serverErrorLines: server.logged.errorLines,
    serverExit: status.code,
    rssMiB: {
      start: Number((rssStart / 1024).toFixed(1)),
      baselineAtOneFifth: Number((rssBaseline / 1024).toFixed(1)),
      peak: Number((rssPeak / 1024).toFixed(1)),
      endOfTraffic: Number((rssEndOfTraffic / 1024).toFixed(1)),
      growthSinceBaseline: Number(((rssEndOfTraffic - rssBaseline) / 1024).toFixed(1)),
    },
    rssSamples: samples.map((s) => [s.t, Number((s.rss / 1024).toFixed(1)), s.online]),
  };
  const json = JSON.stringify(result, null, 2);
  console.log(json);
  if (settings.out) await Deno.writeTextFile(settings.out, json + "\n");
  await Deno.remove(dir, { recursive: true });
  const ok = lost === 0 && shownTwice === 0 && notLogged === 0 && loggedTwice === 0 &&
    result.logNumberingGaps === 0 && server.logged.errors === 0 && status.code === 0;
  console.log(ok ? "SOAK PASSED" : "SOAK FAILED");
  return ok ? 0 : 1;
}

if (import.meta.main) Deno.exit(await runBench("bench:soak", () => main(Deno.args)));

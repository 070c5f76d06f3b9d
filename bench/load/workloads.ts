/**
 * The four workloads of the load bench. Each takes connected clients (or a
 * driver) and returns one run's figures; the caller repeats and summarises.
 * They know nothing of the wire: the same code drives TESSENGER and IRC.
 *
 * @module
 */

import { connectMany, type Driver, type LoadClient, markedText } from "./clients.ts";

/** Resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Value at quantile `q` (nearest rank) of sorted samples; NaN when empty. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank];
}

/** One closed-loop fan-out run. */
export interface FanoutResult {
  receivers: number;
  messages: number;
  /** Deliveries (messages × receivers reached) per second. */
  deliveriesPerSec: number;
  /** Send-to-receipt latency of single deliveries, ms. */
  p50Ms: number;
  p99Ms: number;
  lost: number;
  duplicated: number;
  /** Error replies from the server, and marked lines from another run. */
  errors: number;
  elapsedMs: number;
  /** CPU used during the run per process of the server, in % of one core. */
  cpu?: Record<string, number>;
}

/** Settings of {@link fanoutRun}. */
export interface FanoutOptions {
  group: string;
  messages: number;
  /** Messages sent but not yet received by every receiver. Default 100. */
  window?: number;
  /** Bytes of message text. Default 50. */
  textBytes?: number;
  /** Distinguishes this run's messages from a straggler of an earlier one. */
  tag: number;
  /** Gives up (counting the rest as lost) after this long. Default 60000. */
  timeoutMs?: number;
}

/**
 * One sender → every receiver (all joined to `group`), at most `window`
 * messages in flight. Latency is per delivery; a message leaves the window
 * when its last receiver has it.
 */
export function fanoutRun(
  sender: LoadClient,
  receivers: LoadClient[],
  options: FanoutOptions,
): Promise<FanoutResult> {
  const m = options.messages;
  const n = receivers.length;
  const window = options.window ?? 100;
  const textBytes = options.textBytes ?? 50;
  const { group, tag } = options;
  const sendAt = new Float64Array(m);
  const remaining = new Int32Array(m).fill(n);
  const next = new Int32Array(n);
  // Touched now, not during the run: first touches of fresh memory are page faults
  // (about 3 ms per MiB here), which would be charged to the server under test.
  const latency = new Float64Array(m * n).fill(1);
  let latencies = 0;
  let sent = 0;
  let completed = 0;
  let duplicated = 0;
  let gaps = 0;
  let stray = 0;
  let lastDone = 0;
  const errorsBefore = sender.errors + receivers.reduce((s, c) => s + c.errors, 0);
  const done = Promise.withResolvers<void>();

  const pump = () => {
    if (sent - completed >= window || sent >= m) return;
    while (sent < m && sent - completed < window) {
      sendAt[sent] = performance.now();
      sender.queueGroup(group, markedText(sent, tag, textBytes));
      sent++;
    }
    sender.flush();
  };
  receivers.forEach((c, r) => {
    c.onMark = (seq, t, now) => {
      if (t !== tag || seq >= m) {
        stray++;
        return;
      }
      const expected = next[r];
      if (seq < expected) {
        duplicated++;
        return;
      }
      if (seq > expected) gaps += seq - expected;
      next[r] = seq + 1;
      latency[latencies++] = now - sendAt[seq];
      if (--remaining[seq] === 0) {
        completed++;
        lastDone = now;
        if (completed === m) done.resolve();
      }
    };
    c.onChunk = pump;
  });
  const start = performance.now();
  pump();
  const timer = setTimeout(done.resolve, options.timeoutMs ?? 60_000);
  return done.promise.then(() => {
    clearTimeout(timer);
    for (const c of receivers) {
      c.onMark = () => {};
      c.onChunk = () => {};
    }
    let lost = gaps;
    for (let r = 0; r < n; r++) lost += m - next[r];
    const elapsedMs = (completed === m ? lastDone : performance.now()) - start;
    const sorted = latency.subarray(0, latencies).sort();
    const errorsAfter = sender.errors + receivers.reduce((s, c) => s + c.errors, 0);
    return {
      receivers: n,
      messages: m,
      deliveriesPerSec: latencies / (elapsedMs / 1000),
      p50Ms: quantile(sorted, 0.5),
      p99Ms: quantile(sorted, 0.99),
      lost,
      duplicated,
      errors: errorsAfter - errorsBefore + stray,
      elapsedMs,
    };
  });
}

/** One run of many talkers. */
export interface TalkersResult {
  clients: number;
  messages: number;
  /** Messages sent per second, all clients together. */
  sentPerSec: number;
  p50Ms: number;
  p99Ms: number;
  lost: number;
  duplicated: number;
  /** Delivered to someone other than the addressee. */
  misdelivered: number;
  /** Error replies from the server, and marked lines from another run. */
  errors: number;
}

/** Settings of {@link talkersRun}. */
export interface TalkersOptions {
  /** Private messages per second per client. */
  ratePerSec: number;
  durationMs: number;
  tag: number;
  /** Bytes of message text. Default 50. */
  textBytes?: number;
  /** How long to wait for the last messages after sending stops. Default 10000. */
  drainMs?: number;
  /** Random source, for tests. Default Math.random. */
  random?: () => number;
}

/**
 * Every client sends private messages at a steady rate, each to a random
 * other client. Each message is checked off at its addressee: lost,
 * duplicated and misdelivered messages are counted.
 */
export async function talkersRun(
  clients: LoadClient[],
  options: TalkersOptions,
): Promise<TalkersResult> {
  const c = clients.length;
  const random = options.random ?? Math.random;
  const textBytes = options.textBytes ?? 50;
  const period = 1000 / options.ratePerSec;
  const capacity = Math.ceil(c * (options.durationMs / period + 2));
  const sendAt = new Float64Array(capacity);
  const dst = new Int32Array(capacity);
  const count = new Uint8Array(capacity);
  const latency = new Float64Array(capacity).fill(1); // touched now: see fanoutRun()
  let latencies = 0;
  let sent = 0;
  let received = 0;
  let duplicated = 0;
  let misdelivered = 0;
  let stray = 0;
  const { tag } = options;
  const errorsBefore = clients.reduce((s, x) => s + x.errors, 0);

  clients.forEach((client, r) => {
    client.onMark = (id, t, now) => {
      if (t !== tag || id >= sent) {
        stray++;
        return;
      }
      if (dst[id] !== r) misdelivered++;
      if (count[id] < 255) count[id]++;
      if (count[id] > 1) {
        duplicated++;
        return;
      }
      received++;
      latency[latencies++] = now - sendAt[id];
    };
    client.onChunk = () => {};
  });

  const start = performance.now();
  const end = start + options.durationMs;
  const next = Float64Array.from({ length: c }, () => start + random() * period);
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      if (now >= end) {
        clearInterval(timer);
        resolve();
        return;
      }
      for (let i = 0; i < c; i++) {
        if (next[i] > now) continue;
        while (next[i] <= now && sent < capacity) {
          let j = Math.floor(random() * (c - 1));
          if (j >= i) j++;
          const id = sent++;
          sendAt[id] = now;
          dst[id] = j;
          clients[i].queuePrivate(clients[j].name, markedText(id, tag, textBytes));
          next[i] += period;
        }
        clients[i].flush();
      }
    };
    const timer = setInterval(tick, 5);
  });
  const drainEnd = performance.now() + (options.drainMs ?? 10_000);
  while (received < sent && performance.now() < drainEnd) await sleep(20);
  const elapsed = performance.now() - start;
  for (const client of clients) client.onMark = () => {};
  let lost = 0;
  for (let id = 0; id < sent; id++) if (count[id] === 0) lost++;
  const sorted = latency.subarray(0, latencies).sort();
  return {
    clients: c,
    messages: sent,
    sentPerSec: sent / (Math.min(elapsed, options.durationMs) / 1000),
    p50Ms: quantile(sorted, 0.5),
    p99Ms: quantile(sorted, 0.99),
    lost,
    duplicated,
    misdelivered,
    errors: clients.reduce((s, x) => s + x.errors, 0) - errorsBefore + stray,
  };
}

/** Server memory at one step of {@link idleRamp}. */
export interface IdleStep {
  clients: number;
  rssBytes: number;
  /** (RSS now − RSS before any client) / clients. */
  perClientBytes: number;
}

/** Settings of {@link idleRamp}. */
export interface IdleOptions {
  /** Client counts to measure at, ascending. */
  steps: number[];
  /** Logins in flight while ramping. Default 100. */
  inFlight?: number;
  /** Wait after the last login of a step before reading memory. Default 2000. */
  settleMs?: number;
  /** Read buffer of each idle client. Default 512. */
  readBytes?: number;
}

/**
 * Logs in ever more clients that then stay idle, reading the server's memory
 * `settleMs` after the last login of each step. Returns the steps and the
 * clients, which the caller closes.
 */
export async function idleRamp(
  driver: Driver,
  names: string[],
  rss: () => Promise<number>,
  options: IdleOptions,
): Promise<{ baseRssBytes: number; steps: IdleStep[]; clients: LoadClient[] }> {
  const settleMs = options.settleMs ?? 2000;
  const baseRssBytes = await rss();
  const clients: LoadClient[] = [];
  const steps: IdleStep[] = [];
  try {
    for (const step of options.steps) {
      const batch = await connectMany(driver, names.slice(clients.length, step), {
        inFlight: options.inFlight ?? 100,
        readBytes: options.readBytes ?? 512,
        timeoutMs: 30_000,
        retries: 2,
      });
      clients.push(...batch);
      await sleep(settleMs);
      const rssBytes = await rss();
      steps.push({
        clients: clients.length,
        rssBytes,
        perClientBytes: (rssBytes - baseRssBytes) / clients.length,
      });
    }
  } catch (e) {
    for (const c of clients) c.close();
    throw e;
  }
  return { baseRssBytes, steps, clients };
}

/** One login storm. */
export interface LoginStormResult {
  logins: number;
  failures: number;
  elapsedMs: number;
  loginsPerSec: number;
}

/**
 * Connects and logs in `names`, at most `inFlight` at once, as fast as the
 * server allows. Every client stays connected until the storm is over.
 */
export async function loginStorm(
  driver: Driver,
  names: string[],
  inFlight = 100,
): Promise<LoginStormResult> {
  const clients: LoadClient[] = [];
  let failures = 0;
  let next = 0;
  const start = performance.now();
  const worker = async () => {
    while (next < names.length) {
      const name = names[next++];
      try {
        clients.push(await driver.connect(name, { readBytes: 1024, timeoutMs: 60_000 }));
      } catch {
        failures++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, names.length) }, worker));
  const elapsedMs = performance.now() - start;
  for (const c of clients) c.close();
  await Promise.all(clients.map((c) => c.closed));
  return {
    logins: clients.length,
    failures,
    elapsedMs,
    loginsPerSec: clients.length / (elapsedMs / 1000),
  };
}

/**
 * Deterministic simulation for the transfer state machines: a sender and a receiver joined
 * by an in-memory link (bottleneck rate, drop-tail buffer, delay, jitter, seeded loss,
 * duplication, reordering and forged datagrams) under a virtual clock that jumps to the
 * next deadline. No sockets, no sleeping.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { mulberry32 } from "../../helpers/random.ts";
import {
  type CipherSuite,
  type TransferEvent,
  TransferReceiver,
  TransferSender,
} from "../../../shared/transfer/mod.ts";

/** Behaviour of the link, the same in both directions. */
export interface LinkProfile {
  name: string;
  /** Probability a datagram is lost. */
  loss: number;
  /** Probability a datagram is delivered twice. */
  duplicate: number;
  /** Probability a datagram is held back (delivered out of order). */
  reorder: number;
  /** Probability that a forged or corrupted datagram is injected next to a real one. */
  forge: number;
  /** One-way propagation delay (ms). */
  delayMs: number;
  /** Uniform jitter added to the delay (ms). */
  jitterMs: number;
  /** Bottleneck rate (bytes per ms). */
  rate: number;
  /** Drop-tail buffer at the bottleneck (bytes). */
  bufferBytes: number;
}

const BASE = { delayMs: 10, jitterMs: 1, rate: 10_000, bufferBytes: 128 * 1024 };

/** The loss profiles every scenario runs under. */
export const PROFILES: LinkProfile[] = [
  { name: "0% loss", loss: 0, duplicate: 0, reorder: 0, forge: 0, ...BASE },
  { name: "1% loss", loss: 0.01, duplicate: 0, reorder: 0, forge: 0, ...BASE },
  { name: "10% loss", loss: 0.1, duplicate: 0, reorder: 0, forge: 0, ...BASE },
  { name: "30% loss", loss: 0.3, duplicate: 0, reorder: 0, forge: 0, ...BASE },
  {
    name: "1% loss, duplication, reordering, forgeries",
    loss: 0.01,
    duplicate: 0.05,
    reorder: 0.1,
    forge: 0.05,
    ...BASE,
  },
  {
    name: "10% loss, duplication, reordering, forgeries",
    loss: 0.1,
    duplicate: 0.1,
    reorder: 0.2,
    forge: 0.1,
    ...BASE,
  },
];

/** Deterministic pseudo-random file contents. */
export function fileBytes(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let a = seed >>> 0 || 1;
  let i = 0;
  for (; i + 4 <= size; i += 4) {
    a ^= a << 13;
    a ^= a >>> 17;
    a ^= a << 5;
    view.setUint32(i, a >>> 0);
  }
  for (; i < size; i++) out[i] = (i * 131) & 0xff;
  return out;
}

/** SHA-256 as hex. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

export const TRANSFER_ID = "0123456789abcdef";
export const SECRET = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/** Min-heap of scheduled deliveries ordered by time, then insertion. */
class DeliveryQueue {
  #items: Array<{ at: number; seq: number; to: "sender" | "receiver"; bytes: Uint8Array }> = [];
  #seq = 0;
  get size(): number {
    return this.#items.length;
  }
  peekTime(): number | undefined {
    return this.#items[0]?.at;
  }
  push(at: number, to: "sender" | "receiver", bytes: Uint8Array): void {
    const items = this.#items;
    items.push({ at, seq: this.#seq++, to, bytes });
    let i = items.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.#less(items[p], items[i])) break;
      [items[p], items[i]] = [items[i], items[p]];
      i = p;
    }
  }
  pop(): { at: number; to: "sender" | "receiver"; bytes: Uint8Array } | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < items.length && this.#less(items[l], items[m])) m = l;
        if (r < items.length && this.#less(items[r], items[m])) m = r;
        if (m === i) break;
        [items[m], items[i]] = [items[i], items[m]];
        i = m;
      }
    }
    return top;
  }
  #less(a: { at: number; seq: number }, b: { at: number; seq: number }): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }
}

/** One direction of the link: bottleneck queue plus impairments. */
class LinkDirection {
  #busyUntil = 0;
  /** Per lane (socket), the latest arrival: one socket delivers in order. */
  readonly #lastArrival: number[] = [];
  readonly #history: Uint8Array[] = [];
  constructor(
    readonly profile: LinkProfile,
    readonly rng: () => number,
    readonly to: "sender" | "receiver",
    readonly queue: DeliveryQueue,
  ) {}

  /** Whether the link is cut (the peer vanished). */
  cut = false;
  delivered = 0;
  forged = 0;

  /** Scripted drops: called with every datagram before the impairments; true drops it. */
  dropIf: ((bytes: Uint8Array) => boolean) | undefined;

  /**
   * Sends one datagram. `lane` is the receiving socket of a striped transfer: each lane
   * keeps its own order and is `laneDelayMs` later than the one before it.
   */
  send(now: number, bytes: Uint8Array, lane = 0, laneDelayMs = 0): void {
    if (this.cut || (this.dropIf?.(bytes) ?? false)) return;
    const p = this.profile;
    const backlog = Math.max(0, this.#busyUntil - now) * p.rate;
    if (backlog + bytes.length > p.bufferBytes) return; // drop-tail
    const departure = Math.max(now, this.#busyUntil) + bytes.length / p.rate;
    this.#busyUntil = departure;
    if (this.rng() < p.forge) this.#forge(departure, bytes);
    if (this.rng() < p.loss) return;
    const late = departure + lane * laneDelayMs;
    this.#schedule(late, bytes, lane);
    if (this.rng() < p.duplicate) this.#schedule(late + this.rng() * p.delayMs, bytes, lane);
    if (this.#history.length < 64) this.#history.push(bytes);
    else this.#history[Math.floor(this.rng() * 64)] = bytes;
  }

  #schedule(departure: number, bytes: Uint8Array, lane: number): void {
    const p = this.profile;
    // Jitter keeps the order (one path); only `reorder` holds datagrams back.
    let at = Math.max(
      this.#lastArrival[lane] ?? 0,
      departure + p.delayMs + this.rng() * p.jitterMs,
    );
    this.#lastArrival[lane] = at;
    if (this.rng() < p.reorder) at += this.rng() * 2 * p.delayMs;
    this.queue.push(at, this.to, bytes);
    this.delivered++;
  }

  /** Injects garbage, a corrupted copy, a truncated copy or an old replay. */
  #forge(at: number, real: Uint8Array): void {
    this.forged++;
    const kind = Math.floor(this.rng() * 4);
    let bytes: Uint8Array;
    if (kind === 0) {
      bytes = new Uint8Array(Math.floor(this.rng() * 200));
      for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(this.rng() * 256);
    } else if (kind === 1) {
      bytes = real.slice();
      bytes[Math.floor(this.rng() * bytes.length)] ^= 1 + Math.floor(this.rng() * 255);
    } else if (kind === 2) {
      bytes = real.slice(0, Math.floor(this.rng() * real.length));
    } else {
      bytes = this.#history[Math.floor(this.rng() * this.#history.length)] ?? real.slice(1);
    }
    this.queue.push(at + this.profile.delayMs, this.to, bytes);
  }
}

/** Options of one simulated transfer. */
export interface SimOptions {
  profile: LinkProfile;
  size: number;
  seed: number;
  payloadSize?: number;
  suite?: CipherSuite;
  idleTimeoutMs?: number;
  maxFileSize?: number;
  receiveWindowBytes?: number;
  /** File name the receiver was told to expect, when it should differ. */
  expectedName?: string;
  /** Data the sender actually sends, when it should differ from what it announced. */
  actualData?: Uint8Array;
  /** Called at every step, for scripted events (cancel, cutting the link). */
  script?: (sim: Sim) => void;
  /** Virtual time after which the run is abandoned (ms). */
  maxTimeMs?: number;
  /**
   * Stripes: the receiver offers this many sockets (extra ports in ACCEPT) and the sender
   * spreads its datagrams over them; socket k's datagrams arrive `stripeDelayMs` × k late,
   * each socket's in order. Default 1 (no striping).
   */
  stripes?: number;
  stripeDelayMs?: number;
  /** Whether the receiver's disk is stalled: pollData() is not called. */
  stallDisk?: (now: number) => boolean;
}

/** Outcome of a simulated transfer. */
export interface SimResult {
  now: number;
  steps: number;
  senderEvents: TransferEvent[];
  receiverEvents: TransferEvent[];
  output: Uint8Array;
  input: Uint8Array;
  sender: TransferSender;
  receiver: TransferReceiver;
  maxPending: number;
  forged: number;
  /** Virtual time when both sides reported done (or failed), else undefined. */
  doneAt: number | undefined;
  /** Arrays handed to the sender, and how many it gave back through releaseData. */
  pushed: number;
  released: number;
}

/** The live simulation, for scripts. */
export interface Sim {
  now: number;
  sender: TransferSender;
  receiver: TransferReceiver;
  toReceiver: LinkDirection;
  toSender: LinkDirection;
}

const MAX_STEPS = 3_000_000;

/** Runs one transfer to completion (or failure, or maxTimeMs) in virtual time. */
export function simulate(options: SimOptions): SimResult {
  const rng = mulberry32(options.seed);
  const input = fileBytes(options.size, options.seed);
  const sent = options.actualData ?? input;
  const sha256 = sha256Hex(input);
  const common = {
    transferId: TRANSFER_ID,
    secret: SECRET,
    suite: options.suite,
    payloadSize: options.payloadSize,
    idleTimeoutMs: options.idleTimeoutMs,
  };
  let pushed = 0;
  let released = 0;
  const sender = new TransferSender(
    {
      ...common,
      fileName: "video.mp4",
      size: options.size,
      sha256,
      sendBufferBytes: 1 << 20,
      striping: (options.stripes ?? 1) > 1,
      // Poisoned once released: a later read from it would corrupt the output.
      releaseData: (bytes) => {
        released++;
        bytes.fill(0xee);
      },
    },
    0,
  );
  const receiver = new TransferReceiver({
    ...common,
    expected: { fileName: options.expectedName ?? "video.mp4", size: options.size, sha256 },
    maxFileSize: options.maxFileSize,
    receiveWindowBytes: options.receiveWindowBytes,
    extraPorts: Array.from({ length: (options.stripes ?? 1) - 1 }, (_, i) => 40001 + i),
  }, 0);
  const queue = new DeliveryQueue();
  const toReceiver = new LinkDirection(options.profile, rng, "receiver", queue);
  const toSender = new LinkDirection(options.profile, rng, "sender", queue);
  const sim: Sim = { now: 0, sender, receiver, toReceiver, toSender };
  const senderEvents: TransferEvent[] = [];
  const receiverEvents: TransferEvent[] = [];
  const output = new Uint8Array(options.size);
  let written = 0;
  let maxPending = 0;
  const maxTime = options.maxTimeMs ?? 600_000;
  let steps = 0;
  let stuck = 0;
  let doneAt: number | undefined;

  for (; steps < MAX_STEPS; steps++) {
    const now = sim.now;
    options.script?.(sim);
    // Deliver everything due.
    while ((queue.peekTime() ?? Infinity) <= now) {
      const d = queue.pop()!;
      // Like a driver's receive buffer, the datagram is reused (here: poisoned) at once.
      const bytes = d.bytes.slice();
      if (d.to === "receiver") receiver.handleDatagram(bytes, now);
      else sender.handleDatagram(bytes, now);
      bytes.fill(0xdd);
    }
    for (const m of [sender, receiver]) {
      const t = m.pollTimeout();
      if (t !== undefined && t <= now) m.handleTimeout(now);
    }
    // The sender's "disk" answers at once.
    for (let want = sender.wantData(); want !== undefined; want = sender.wantData()) {
      const length = Math.min(want.length, 64 * 1024);
      sender.pushData(want.offset, sent.slice(want.offset, want.offset + length));
      pushed++;
    }
    for (let d = sender.pollTransmit(now); d !== undefined; d = sender.pollTransmit(now)) {
      toReceiver.send(now, d, sender.stripe, options.stripeDelayMs ?? 0);
    }
    maxPending = Math.max(maxPending, receiver.bytesPending);
    if (!(options.stallDisk?.(now) ?? false)) {
      for (let piece = receiver.pollData(); piece !== undefined; piece = receiver.pollData()) {
        if (piece.offset !== written) throw new Error(`data out of order at ${piece.offset}`);
        output.set(piece.bytes, piece.offset);
        written += piece.bytes.length;
      }
    }
    for (let e = receiver.pollEvent(); e !== undefined; e = receiver.pollEvent()) {
      receiverEvents.push(e);
      if (e.type === "verified") receiver.commit(now);
    }
    for (let e = sender.pollEvent(); e !== undefined; e = sender.pollEvent()) senderEvents.push(e);
    for (let d = receiver.pollTransmit(now); d !== undefined; d = receiver.pollTransmit(now)) {
      toSender.send(now, d);
    }
    const finished = (events: TransferEvent[]) =>
      events.some((e) => e.type === "done" || e.type === "failed");
    if (doneAt === undefined && finished(senderEvents) && finished(receiverEvents)) doneAt = now;
    if (sender.isClosed && receiver.isClosed) break;
    // Jump to the next deadline.
    let next = queue.peekTime() ?? Infinity;
    for (const m of [sender, receiver]) {
      const t = m.pollTimeout();
      if (t !== undefined && t < next) next = t;
    }
    if (options.stallDisk !== undefined && next === Infinity) next = now + 10;
    if (next === Infinity || next > maxTime) break;
    stuck = next <= now ? stuck + 1 : 0;
    if (stuck > 1000) throw new Error(`livelock at ${now} ms: the deadline does not move`);
    sim.now = Math.max(now, next);
  }
  return {
    now: sim.now,
    steps,
    senderEvents,
    receiverEvents,
    output: output.subarray(0, written),
    input,
    sender,
    receiver,
    maxPending,
    forged: toReceiver.forged + toSender.forged,
    doneAt,
    pushed,
    released,
  };
}

/** Whether two byte arrays are equal. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The last event of a kind, or undefined. */
export function lastEvent<T extends TransferEvent["type"]>(
  events: TransferEvent[],
  type: T,
): Extract<TransferEvent, { type: T }> | undefined {
  for (let i = events.length - 1; i >= 0; i--) {
    if (events[i].type === type) return events[i] as Extract<TransferEvent, { type: T }>;
  }
  return undefined;
}

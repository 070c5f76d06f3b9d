/**
 * Deterministic simulation for the transfer state machines: senders and receivers joined
 * by an in-memory path — the path emulator's link model (dev/link_model.ts: bottleneck
 * rate, drop-tail queue, delay, random and burst loss) in each direction, plus jitter,
 * duplication, reordering and forged datagrams — under a virtual clock that jumps to the
 * next deadline. No sockets, no sleeping. Several transfers may share the path.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { LinkModel, type LinkOptions } from "../../../dev/link_model.ts";
import { mulberry32 } from "../../helpers/random.ts";
import {
  type CipherSuite,
  type CongestionControlName,
  type TransferEvent,
  TransferReceiver,
  TransferSender,
} from "../../../shared/transfer/mod.ts";

/** Behaviour of the path, the same in both directions. */
export interface LinkProfile extends LinkOptions {
  name: string;
  /** Probability a datagram is delivered twice. Default 0. */
  duplicate?: number;
  /** Probability a datagram is held back (delivered out of order). Default 0. */
  reorder?: number;
  /** Probability that a forged or corrupted datagram is injected next to a real one. */
  forge?: number;
  /** Uniform jitter added to the delay (ms), keeping each socket's order. Default 0. */
  jitterMs?: number;
}

const BASE = { delayMs: 10, jitterMs: 1, mbps: 80, queueBytes: 128 * 1024 };

/** The loss profiles every scenario runs under. */
export const PROFILES: LinkProfile[] = [
  { name: "0% loss", loss: 0, ...BASE },
  { name: "1% loss", loss: 0.01, ...BASE },
  { name: "10% loss", loss: 0.1, ...BASE },
  { name: "30% loss", loss: 0.3, ...BASE },
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

/** File bytes per DATA packet with the default 1200-byte datagrams. */
export const CHUNK_SIZE_1200 = 1200 - 38;

export const TRANSFER_ID = "0123456789abcdef";
export const SECRET = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

type Side = "sender" | "receiver";

interface Delivery {
  at: number;
  seq: number;
  flow: number;
  to: Side;
  bytes: Uint8Array;
}

/** Min-heap of scheduled deliveries ordered by time, then insertion. */
class DeliveryQueue {
  #items: Delivery[] = [];
  #seq = 0;
  peekTime(): number | undefined {
    return this.#items[0]?.at;
  }
  push(at: number, flow: number, to: Side, bytes: Uint8Array): void {
    const items = this.#items;
    items.push({ at, seq: this.#seq++, flow, to, bytes });
    let i = items.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.#less(items[p], items[i])) break;
      [items[p], items[i]] = [items[i], items[p]];
      i = p;
    }
  }
  pop(): Delivery | undefined {
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
  #less(a: Delivery, b: Delivery): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }
}

/** One direction of the path: the link model plus jitter, duplication, reordering, forgery. */
class LinkDirection {
  /** The bottleneck, queue, delay and loss of this direction. */
  readonly model: LinkModel;
  /** Per flow and lane (socket), the latest arrival: one socket delivers in order. */
  readonly #lastArrival = new Map<number, number>();
  readonly #history: Uint8Array[] = [];
  constructor(
    readonly profile: LinkProfile,
    readonly rng: () => number,
    readonly to: Side,
    readonly queue: DeliveryQueue,
  ) {
    this.model = new LinkModel(profile, rng);
  }

  /** Whether the link is cut (the peer vanished). */
  cut = false;
  delivered = 0;
  forged = 0;

  /** Scripted drops: called with every datagram before the impairments; true drops it. */
  dropIf: ((bytes: Uint8Array) => boolean) | undefined;

  /**
   * Sends one datagram of `flow`. `lane` is the receiving socket of a striped transfer:
   * each lane keeps its own order and is `laneDelayMs` later than the one before it.
   */
  send(now: number, flow: number, bytes: Uint8Array, lane = 0, laneDelayMs = 0): void {
    if (this.cut || (this.dropIf?.(bytes) ?? false)) return;
    const p = this.profile;
    if (this.rng() < (p.forge ?? 0)) this.#forge(now, flow, bytes);
    const arrival = this.model.transmit(now, bytes.length);
    if (arrival === undefined) return;
    const late = arrival + lane * laneDelayMs;
    this.#schedule(late, flow, bytes, lane);
    if (this.rng() < (p.duplicate ?? 0)) {
      this.#schedule(late + this.rng() * (p.delayMs ?? 0), flow, bytes, lane);
    }
    if (this.#history.length < 64) this.#history.push(bytes);
    else this.#history[Math.floor(this.rng() * 64)] = bytes;
  }

  #schedule(arrival: number, flow: number, bytes: Uint8Array, lane: number): void {
    const p = this.profile;
    const key = flow * 64 + lane;
    // Jitter keeps the order (one path); only `reorder` holds datagrams back.
    let at = Math.max(this.#lastArrival.get(key) ?? 0, arrival + this.rng() * (p.jitterMs ?? 0));
    this.#lastArrival.set(key, at);
    if (this.rng() < (p.reorder ?? 0)) at += this.rng() * 2 * (p.delayMs ?? 0);
    this.queue.push(at, flow, this.to, bytes);
    this.delivered++;
  }

  /** Injects garbage, a corrupted copy, a truncated copy or an old replay. */
  #forge(now: number, flow: number, real: Uint8Array): void {
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
    this.queue.push(now + (this.profile.delayMs ?? 0), flow, this.to, bytes);
  }
}

/** One transfer of a simulation. */
export interface FlowOptions {
  size: number;
  /** Seeds the file's contents. Default: the simulation's seed. */
  fileSeed?: number;
  /** Virtual time the transfer starts at (ms). Default 0. */
  startAt?: number;
  /** Transfer id (16 hex digits). Default TRANSFER_ID. */
  transferId?: string;
  payloadSize?: number;
  suite?: CipherSuite;
  congestionControl?: CongestionControlName;
  idleTimeoutMs?: number;
  maxFileSize?: number;
  receiveWindowBytes?: number;
  /** The sender's send buffer. Default 1 MiB (small, so release and reuse are exercised). */
  sendBufferBytes?: number;
  /** File name the receiver was told to expect, when it should differ. */
  expectedName?: string;
  /** Data the sender actually sends, when it should differ from what it announced. */
  actualData?: Uint8Array;
  /**
   * Stripes: the receiver offers this many sockets (extra ports in ACCEPT) and the sender
   * spreads its datagrams over them; socket k's datagrams arrive `stripeDelayMs` × k late,
   * each socket's in order. Default 1 (no striping).
   */
  stripes?: number;
  stripeDelayMs?: number;
  /** Whether the receiver's disk is stalled: pollData() is not called. */
  stallDisk?: (now: number) => boolean;
  /**
   * Keep what the receiver wrote (`output`). Default true; without it only the byte count
   * is kept (the receiver's own SHA-256 check still proves the data).
   */
  keepOutput?: boolean;
  /**
   * The receiver holds the transfer (ACCEPT with no window) until this virtual time, as
   * it does while its user decides; then it resumes from `resumeBytes`, if given, and
   * releases it. Default: no hold.
   */
  holdUntil?: number;
  /** Bytes of the file the receiver already has (an earlier attempt), rounded to chunks. */
  resumeBytes?: number;
}

/** Options of one simulated transfer. */
export interface SimOptions extends FlowOptions {
  profile: LinkProfile;
  seed: number;
  /** Called at every step, for scripted events (cancel, cutting the link). */
  script?: (sim: Sim) => void;
  /** Virtual time after which the run is abandoned (ms). */
  maxTimeMs?: number;
}

/** Options of a simulation of several transfers over one path. */
export interface MultiSimOptions {
  profile: LinkProfile;
  seed: number;
  flows: FlowOptions[];
  script?: (sim: Sim) => void;
  maxTimeMs?: number;
  /** Every this many ms, each flow's received bytes and the path's RTT are sampled. */
  sampleEveryMs?: number;
}

/** Outcome of a simulated transfer. */
export interface SimResult {
  now: number;
  steps: number;
  senderEvents: TransferEvent[];
  receiverEvents: TransferEvent[];
  output: Uint8Array;
  /** Bytes the receiver delivered in order. */
  written: number;
  input: Uint8Array;
  sender: TransferSender;
  receiver: TransferReceiver;
  maxPending: number;
  forged: number;
  /** Virtual time when both sides reported done (or failed), else undefined. */
  doneAt: number | undefined;
  /** Virtual time when the receiver saved the file (or failed), else undefined. */
  receiverDoneAt: number | undefined;
  /** When the transfer started (ms). */
  startAt: number;
  /** Arrays handed to the sender, and how many it gave back through releaseData. */
  pushed: number;
  released: number;
  /** Bytes received in order at each sample time (see `sampleEveryMs`). */
  timeline: number[];
}

/** Outcome of a simulation of several transfers. */
export interface MultiSimResult {
  flows: SimResult[];
  /** Sample times (ms). */
  times: number[];
  /**
   * RTT a packet of another application (chat) would see at each sample time while a
   * transfer runs: both one-way delays plus both queues' delays (ms).
   */
  pathRtt: number[];
  /** The path's RTT with empty queues (ms). */
  baseRtt: number;
  toReceiver: LinkModel;
  toSender: LinkModel;
}

/** The live simulation, for scripts. */
export interface Sim {
  now: number;
  /** The first flow's machines. */
  sender: TransferSender;
  receiver: TransferReceiver;
  toReceiver: LinkDirection;
  toSender: LinkDirection;
  /** Every flow's machines (undefined before a flow started). */
  flows: Array<{ sender: TransferSender; receiver: TransferReceiver } | undefined>;
}

const MAX_STEPS = 20_000_000;

/** A transfer in a simulation: its machines, created when it starts. */
class Flow {
  sender!: TransferSender;
  receiver!: TransferReceiver;
  started = false;
  readonly input: Uint8Array;
  readonly sent: Uint8Array;
  readonly output: Uint8Array;
  written = 0;
  maxPending = 0;
  pushed = 0;
  released = 0;
  doneAt: number | undefined;
  readonly senderEvents: TransferEvent[] = [];
  readonly receiverEvents: TransferEvent[] = [];
  readonly timeline: number[] = [];

  constructor(readonly options: FlowOptions, seed: number) {
    this.input = fileBytes(options.size, options.fileSeed ?? seed);
    this.sent = options.actualData ?? this.input;
    this.output = new Uint8Array(options.keepOutput === false ? 0 : options.size);
  }

  start(now: number): void {
    const o = this.options;
    const sha256 = sha256Hex(this.input);
    const common = {
      transferId: o.transferId ?? TRANSFER_ID,
      secret: SECRET,
      suite: o.suite,
      payloadSize: o.payloadSize,
      idleTimeoutMs: o.idleTimeoutMs,
    };
    this.sender = new TransferSender({
      ...common,
      fileName: "video.mp4",
      size: o.size,
      sha256,
      sendBufferBytes: o.sendBufferBytes ?? 1 << 20,
      striping: (o.stripes ?? 1) > 1,
      congestionControl: o.congestionControl,
      // Poisoned once released: a later read from it would corrupt the output.
      releaseData: (bytes) => {
        this.released++;
        bytes.fill(0xee);
      },
    }, now);
    this.receiver = new TransferReceiver({
      ...common,
      expected: { fileName: o.expectedName ?? "video.mp4", size: o.size, sha256 },
      maxFileSize: o.maxFileSize,
      receiveWindowBytes: o.receiveWindowBytes,
      extraPorts: Array.from({ length: (o.stripes ?? 1) - 1 }, (_, i) => 40001 + i),
      hold: o.holdUntil !== undefined || o.resumeBytes !== undefined,
    }, now);
    this.started = true;
  }

  /** A held receiver past its HELLO: resume (what the driver does with its .part) and release. */
  #release(now: number): void {
    const r = this.receiver;
    if (!r.held || r.state !== "transfer" || now < (this.options.holdUntil ?? 0)) return;
    const resume = this.options.resumeBytes;
    if (resume !== undefined) {
      const size = this.input.length;
      const bytes = resume >= size ? size : Math.floor(resume / r.chunkSize) * r.chunkSize;
      const hash = createHash("sha256").update(this.input.subarray(0, bytes));
      if (this.output.length > 0) this.output.set(this.input.subarray(0, bytes));
      this.written = bytes;
      r.resume(bytes, hash, now);
    }
    r.release(now);
  }

  /** Runs both machines at `now`: timers, file data, datagrams, events. */
  step(now: number, index: number, toReceiver: LinkDirection, toSender: LinkDirection): void {
    const { sender, receiver, options: o } = this;
    this.#release(now);
    const ts = sender.pollTimeout();
    if (ts !== undefined && ts <= now) sender.handleTimeout(now);
    const tr = receiver.pollTimeout();
    if (tr !== undefined && tr <= now) receiver.handleTimeout(now);
    // The sender's "disk" answers at once.
    for (let want = sender.wantData(); want !== undefined; want = sender.wantData()) {
      const length = Math.min(want.length, 64 * 1024);
      sender.pushData(want.offset, this.sent.slice(want.offset, want.offset + length));
      this.pushed++;
    }
    for (let d = sender.pollTransmit(now); d !== undefined; d = sender.pollTransmit(now)) {
      toReceiver.send(now, index, d, sender.stripe, o.stripeDelayMs ?? 0);
    }
    this.maxPending = Math.max(this.maxPending, receiver.bytesPending);
    if (!(o.stallDisk?.(now) ?? false)) {
      for (let piece = receiver.pollData(); piece !== undefined; piece = receiver.pollData()) {
        if (piece.offset !== this.written) throw new Error(`data out of order at ${piece.offset}`);
        if (this.output.length > 0) this.output.set(piece.bytes, piece.offset);
        this.written += piece.bytes.length;
      }
    }
    for (let e = receiver.pollEvent(); e !== undefined; e = receiver.pollEvent()) {
      this.receiverEvents.push(e);
      if (e.type === "verified") receiver.commit(now);
      if (e.type === "done" || e.type === "failed") this.#receiverEnded ??= now;
    }
    for (let e = sender.pollEvent(); e !== undefined; e = sender.pollEvent()) {
      this.senderEvents.push(e);
      if (e.type === "done" || e.type === "failed") this.#senderEnded ??= now;
    }
    for (let d = receiver.pollTransmit(now); d !== undefined; d = receiver.pollTransmit(now)) {
      toSender.send(now, index, d);
    }
    if (this.doneAt === undefined && this.#senderEnded !== undefined) {
      if (this.#receiverEnded !== undefined) this.doneAt = now;
    }
  }

  #senderEnded: number | undefined;
  #receiverEnded: number | undefined;

  /** When the receiver saved the file (or failed), if it did. */
  get receiverDoneAt(): number | undefined {
    return this.#receiverEnded;
  }

  /** When the held receiver is to be released: a deadline of its own. */
  get #releaseAt(): number | undefined {
    if (!this.started || !this.receiver.held) return undefined;
    return this.options.holdUntil;
  }

  get closed(): boolean {
    return this.started && this.sender.isClosed && this.receiver.isClosed;
  }

  nextTimeout(): number | undefined {
    if (!this.started) return this.options.startAt ?? 0;
    let next = this.#releaseAt;
    for (const t of [this.sender.pollTimeout(), this.receiver.pollTimeout()]) {
      if (t !== undefined && (next === undefined || t < next)) next = t;
    }
    return next;
  }
}

/** Runs one transfer to completion (or failure, or maxTimeMs) in virtual time. */
export function simulate(options: SimOptions): SimResult {
  return simulateFlows({
    profile: options.profile,
    seed: options.seed,
    script: options.script,
    maxTimeMs: options.maxTimeMs,
    flows: [options],
  }).flows[0];
}

/** Runs several transfers over one path until all ended (or maxTimeMs) in virtual time. */
export function simulateFlows(options: MultiSimOptions): MultiSimResult {
  const rng = mulberry32(options.seed);
  const queue = new DeliveryQueue();
  const toReceiver = new LinkDirection(options.profile, rng, "receiver", queue);
  const toSender = new LinkDirection(options.profile, rng, "sender", queue);
  const flows = options.flows.map((f) => new Flow(f, options.seed));
  const sim: Sim = {
    now: 0,
    sender: undefined!,
    receiver: undefined!,
    toReceiver,
    toSender,
    flows: flows.map(() => undefined),
  };
  const maxTime = options.maxTimeMs ?? 600_000;
  const every = options.sampleEveryMs;
  const times: number[] = [];
  const pathRtt: number[] = [];
  const baseRtt = 2 * (options.profile.delayMs ?? 0);
  let nextSample = every ?? Infinity;
  let steps = 0;
  let stuck = 0;
  let pending = flows.length; // flows not yet started
  const stalls = flows.some((f) => f.options.stallDisk !== undefined);
  // Like a driver's receive buffer, a datagram's memory is reused (here: poisoned) at once.
  const scratch = new Uint8Array(65536);

  for (; steps < MAX_STEPS; steps++) {
    const now = sim.now;
    for (let i = 0; pending > 0 && i < flows.length; i++) {
      const f = flows[i];
      if (!f.started && now >= (f.options.startAt ?? 0)) {
        f.start(now);
        pending--;
        sim.flows[i] = { sender: f.sender, receiver: f.receiver };
        if (i === 0) [sim.sender, sim.receiver] = [f.sender, f.receiver];
      }
    }
    if (now >= nextSample) {
      times.push(now);
      for (const f of flows) f.timeline.push(f.written);
      if (flows.some((f) => f.started && f.sender.state === "transfer")) {
        pathRtt.push(
          baseRtt + toReceiver.model.queueDelay(now) + toSender.model.queueDelay(now),
        );
      }
      nextSample += every!;
    }
    options.script?.(sim);
    // Deliver everything due.
    while ((queue.peekTime() ?? Infinity) <= now) {
      const d = queue.pop()!;
      const f = flows[d.flow];
      const bytes = scratch.subarray(0, d.bytes.length);
      bytes.set(d.bytes);
      if (d.to === "receiver") f.receiver.handleDatagram(bytes, now);
      else f.sender.handleDatagram(bytes, now);
      bytes.fill(0xdd);
    }
    let closed = 0;
    for (let i = 0; i < flows.length; i++) {
      const f = flows[i];
      if (f.started) f.step(now, i, toReceiver, toSender);
      if (f.closed) closed++;
    }
    if (closed === flows.length) break;
    // Jump to the next deadline.
    let next = Math.min(queue.peekTime() ?? Infinity, nextSample);
    for (const f of flows) {
      const t = f.nextTimeout();
      if (t !== undefined && t < next) next = t;
    }
    if (stalls && next === Infinity) next = now + 10;
    if (next === Infinity || next > maxTime) break;
    stuck = next <= now ? stuck + 1 : 0;
    if (stuck > 1000) throw new Error(`livelock at ${now} ms: the deadline does not move`);
    sim.now = Math.max(now, next);
  }
  return {
    flows: flows.map((f) => ({
      now: sim.now,
      steps,
      senderEvents: f.senderEvents,
      receiverEvents: f.receiverEvents,
      output: f.output.subarray(0, f.written),
      written: f.written,
      input: f.input,
      sender: f.sender,
      receiver: f.receiver,
      maxPending: f.maxPending,
      forged: toReceiver.forged + toSender.forged,
      doneAt: f.doneAt,
      receiverDoneAt: f.receiverDoneAt,
      startAt: f.options.startAt ?? 0,
      pushed: f.pushed,
      released: f.released,
      timeline: f.timeline,
    })),
    times,
    pathRtt,
    baseRtt,
    toReceiver: toReceiver.model,
    toSender: toSender.model,
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

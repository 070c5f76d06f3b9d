/**
 * The sending side of a P2P file transfer as a sans-IO state machine: it is handed
 * datagrams, file data and the time, and asked what to send and when to wake up.
 *
 * ```ts
 * declare const options: SenderOptions; // transfer id, secret, file name, size, SHA-256
 * declare const socket: { send(datagram: Uint8Array): void };
 * declare const datagram: Uint8Array, fileBytes: Uint8Array, now: number;
 * const sender = new TransferSender(options, now);
 * // driver loop: feed datagrams, push file data, send what it returns, sleep until pollTimeout()
 * sender.handleDatagram(datagram, now);
 * const want = sender.wantData(); // then push the bytes [want.offset, want.offset + want.length)
 * if (want) sender.pushData(want.offset, fileBytes.subarray(want.offset, want.offset + want.length));
 * for (let d; (d = sender.pollTransmit(now));) socket.send(d);
 * ```
 *
 * States: handshake (HELLO, retransmitted with backoff until ACCEPT) → transfer (DATA under
 * the congestion window, the receiver's window and the pacer; SACK-driven loss detection
 * and retransmission) → finishing (all acknowledged; PING until DONE) → draining (DONE_ACK
 * to each DONE, for a few RTOs) → closed.
 *
 * @module
 */

import {
  DATA_OVERHEAD,
  DEFAULT_SEND_BUFFER_BYTES,
  DRAIN_RTO_MULTIPLE,
  INITIAL_HELLOS,
  MAX_CHUNKS,
  MAX_WINDOW_CHUNKS,
  MIN_DRAIN_MS,
  PACKET_WINDOW,
  PROGRESS_INTERVAL_MS,
} from "./constants.ts";
import {
  type CongestionController,
  type CongestionControlName,
  createController,
  DEFAULT_CONGESTION_CONTROL,
  Pacer,
} from "./congestion/mod.ts";
import { minTime, TransferMachine, type TransferMachineOptions } from "./_machine.ts";
import {
  type AckFrame,
  decodeAccept,
  decodeAck,
  encodeDataHeader,
  encodeHello,
  fromHex,
  type OpenedPacket,
  PacketType,
} from "./packet.ts";
import { FROM_SENDER } from "./packet_protection.ts";
import { mulberry32 } from "../random.ts";
import { RangeSet } from "./range_set.ts";
import { LossRecovery } from "./recovery.ts";
import { SendBuffer } from "./send_buffer.ts";

/** Options of {@linkcode TransferSender}. */
export interface SenderOptions extends TransferMachineOptions {
  /** File name announced in HELLO (the receiver checks it against the server's offer). */
  fileName: string;
  /** File size in bytes. */
  size: number;
  /** SHA-256 of the file, bytes or 64 hex digits. */
  sha256: Uint8Array | string;
  /** Most file data held in memory (unacknowledged plus read ahead). Default 16 MiB. */
  sendBufferBytes?: number;
  /**
   * Called with each array given to pushData() once the machine no longer reads it (all
   * of its bytes acknowledged, or the file confirmed by DONE), so a driver can reuse the
   * memory.
   */
  releaseData?: (bytes: Uint8Array) => void;
  /**
   * Take up the extra ports a receiver offers in ACCEPT (the driver then spreads
   * datagrams over them, see `extraPorts`). Default false.
   */
  striping?: boolean;
  /** Congestion controller. Default "bbr" (DEFAULT_CONGESTION_CONTROL). */
  congestionControl?: CongestionControlName;
}

const EMPTY = new Uint8Array(0);

/** Sans-IO sender of one file. */
export class TransferSender extends TransferMachine {
  /** File size in bytes. */
  readonly size: number;
  /** File bytes per DATA packet. */
  readonly chunkSize: number;
  /** Number of chunks. */
  readonly chunkCount: number;
  /** Most file data held in memory (unacknowledged plus read ahead), bytes. */
  readonly sendBufferBytes: number;
  readonly #hello: Uint8Array;
  readonly #congestionControl: CongestionControlName;
  readonly #recovery: LossRecovery;
  #pacer: Pacer;
  readonly #timerGranularityMs: number | undefined;
  readonly #buffer: SendBuffer;

  // Sequence space, in chunks.
  #sndUna = 0;
  #sndNxt = 0;
  #peerLimit = 0;
  #sacked = new RangeSet();
  #lost: number[] = [];
  #lostHead = 0;
  #ackedBytes = 0;
  #bytesResumed = 0;

  #extraPorts: readonly number[] = [];
  readonly #striping: boolean;
  #pacingAt: number | undefined;
  /**
   * HELLOs to send now. The first goes twice (INITIAL_HELLOS), so that one lost datagram
   * does not cost the transfer a retransmission timeout (500 ms before an RTT is known);
   * each copy elicits an ACCEPT, so the ACCEPT goes twice too.
   */
  #hellosDue = INITIAL_HELLOS;
  #probeDue = false;

  /**
   * @param options transfer and file description.
   * @param now current time in ms (any monotonic origin).
   * @throws {RangeError} on an invalid size or payload size.
   */
  constructor(options: SenderOptions, now: number) {
    super(options, FROM_SENDER, now);
    if (!Number.isSafeInteger(options.size) || options.size < 0) {
      throw new RangeError(`Cannot send file: size ${options.size} is not a byte count`);
    }
    this.size = options.size;
    this.chunkSize = this.payloadSize - DATA_OVERHEAD;
    this.chunkCount = Math.ceil(this.size / this.chunkSize);
    if (this.chunkCount > MAX_CHUNKS) {
      throw new RangeError(`Cannot send file: ${this.size} bytes need too many packets`);
    }
    const sha256 = typeof options.sha256 === "string" ? fromHex(options.sha256) : options.sha256;
    if (sha256.length !== 32) throw new RangeError("Cannot send file: SHA-256 is not 32 bytes");
    this.#hello = encodeHello({
      size: this.size,
      chunkSize: this.chunkSize,
      sha256,
      fileName: options.fileName,
    });
    this.#buffer = new SendBuffer({
      size: this.size,
      chunkSize: this.chunkSize,
      bytes: options.sendBufferBytes ?? DEFAULT_SEND_BUFFER_BYTES,
      release: options.releaseData,
    });
    this.sendBufferBytes = this.#buffer.capacity;
    this.#congestionControl = options.congestionControl ?? DEFAULT_CONGESTION_CONTROL;
    this.#recovery = new LossRecovery(
      this.#newController(),
      this.stats,
      (chunk) => this.#lost.push(chunk),
      this.idleTimeoutMs,
    );
    this.#pacer = new Pacer(this.payloadSize, options.timerGranularityMs);
    this.#timerGranularityMs = options.timerGranularityMs;
    this.#striping = options.striping ?? false;
  }

  /** A controller for a new path; its random choices are seeded by the transfer id. */
  #newController(): CongestionController {
    const seed = parseInt(this.id.slice(0, 8), 16) ^ this.nextPn;
    return createController(this.#congestionControl, this.payloadSize, mulberry32(seed));
  }

  /** Bytes the receiver has acknowledged. */
  get bytesAcked(): number {
    return this.#ackedBytes;
  }

  /**
   * Whether the receiver accepted the handshake but has not opened its window yet (its
   * user is being asked), or the handshake is not done.
   */
  get waitingForPeer(): boolean {
    if (this.stateValue === "handshake") return true;
    return this.stateValue === "transfer" && this.#peerLimit <= this.#sndUna &&
      this.#ackedBytes === this.bytesResumed && this.chunkCount > this.#sndUna;
  }

  /** Bytes the receiver already had from an earlier attempt, so not sent (about). */
  get bytesResumed(): number {
    return Math.min(this.#bytesResumed, this.size);
  }

  /**
   * More ports of the receiver (same host) that take this transfer's datagrams, as its
   * ACCEPT offered them; empty until then, when it offered none, and without the
   * `striping` option. The driver spreads datagrams over the peer's address and these.
   */
  get extraPorts(): readonly number[] {
    return this.#extraPorts;
  }

  /**
   * Where the datagram pollTransmit() returned last goes: 0 for the peer's address, i
   * for `extraPorts[i - 1]`. It is the packet number modulo the number of stripes, so
   * each of the receiver's sockets gets its packets in packet-number order (loss
   * detection counts on it); always 0 without extra ports.
   */
  get stripe(): number {
    return (this.nextPn - 1) % this.#recovery.stripes;
  }

  /** Smoothed RTT in ms. */
  get srtt(): number {
    return this.#recovery.rtt.smoothed;
  }

  /** Smallest RTT sample in ms (Infinity before one). */
  get minRtt(): number {
    return this.#recovery.rtt.min;
  }

  /** Congestion window in bytes. */
  get cwnd(): number {
    return this.#recovery.controller.window;
  }

  /** The congestion controller's name and state, e.g. "bbr probe_bw". */
  get congestionState(): string {
    const cc = this.#recovery.controller;
    return `${cc.name} ${cc.state}`;
  }

  /** Pacing rate in bytes per ms. */
  get pacingRate(): number {
    return this.#recovery.controller.pacingRate(this.#recovery.rtt);
  }

  /** How late the driver ran the machine after pacing waits (ms, decaying maximum). */
  get pacingLateness(): number {
    return this.#pacer.lateness;
  }

  /** Bytes sent and neither acknowledged nor declared lost. */
  get bytesInFlight(): number {
    return this.#recovery.bytesInFlight;
  }

  /**
   * The endpoint moved the transfer to another network path (relay to direct, or a new
   * address): what was learnt about the old path's capacity and delay does not hold for
   * the new one, so the RTT estimate, the congestion controller and the pacer start
   * afresh, as RFC 9000 §9.4 prescribes for a QUIC path change. Packets in flight stay in
   * flight and are acknowledged or declared lost as usual.
   */
  onPathChange(): void {
    this.#recovery.resetPath(this.#newController());
    this.#pacer = new Pacer(this.payloadSize, this.#timerGranularityMs);
  }

  /**
   * Which file bytes the machine wants next: read them and give them to pushData().
   * Undefined when the buffer is full or the whole file was pushed.
   */
  wantData(): { offset: number; length: number } | undefined {
    if (this.isClosed) return undefined;
    return this.#buffer.want(this.#sndUna * this.chunkSize, this.#sndNxt * this.chunkSize);
  }

  /**
   * Hands over file bytes starting at `offset`, which must be where the previous push
   * ended. The machine keeps a reference until they are acknowledged.
   * @throws {RangeError} when `offset` is not the expected one or the data overruns the size.
   */
  pushData(offset: number, bytes: Uint8Array): void {
    this.#buffer.push(offset, bytes);
  }

  protected onPacket(packet: OpenedPacket, now: number): boolean {
    switch (packet.type) {
      case PacketType.Accept: {
        const frame = decodeAccept(packet.body);
        if (this.stateValue === "handshake" && this.#striping && frame.ports.length > 0) {
          this.#extraPorts = frame.ports;
          this.#recovery.setStripes(1 + frame.ports.length);
        }
        if (this.stateValue === "handshake") this.#onAccepted(now);
        this.#onAck({ ...frame, cumAck: 0, ranges: [] }, now);
        return true;
      }
      case PacketType.Ack: {
        const frame = decodeAck(packet.body);
        if (this.stateValue === "handshake") this.#onAccepted(now);
        if (this.stateValue !== "transfer" && this.stateValue !== "finishing") return false;
        this.#onAck(frame, now);
        return true;
      }
      case PacketType.Done:
        // Confirm it, so a lingering receiver can close at once (and again for a repeat).
        this.queueControl(PacketType.DoneAck, EMPTY);
        if (this.stateValue === "draining") return true;
        // DONE may overtake a lost ACCEPT (an empty file is verified at once).
        this.#ackedBytes = this.size;
        this.#buffer.release(this.size); // DONE may overtake the last ACKs too
        this.progress(now, this.size, this.size, PROGRESS_INTERVAL_MS, true);
        this.emit({ type: "done" });
        this.#probeDue = false;
        this.#recovery.stopTimers();
        this.#pacingAt = undefined;
        this.drain(now, this.drainTime());
        return true;
      default:
        return false;
    }
  }

  #onAccepted(now: number): void {
    this.stateValue = "transfer";
    this.#hellosDue = 0;
    this.#recovery.backoff = 1;
    this.#recovery.armProbe(now);
    this.emit({ type: "accepted" });
    if (this.chunkCount === 0) this.#enterFinishing(now);
  }

  #enterFinishing(now: number): void {
    this.stateValue = "finishing";
    this.#recovery.rtoAt = undefined;
    this.#recovery.lossAt = undefined;
    this.#recovery.armProbe(now);
  }

  #onAck(frame: AckFrame, now: number): void {
    const recovery = this.#recovery;
    recovery.onAckFrame(frame.largestPn, frame.ackDelayUs / 1000, this.nextPn, now);
    const limit = Math.min(frame.limit, this.chunkCount);
    if (limit > this.#peerLimit) this.#peerLimit = limit;

    if (frame.cumAck > this.#sndNxt) this.#skipResumed(Math.min(frame.cumAck, this.chunkCount));
    const ackedBefore = this.#ackedBytes;
    const onNew = (s: number, e: number) => {
      for (let c = s; c < e; c++) {
        recovery.onChunkAcked(c, now);
        this.#ackedBytes += this.#chunkLength(c);
      }
    };
    const cum = Math.min(frame.cumAck, this.#sndNxt);
    if (cum > this.#sndUna) {
      this.#sacked.add(this.#sndUna, cum, onNew);
      this.#sacked.removeBelow(cum);
      this.#sndUna = cum;
    }
    for (let i = 0; i < frame.ranges.length; i += 2) {
      const start = Math.max(frame.ranges[i], this.#sndUna);
      const end = Math.min(frame.ranges[i + 1], this.#sndNxt);
      if (start < end) this.#sacked.add(start, end, onNew);
    }
    recovery.onAckFrameEnd(now, this.nextPn, this.#ackedBytes > ackedBefore);
    this.#buffer.release(this.#sndUna * this.chunkSize);
    this.progress(now, this.#ackedBytes, this.size, PROGRESS_INTERVAL_MS);
    if (this.#sndUna >= this.chunkCount && this.stateValue === "transfer") {
      this.#enterFinishing(now);
    }
  }

  /**
   * The receiver acknowledged chunks never sent: it kept them from an earlier, interrupted
   * transfer of the same file (the SHA-256 it checks at the end covers them). They are
   * not sent; nor read, when the file data has not got that far.
   */
  #skipResumed(chunks: number): void {
    this.#bytesResumed += (chunks - this.#sndNxt) * this.chunkSize;
    this.#sndNxt = chunks;
    this.#buffer.skipTo(chunks * this.chunkSize);
  }

  protected onTimeout(now: number): void {
    if (!this.#recovery.onTimeout(now, this.nextPn)) return;
    if (this.stateValue === "handshake") this.#hellosDue = 1;
    else if (this.#recovery.bytesInFlight === 0) this.#probeDue = true;
  }

  protected pollPacket(now: number): Uint8Array | undefined {
    if (this.#pacingAt !== undefined && now >= this.#pacingAt) {
      this.#pacer.onWake(this.#pacingAt, now);
    }
    this.#pacingAt = undefined;
    if (this.stateValue === "handshake") {
      if (this.#hellosDue === 0) return undefined;
      this.#hellosDue--;
      return this.#sealTracked(PacketType.Hello, this.#hello, EMPTY, now, -1);
    }
    if (this.#probeDue) {
      this.#probeDue = false;
      return this.#sealTracked(PacketType.Ping, EMPTY, EMPTY, now, -1);
    }
    if (this.stateValue !== "transfer") return undefined;
    const cc = this.#recovery.controller;
    const inFlight = this.#recovery.bytesInFlight;
    const chunk = this.#nextChunk();
    if (chunk === undefined) {
      // Window to spare and nothing to send: the controller's samples understate the path.
      if (inFlight + this.payloadSize <= cc.window) cc.onAppLimited(inFlight);
      return undefined;
    }
    const length = this.#chunkLength(chunk);
    const size = length + DATA_OVERHEAD;
    if (inFlight + size > cc.window) return undefined;
    const rate = cc.pacingRate(this.#recovery.rtt);
    const at = this.#pacer.nextSendTime(now, size, rate);
    if (at > now) {
      this.#pacingAt = at;
      return undefined;
    }
    this.#pacer.onSend(now, size, rate);
    if (chunk === this.#sndNxt) {
      this.#sndNxt++;
    } else {
      this.#lostHead++;
      this.stats.retransmissions++;
      if (this.#lostHead > 1024 && this.#lostHead * 2 > this.#lost.length) {
        this.#lost = this.#lost.slice(this.#lostHead);
        this.#lostHead = 0;
      }
    }
    const datagram = this.#sealTracked(
      PacketType.Data,
      encodeDataHeader(chunk),
      this.#buffer.slice(chunk * this.chunkSize, length),
      now,
      chunk,
    );
    this.stats.dataPacketsSent++;
    return datagram;
  }

  /** Seals a packet and records it; DATA packets count as in flight. */
  #sealTracked(
    type: PacketType,
    body: Uint8Array,
    extra: Uint8Array,
    now: number,
    chunk: number,
  ): Uint8Array {
    const pn = this.nextPn;
    const datagram = this.seal(type, body, extra);
    this.#recovery.onSent(pn, chunk, datagram.length, now);
    return datagram;
  }

  /** The chunk to send next: a lost one first, then new data if window and buffer allow. */
  #nextChunk(): number | undefined {
    while (this.#lostHead < this.#lost.length) {
      const chunk = this.#lost[this.#lostHead];
      if (chunk >= this.#sndUna && !this.#sacked.has(chunk)) return chunk;
      this.#lostHead++;
    }
    const chunk = this.#sndNxt;
    if (chunk >= this.chunkCount || chunk >= this.#peerLimit) return undefined;
    if (chunk - this.#sndUna >= MAX_WINDOW_CHUNKS) return undefined;
    if (this.#recovery.tracked(this.nextPn) >= PACKET_WINDOW - 2) return undefined;
    if (chunk * this.chunkSize + this.#chunkLength(chunk) > this.#buffer.end) return undefined;
    return chunk;
  }

  protected machineTimeout(): number | undefined {
    return minTime(this.#recovery.nextTimeout(), this.#pacingAt);
  }

  protected drainTime(): number {
    return Math.max(MIN_DRAIN_MS, DRAIN_RTO_MULTIPLE * this.#recovery.rtt.rto());
  }

  #chunkLength(chunk: number): number {
    return Math.min(this.chunkSize, this.size - chunk * this.chunkSize);
  }
}

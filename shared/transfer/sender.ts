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
  MAX_CHUNKS,
  MAX_PACKET_THRESHOLD,
  MAX_RTO_MS,
  MAX_WINDOW_CHUNKS,
  MIN_DRAIN_MS,
  PACKET_THRESHOLD,
  PACKET_WINDOW,
  PROGRESS_INTERVAL_MS,
  READ_AHEAD_BYTES,
  RETRIES_PER_IDLE,
  TIME_THRESHOLD,
  TIMER_GRANULARITY_MS,
} from "./constants.ts";
import { NewRenoCongestion, Pacer } from "./congestion.ts";
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
import { RangeSet } from "./range_set.ts";
import { RttEstimator } from "./rtt.ts";

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
}

const CHUNK_RING = 2 * MAX_WINDOW_CHUNKS;
// States of a sent packet (0: acknowledged, or not a DATA packet).
const IN_FLIGHT = 1;
const LOST_BY_THRESHOLD = 2;
const LOST_BY_TIMEOUT = 3;
const EMPTY = new Uint8Array(0);

/** Sans-IO sender of one file. */
export class TransferSender extends TransferMachine {
  /** File size in bytes. */
  readonly size: number;
  /** File bytes per DATA packet. */
  readonly chunkSize: number;
  /** Number of chunks. */
  readonly chunkCount: number;
  readonly #hello: Uint8Array;
  /** Most file data held in memory (unacknowledged plus read ahead), bytes. */
  readonly sendBufferBytes: number;
  #rtt = new RttEstimator();
  #cc: NewRenoCongestion;
  #pacer: Pacer;
  readonly #timerGranularityMs: number | undefined;

  // Sequence space, in chunks.
  #sndUna = 0;
  #sndNxt = 0;
  #peerLimit = 0;
  #sacked = new RangeSet();
  #lost: number[] = [];
  #lostHead = 0;
  #ackedBytes = 0;

  // Sent packets, indexed by packet number modulo PACKET_WINDOW.
  readonly #sentTime = new Float64Array(PACKET_WINDOW);
  readonly #sentChunk = new Int32Array(PACKET_WINDOW);
  readonly #sentBytes = new Int32Array(PACKET_WINDOW);
  readonly #inFlight = new Uint8Array(PACKET_WINDOW);
  readonly #chunkPn = new Float64Array(CHUNK_RING);
  #oldestPn = 0;
  #bytesInFlight = 0;
  #largestEcho = -1;
  /**
   * Per stripe (the receiver socket packet number pn goes to is pn % stripes), the
   * largest packet number acknowledged. One socket delivers in order, so only a later
   * packet of the same stripe is evidence of a loss; across stripes, datagrams are read
   * back in any order.
   */
  #largestAcked = new Float64Array([-1]);
  /** Scratch for #detectLosses(): stripes already past their oldest packet in flight. */
  #stripeDone = new Uint8Array(1);
  /** Later packets of the same stripe acknowledged before one is deemed lost. */
  #reorderThreshold = PACKET_THRESHOLD;
  #extraPorts: readonly number[] = [];
  readonly #striping: boolean;

  // Timers.
  #rtoAt: number | undefined;
  #lossAt: number | undefined;
  #probeAt: number | undefined;
  #pacingAt: number | undefined;
  #backoff = 1;
  #helloDue = true;
  #probeDue = false;

  // File data held in memory: contiguous blocks from #blocks[#blockHead].offset to #pushedEnd.
  #blocks: Array<{ offset: number; bytes: Uint8Array }> = [];
  readonly #releaseData: ((bytes: Uint8Array) => void) | undefined;
  #blockHead = 0;
  #pushedEnd = 0;

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
    this.sendBufferBytes = Math.max(
      options.sendBufferBytes ?? DEFAULT_SEND_BUFFER_BYTES,
      4 * this.chunkSize,
    );
    this.#cc = new NewRenoCongestion(this.payloadSize);
    this.#pacer = new Pacer(this.payloadSize, options.timerGranularityMs);
    this.#timerGranularityMs = options.timerGranularityMs;
    this.#sentChunk.fill(-1);
    this.#releaseData = options.releaseData;
    this.#striping = options.striping ?? false;
  }

  /**
   * The endpoint moved the transfer to another network path (relay to direct, or a new
   * address): what was learnt about the old path's capacity and delay does not hold for
   * the new one, so the RTT estimate, the congestion window and the pacer start afresh,
   * as RFC 9000 §9.4 prescribes for a QUIC path change. Packets in flight stay in flight
   * and are acknowledged or declared lost as usual.
   */
  onPathChange(): void {
    this.#rtt = new RttEstimator();
    this.#cc = new NewRenoCongestion(this.payloadSize);
    this.#pacer = new Pacer(this.payloadSize, this.#timerGranularityMs);
  }

  /** Bytes the receiver has acknowledged. */
  get bytesAcked(): number {
    return this.#ackedBytes;
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
    return (this.nextPn - 1) % this.#largestAcked.length;
  }

  /** Smoothed RTT in ms. */
  get srtt(): number {
    return this.#rtt.smoothed;
  }

  /** Congestion window in bytes. */
  get cwnd(): number {
    return this.#cc.cwnd;
  }

  /** Pacing rate in bytes per ms. */
  get pacingRate(): number {
    return Pacer.rate(this.#cc.cwnd, this.#rtt.smoothed, this.#cc.inSlowStart);
  }

  /** How late the driver ran the machine after pacing waits (ms, decaying maximum). */
  get pacingLateness(): number {
    return this.#pacer.lateness;
  }

  /** Bytes sent and neither acknowledged nor declared lost. */
  get bytesInFlight(): number {
    return this.#bytesInFlight;
  }

  /**
   * Which file bytes the machine wants next: read them and give them to pushData().
   * Undefined when the buffer is full or the whole file was pushed.
   */
  wantData(): { offset: number; length: number } | undefined {
    if (this.#pushedEnd >= this.size || this.isClosed) return undefined;
    // Read ahead of what was sent only so far: fresh memory is dear to touch, and reading
    // early gains nothing once a few blocks are waiting.
    if (this.#pushedEnd - this.#sndNxt * this.chunkSize >= READ_AHEAD_BYTES) return undefined;
    const room = this.#sndUna * this.chunkSize + this.sendBufferBytes - this.#pushedEnd;
    if (room < this.chunkSize && this.#pushedEnd > this.#sndUna * this.chunkSize) return undefined;
    return {
      offset: this.#pushedEnd,
      length: Math.min(Math.max(room, this.chunkSize), this.size - this.#pushedEnd),
    };
  }

  /**
   * Hands over file bytes starting at `offset`, which must be where the previous push
   * ended. The machine keeps a reference until they are acknowledged.
   * @throws {RangeError} when `offset` is not the expected one or the data overruns the size.
   */
  pushData(offset: number, bytes: Uint8Array): void {
    if (offset !== this.#pushedEnd) {
      throw new RangeError(`Cannot push file data: offset ${offset}, expected ${this.#pushedEnd}`);
    }
    if (offset + bytes.length > this.size) {
      throw new RangeError(`Cannot push file data: it runs past the size ${this.size}`);
    }
    if (bytes.length === 0) return;
    this.#blocks.push({ offset, bytes });
    this.#pushedEnd += bytes.length;
  }

  protected onPacket(packet: OpenedPacket, now: number): boolean {
    switch (packet.type) {
      case PacketType.Accept: {
        const frame = decodeAccept(packet.body);
        if (this.stateValue === "handshake" && this.#striping && frame.ports.length > 0) {
          this.#extraPorts = frame.ports;
          this.#largestAcked = new Float64Array(1 + frame.ports.length).fill(-1);
          this.#stripeDone = new Uint8Array(1 + frame.ports.length);
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
        this.#releaseBlocks(this.size); // DONE may overtake the last ACKs too
        this.progress(now, this.size, this.size, PROGRESS_INTERVAL_MS, true);
        this.emit({ type: "done" });
        this.#probeDue = false;
        this.#probeAt = undefined;
        this.#rtoAt = undefined;
        this.#lossAt = undefined;
        this.#pacingAt = undefined;
        this.drain(now, this.drainTime());
        return true;
      default:
        return false;
    }
  }

  #onAccepted(now: number): void {
    this.stateValue = "transfer";
    this.#helloDue = false;
    this.#backoff = 1;
    this.#probeAt = now + this.#retryInterval();
    this.emit({ type: "accepted" });
    if (this.chunkCount === 0) this.#enterFinishing(now);
  }

  #enterFinishing(now: number): void {
    this.stateValue = "finishing";
    this.#rtoAt = undefined;
    this.#lossAt = undefined;
    this.#probeAt = now + this.#retryInterval();
  }

  #onAck(frame: AckFrame, now: number): void {
    if (frame.largestPn > this.#largestEcho && frame.largestPn < this.nextPn) {
      this.#largestEcho = frame.largestPn;
      this.#onPacketAcked(frame.largestPn);
      if (this.nextPn - frame.largestPn < PACKET_WINDOW) {
        const sample = now - this.#sentTime[frame.largestPn % PACKET_WINDOW];
        this.#rtt.update(sample, frame.ackDelayUs / 1000);
      }
    }
    const limit = Math.min(frame.limit, this.chunkCount);
    if (limit > this.#peerLimit) this.#peerLimit = limit;

    const inFlightBefore = this.#bytesInFlight;
    const ackedBefore = this.#ackedBytes;
    const limited = 2 * inFlightBefore >= this.#cc.cwnd;
    const onNew = (s: number, e: number) => {
      for (let c = s; c < e; c++) this.#onChunkAcked(c, limited);
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

    if (this.#ackedBytes > ackedBefore) {
      this.#backoff = 1;
      this.#rtoAt = this.#bytesInFlight > 0 ? now + this.#rtt.rto() : undefined;
    }
    if (this.#bytesInFlight === 0 && this.#probeAt === undefined) {
      this.#backoff = 1;
      this.#probeAt = now + this.#retryInterval();
    }
    this.#detectLosses(now);
    this.#releaseBlocks();
    this.progress(now, this.#ackedBytes, this.size, PROGRESS_INTERVAL_MS);
    if (this.#sndUna >= this.chunkCount && this.stateValue === "transfer") {
      this.#enterFinishing(now);
    }
  }

  #onChunkAcked(chunk: number, limited: boolean): void {
    const pn = this.#chunkPn[chunk % CHUNK_RING];
    const slot = pn % PACKET_WINDOW;
    if (this.#sentChunk[slot] === chunk) {
      this.#onPacketAcked(pn);
      if (this.#inFlight[slot] === IN_FLIGHT) {
        this.#inFlight[slot] = 0;
        this.#bytesInFlight -= this.#sentBytes[slot];
        this.#cc.onAck(this.#sentBytes[slot], this.#sentTime[slot], limited);
      } else if (this.#inFlight[slot] === LOST_BY_THRESHOLD) {
        // Declared lost, not resent yet, now acknowledged: it was reordered, not lost.
        this.#inFlight[slot] = 0;
        this.stats.spuriousLosses++;
        this.#reorderThreshold = Math.min(MAX_PACKET_THRESHOLD, this.#reorderThreshold * 2);
        this.#cc.onSpuriousLoss();
      }
    }
    this.#ackedBytes += this.#chunkLength(chunk);
  }

  #onPacketAcked(pn: number): void {
    const stripe = pn % this.#largestAcked.length;
    if (pn > this.#largestAcked[stripe]) this.#largestAcked[stripe] = pn;
  }

  /**
   * RFC 9002 §6.1: packet- and time-threshold loss detection over the oldest packets,
   * each stripe on its own: a packet is lost once a packet sent #reorderThreshold later on
   * its stripe was acknowledged, or a later one of its stripe was and the time threshold
   * passed. The scan stops once every stripe has reached a packet that is not lost yet.
   */
  #detectLosses(now: number): void {
    this.#lossAt = undefined;
    const delay = Math.max(
      TIME_THRESHOLD * Math.max(this.#rtt.smoothed, this.#rtt.latest),
      TIMER_GRANULARITY_MS,
    );
    const stripes = this.#largestAcked.length;
    const done = this.#stripeDone;
    done.fill(0);
    let open = stripes;
    let prefix = true; // nothing in flight from #oldestPn up to pn
    for (let pn = this.#oldestPn; pn < this.nextPn && open > 0; pn++) {
      const slot = pn % PACKET_WINDOW;
      if (this.#inFlight[slot] === IN_FLIGHT) {
        const stripe = pn % stripes;
        if (done[stripe] === 1) {
          prefix = false;
          continue;
        }
        const largest = this.#largestAcked[stripe];
        const sent = this.#sentTime[slot];
        if (
          pn > largest || (pn + this.#reorderThreshold * stripes > largest && sent + delay > now)
        ) {
          // Not lost (yet); nor is any later packet of this stripe.
          if (pn <= largest) this.#lossAt = minTime(this.#lossAt, sent + delay);
          done[stripe] = 1;
          open--;
          prefix = false;
          continue;
        }
        this.#declareLost(slot, now, LOST_BY_THRESHOLD);
      }
      if (prefix) this.#oldestPn = pn + 1;
    }
  }

  #declareLost(slot: number, now: number, how: number): void {
    this.#inFlight[slot] = how;
    this.#bytesInFlight -= this.#sentBytes[slot];
    this.#lost.push(this.#sentChunk[slot]);
    this.#cc.onLoss(this.#sentTime[slot], now);
    this.stats.lostPackets++;
  }

  protected onTimeout(now: number): void {
    if (this.#lossAt !== undefined && now >= this.#lossAt) this.#detectLosses(now);
    if (this.#rtoAt !== undefined && now >= this.#rtoAt) {
      this.#rtoAt = undefined;
      this.stats.rtoExpirations++;
      for (let pn = this.#oldestPn; pn < this.nextPn; pn++) {
        const slot = pn % PACKET_WINDOW;
        if (this.#inFlight[slot] === IN_FLIGHT) this.#declareLost(slot, now, LOST_BY_TIMEOUT);
      }
      this.#oldestPn = this.nextPn;
      this.#lossAt = undefined;
      this.#cc.onTimeout(now);
      this.#backoff = Math.min(this.#backoff * 2, 64);
    }
    if (this.#probeAt !== undefined && now >= this.#probeAt) {
      if (this.stateValue === "handshake") {
        this.#helloDue = true;
      } else if (this.#bytesInFlight === 0) {
        this.#probeDue = true;
      }
      this.#backoff = Math.min(this.#backoff * 2, 64);
      this.#probeAt = undefined; // re-armed when the HELLO or PING leaves
    }
  }

  /**
   * Wait before a retransmission timeout, a HELLO retransmission or a probe: the backed-off
   * RTO, at most MAX_RTO_MS and a tenth of the idle timeout (RETRIES_PER_IDLE).
   */
  #retryInterval(): number {
    return Math.min(
      this.#rtt.rto() * this.#backoff,
      MAX_RTO_MS,
      this.idleTimeoutMs / RETRIES_PER_IDLE,
    );
  }

  protected pollPacket(now: number): Uint8Array | undefined {
    if (this.#pacingAt !== undefined && now >= this.#pacingAt) {
      this.#pacer.onWake(this.#pacingAt, now);
    }
    this.#pacingAt = undefined;
    if (this.stateValue === "handshake") {
      if (!this.#helloDue) return undefined;
      this.#helloDue = false;
      return this.#sealTracked(PacketType.Hello, this.#hello, EMPTY, now, -1);
    }
    if (this.#probeDue) {
      this.#probeDue = false;
      return this.#sealTracked(PacketType.Ping, EMPTY, EMPTY, now, -1);
    }
    if (this.stateValue !== "transfer") return undefined;
    const chunk = this.#nextChunk();
    if (chunk === undefined) return undefined;
    const length = this.#chunkLength(chunk);
    const size = length + DATA_OVERHEAD;
    if (this.#bytesInFlight + size > this.#cc.cwnd) return undefined;
    const rate = this.pacingRate;
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
    const offset = chunk * this.chunkSize;
    const datagram = this.#sealTracked(
      PacketType.Data,
      encodeDataHeader(chunk),
      this.#slice(offset, length),
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
    const slot = pn % PACKET_WINDOW;
    this.#sentTime[slot] = now;
    this.#sentChunk[slot] = chunk;
    this.#sentBytes[slot] = datagram.length;
    this.#inFlight[slot] = chunk >= 0 ? IN_FLIGHT : 0;
    if (chunk >= 0) {
      this.#chunkPn[chunk % CHUNK_RING] = pn;
      this.#bytesInFlight += datagram.length;
      this.#rtoAt ??= now + this.#retryInterval();
      this.#probeAt = undefined;
    } else {
      this.#probeAt = now + this.#retryInterval();
      if (this.#oldestPn === pn) this.#oldestPn++;
    }
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
    if (this.nextPn - this.#oldestPn >= PACKET_WINDOW - 2) return undefined;
    if (chunk * this.chunkSize + this.#chunkLength(chunk) > this.#pushedEnd) return undefined;
    return chunk;
  }

  protected machineTimeout(): number | undefined {
    let t = minTime(this.#probeAt, this.#rtoAt);
    t = minTime(t, this.#lossAt);
    return minTime(t, this.#pacingAt);
  }

  protected drainTime(): number {
    return Math.max(MIN_DRAIN_MS, DRAIN_RTO_MULTIPLE * this.#rtt.rto());
  }

  #chunkLength(chunk: number): number {
    return Math.min(this.chunkSize, this.size - chunk * this.chunkSize);
  }

  /** File bytes [offset, offset + length) from the in-memory blocks. */
  #slice(offset: number, length: number): Uint8Array {
    let lo = this.#blockHead;
    let hi = this.#blocks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.#blocks[mid].offset <= offset) lo = mid;
      else hi = mid - 1;
    }
    const block = this.#blocks[lo];
    const start = offset - block.offset;
    if (start + length <= block.bytes.length) {
      return block.bytes.subarray(start, start + length);
    }
    // The chunk spans blocks: join the pieces.
    const out = new Uint8Array(length);
    let copied = 0;
    for (let i = lo; copied < length; i++) {
      const b = this.#blocks[i];
      const from = i === lo ? start : 0;
      const piece = b.bytes.subarray(from, Math.min(b.bytes.length, from + length - copied));
      out.set(piece, copied);
      copied += piece.length;
    }
    return out;
  }

  /** Gives back the blocks wholly below `acked` (default: what the receiver acknowledged). */
  #releaseBlocks(acked = this.#sndUna * this.chunkSize): void {
    while (this.#blockHead < this.#blocks.length) {
      const b = this.#blocks[this.#blockHead];
      if (b.offset + b.bytes.length > acked) break;
      this.#blockHead++;
      this.#releaseData?.(b.bytes);
    }
    if (this.#blockHead > 64 && this.#blockHead * 2 > this.#blocks.length) {
      this.#blocks = this.#blocks.slice(this.#blockHead);
      this.#blockHead = 0;
    }
  }
}

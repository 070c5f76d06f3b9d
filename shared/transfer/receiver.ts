/**
 * The receiving side of a P2P file transfer as a sans-IO state machine.
 *
 * ```ts
 * declare const options: ReceiverOptions; // transfer id, secret, the expected file, size limit
 * declare const file: Deno.FsFile;
 * declare const datagram: Uint8Array, now: number;
 * const receiver = new TransferReceiver(options, now);
 * receiver.handleDatagram(datagram, now);
 * for (let piece; (piece = receiver.pollData());) file.writeSync(piece.bytes); // in order
 * for (let event; (event = receiver.pollEvent());) {
 *   if (event.type === "verified") receiver.commit(now); // once the file is saved
 * }
 * ```
 *
 * States: handshake (waits for a HELLO matching the server's offer and under the size
 * limit; answers ACCEPT or CANCEL) → transfer (stores chunks, delivers them in order,
 * hashes them, acknowledges with SACK ranges and an advertised window) → finishing (every
 * byte arrived and the SHA-256 matched: `verified`; the driver saves the file and calls
 * commit()) → draining (DONE sent; repeats it to each probe) → closed (on DONE_ACK, or
 * after a bounded linger).
 *
 * @module
 */

import { createHash, type Hash } from "node:crypto";
import {
  ACK_DECIMATION_AFTER,
  ACK_EVERY_BYTES,
  DATA_OVERHEAD,
  DEFAULT_ACK_EVERY,
  DEFAULT_MAX_ACK_DELAY_MS,
  DEFAULT_RECEIVE_WINDOW_BYTES,
  HEADER_SIZE,
  INITIAL_ACK_EVERY,
  MAX_ACK_RANGES,
  MAX_CHUNKS,
  MAX_PAYLOAD_SIZE,
  MAX_WINDOW_CHUNKS,
  MIN_DRAIN_MS,
  PROGRESS_INTERVAL_MS,
  TAG_SIZE,
} from "./constants.ts";
import { minTime, TransferMachine, type TransferMachineOptions } from "./_machine.ts";
import {
  CancelCode,
  decodeData,
  decodeHello,
  encodeAccept,
  encodeAck,
  type HelloFrame,
  type OpenedPacket,
  PacketType,
  toHex,
} from "./packet.ts";
import { FROM_RECEIVER } from "./packet_protection.ts";
import { RangeSet } from "./range_set.ts";

/** What the server announced: the receiver accepts only a HELLO matching it. */
export interface ExpectedFile {
  fileName: string;
  size: number;
  /** SHA-256, bytes or 64 hex digits. */
  sha256: Uint8Array | string;
}

/** Options of {@linkcode TransferReceiver}. */
export interface ReceiverOptions extends TransferMachineOptions {
  /** The offer as announced by the server. */
  expected: ExpectedFile;
  /** Refuse files larger than this (bytes). Default: no limit. */
  maxFileSize?: number;
  /** Memory for out-of-order and not yet written data (bytes). Default 8 MiB. */
  receiveWindowBytes?: number;
  /**
   * Acknowledge after this many in-order DATA packets once more than ACK_DECIMATION_AFTER
   * arrived in order in a row (every 2 before). Default 8.
   */
  ackEvery?: number;
  /** Acknowledge at most this long after the first unacknowledged packet (ms). Default 2. */
  maxAckDelayMs?: number;
  /**
   * More local UDP ports that take this transfer's datagrams, offered to the sender in
   * ACCEPT (see docs/transfer.md § Striping). Default none.
   */
  extraPorts?: readonly number[];
  /**
   * Answer a valid HELLO with ACCEPT but open no window until {@link
   * TransferReceiver.release} is called: the sender waits (its probes keep both sides
   * alive) while the user decides, or while the driver prepares the file and finds what
   * an earlier attempt left ({@link TransferReceiver.resume}). Default false.
   */
  hold?: boolean;
}

/** A piece of the file, in order, ready to be written. */
export interface FileData {
  offset: number;
  bytes: Uint8Array;
}

const ACK_FIXED_BYTES = 22;
/** Out-of-order arrivals an ACK reports first (striping: one ACK covers up to 8 datagrams). */
const RECENT_CHUNKS = 8;

/** Sans-IO receiver of one file. */
export class TransferReceiver extends TransferMachine {
  readonly #expected: { fileName: string; size: number; sha256: string };
  readonly #maxFileSize: number;
  readonly #windowBytes: number;
  readonly #ackEvery: number;
  readonly #maxAckDelay: number;
  readonly #extraPorts: number[];
  #size = 0;
  #chunkSize = 0;
  #chunkCount = 0;
  #maxRanges = 0;
  #windowChunks = 0;

  #cumAck = 0;
  #highest = -1;
  readonly #received = new RangeSet();
  /** Chunks stored out of order since the last ACK, newest first (at most RECENT_CHUNKS). */
  #recent: number[] = [];
  readonly #buffer = new Map<number, Uint8Array>();
  /**
   * Chunk-sized arrays no longer in use: a chunk is copied into one when it arrives and
   * the array comes back here when the chunk is pulled. Last in, first out, so only as
   * many arrays exist (and as much fresh memory is touched) as chunks were ever held at
   * once, which the window bounds; one array per datagram would cost an allocation each.
   */
  readonly #free: Uint8Array[] = [];
  #limit = 0;
  #largestPnAt = 0;
  /** No window is opened while held (see the `hold` option). */
  #held: boolean;

  #acceptDue = false;
  #doneDue = false;
  #ackNow = false;
  #ackPending = 0;
  /**
   * New chunks that arrived in order since the transfer began or since the last gap, hole
   * or duplicate; ACKs are decimated once it exceeds ACK_DECIMATION_AFTER.
   */
  #inOrderRun = 0;
  #ackAt: number | undefined;

  #deliveries: FileData[] = [];
  #deliveryHead = 0;
  #unpulled = 0;
  #delivered = 0;
  #hash: Hash = createHash("sha256");

  /**
   * @param options transfer, expected file and limits.
   * @param now current time in ms.
   */
  constructor(options: ReceiverOptions, now: number) {
    super(options, FROM_RECEIVER, now);
    const sha = options.expected.sha256;
    this.#expected = {
      fileName: options.expected.fileName,
      size: options.expected.size,
      sha256: typeof sha === "string" ? sha.toLowerCase() : toHex(sha),
    };
    this.#maxFileSize = options.maxFileSize ?? Infinity;
    this.#windowBytes = options.receiveWindowBytes ?? DEFAULT_RECEIVE_WINDOW_BYTES;
    this.#ackEvery = Math.max(1, options.ackEvery ?? DEFAULT_ACK_EVERY);
    this.#maxAckDelay = options.maxAckDelayMs ?? DEFAULT_MAX_ACK_DELAY_MS;
    this.#extraPorts = [...(options.extraPorts ?? [])];
    this.#held = options.hold ?? false;
  }

  /** Whether the window is held shut (see the `hold` option). */
  get held(): boolean {
    return this.#held;
  }

  /**
   * SHA-256 of the bytes delivered so far (hex), while the transfer runs: a checkpoint
   * of the file's prefix that a later attempt can verify a saved part against.
   */
  receivedDigest(): string {
    return this.#hash.copy().digest("hex");
  }

  /** Bytes per DATA chunk, as the sender's HELLO said (0 before it). */
  get chunkSize(): number {
    return this.#chunkSize;
  }

  /**
   * Opens the window of a held transfer: the sender starts sending (after the chunks
   * given to resume(), if any). Does nothing when not held or after the transfer ended.
   */
  release(now: number): void {
    if (!this.#held) return;
    this.#held = false;
    if (this.stateValue !== "transfer") return;
    this.#ackNow = true; // the window update
    this.now = Math.max(this.now, now);
  }

  /**
   * Before release(): the first `bytes` of the file are already saved (an earlier,
   * interrupted transfer of the same file), and `hash` has been fed exactly those bytes.
   * `bytes` must be whole chunks ({@link TransferReceiver.chunkSize}) or the whole file.
   * The receiver acknowledges them at once, so the sender sends only the rest; chunks
   * arriving below them are duplicates.
   * @throws {Error} when not held, not past a valid HELLO, or data has been received;
   * {RangeError} when `bytes` is not whole chunks.
   */
  resume(bytes: number, hash: Hash, now: number): void {
    if (!this.#held || this.stateValue !== "transfer" || this.#cumAck !== 0 || this.#highest >= 0) {
      throw new Error("Cannot resume transfer: only a held transfer that received no data can");
    }
    const whole = bytes >= this.#size;
    if (!whole && (bytes < 0 || bytes % this.#chunkSize !== 0)) {
      throw new RangeError(`Cannot resume transfer: ${bytes} bytes are not whole chunks`);
    }
    const have = whole ? this.#chunkCount : bytes / this.#chunkSize;
    this.#hash = hash;
    this.#cumAck = have;
    this.#highest = have - 1;
    this.#delivered = whole ? this.#size : bytes;
    this.#limit = have;
    this.#ackNow = true;
    this.progress(now, this.#delivered, this.#size, PROGRESS_INTERVAL_MS, true);
    if (have === this.#chunkCount) this.#finish(now);
  }

  /** Bytes received in order so far. */
  get bytesReceived(): number {
    return this.#delivered;
  }

  /** File size announced in the offer. */
  get size(): number {
    return this.#expected.size;
  }

  /** Bytes delivered but not yet taken with pollData(). */
  get bytesPending(): number {
    return this.#unpulled;
  }

  /**
   * Takes the next in-order piece of file data, or undefined. The bytes are a view of the
   * machine's buffer, valid until the next handleDatagram(): copy or write them first.
   */
  pollData(): FileData | undefined {
    if (this.#deliveryHead >= this.#deliveries.length) return undefined;
    const piece = this.#deliveries[this.#deliveryHead++];
    if (this.#deliveryHead === this.#deliveries.length) {
      this.#deliveries = [];
      this.#deliveryHead = 0;
    }
    this.#unpulled -= piece.bytes.length;
    // Reusable from the next datagram on, as documented; the short last chunk is not.
    if (piece.bytes.length === this.#chunkSize) this.#free.push(piece.bytes);
    return piece;
  }

  /**
   * The driver saved the verified file: send DONE and report `done`.
   * @throws {Error} when called before `verified`.
   */
  commit(now: number): void {
    if (this.stateValue !== "finishing") {
      throw new Error(`Cannot commit transfer: state is "${this.stateValue}"`);
    }
    this.#doneDue = true;
    this.emit({ type: "done" });
    // As long as the sender may probe for DONE before it gives up (DONE_ACK ends it sooner).
    this.drain(now, Math.max(MIN_DRAIN_MS, this.idleTimeoutMs));
  }

  protected onPacket(packet: OpenedPacket, now: number): boolean {
    if (packet.pn === this.replay.highest) this.#largestPnAt = now;
    switch (packet.type) {
      case PacketType.Hello:
        if (this.stateValue === "handshake") this.#onHello(decodeHello(packet.body), now);
        else if (this.stateValue === "draining") this.#doneDue = true;
        else this.#acceptDue = true;
        return true;
      case PacketType.Data:
        if (this.stateValue === "transfer") return this.#onData(packet.body, now);
        if (this.stateValue === "finishing") this.#ackNow = true;
        else if (this.stateValue === "draining") this.#doneDue = true;
        else return false;
        this.stats.duplicateChunks++;
        return true;
      case PacketType.DoneAck:
        // The sender has our DONE: stop lingering.
        if (this.stateValue !== "draining") return false;
        this.close();
        return true;
      case PacketType.Ping:
        if (this.stateValue === "draining") this.#doneDue = true;
        else if (this.stateValue === "handshake") return false;
        else this.#ackNow = true;
        return true;
      default:
        return false;
    }
  }

  #onHello(hello: HelloFrame, now: number): void {
    const expected = this.#expected;
    if (
      hello.fileName !== expected.fileName || hello.size !== expected.size ||
      toHex(hello.sha256) !== expected.sha256
    ) {
      this.fail(
        CancelCode.OfferMismatch,
        "Cannot accept file: the sender's HELLO does not match the announced offer",
        false,
        now,
        "HELLO does not match the offer",
      );
      return;
    }
    if (hello.size > this.#maxFileSize) {
      const reason = `file of ${hello.size} bytes exceeds the limit of ${this.#maxFileSize} bytes`;
      this.fail(CancelCode.TooLarge, `Cannot accept file: ${reason}`, false, now, reason);
      return;
    }
    const chunkCount = Math.ceil(hello.size / hello.chunkSize);
    if (hello.chunkSize + DATA_OVERHEAD > MAX_PAYLOAD_SIZE || chunkCount > MAX_CHUNKS) {
      this.fail(
        CancelCode.Protocol,
        `Cannot accept file: chunk size ${hello.chunkSize} is not supported`,
        false,
        now,
        "unsupported chunk size",
      );
      return;
    }
    this.#size = hello.size;
    this.#chunkSize = hello.chunkSize;
    this.#chunkCount = chunkCount;
    // Keep ACKs no larger than the sender's own datagrams, so they fit the same path.
    const ackBudget = Math.min(this.payloadSize, hello.chunkSize + DATA_OVERHEAD) - HEADER_SIZE -
      TAG_SIZE - ACK_FIXED_BYTES;
    this.#maxRanges = Math.max(1, Math.min(MAX_ACK_RANGES, Math.floor(ackBudget / 8)));
    this.#windowChunks = Math.max(
      2,
      Math.min(MAX_WINDOW_CHUNKS, Math.floor(this.#windowBytes / hello.chunkSize)),
    );
    this.#limit = this.#held ? 0 : Math.min(chunkCount, this.#windowChunks);
    this.stateValue = "transfer";
    this.#acceptDue = true;
    this.emit({ type: "accepted" });
    if (chunkCount === 0) this.#finish(now);
  }

  #onData(body: Uint8Array, now: number): boolean {
    const { chunk, data: received } = decodeData(body);
    if (chunk >= this.#chunkCount) return false;
    const expectedLength = Math.min(this.#chunkSize, this.#size - chunk * this.#chunkSize);
    if (received.length !== expectedLength) {
      this.stats.droppedMalformed++;
      return true;
    }
    if (chunk < this.#cumAck || this.#buffer.has(chunk)) {
      this.stats.duplicateChunks++;
      this.#inOrderRun = 0;
      this.#ackNow = true;
      return true;
    }
    if (chunk >= this.#limit) {
      this.stats.beyondWindow++;
      this.#inOrderRun = 0;
      this.#ackNow = true;
      return true;
    }
    // The body may be a view of the caller's receive buffer: keep a copy.
    const slot = this.#free.pop() ?? new Uint8Array(this.#chunkSize);
    const data = received.length === slot.length ? slot : slot.subarray(0, received.length);
    data.set(received);
    if (chunk === this.#cumAck) {
      this.#deliver(data);
      this.#cumAck++;
      while (this.#received.first === this.#cumAck) {
        const end = this.#received.shift()!;
        for (let c = this.#cumAck; c < end; c++) {
          this.#deliver(this.#buffer.get(c)!);
          this.#buffer.delete(c);
        }
        this.#cumAck = end;
      }
    } else {
      this.#buffer.set(chunk, data);
      this.#received.add(chunk, chunk + 1);
      this.#recent.unshift(chunk);
      if (this.#recent.length > RECENT_CHUNKS) this.#recent.pop();
    }
    // Acknowledge at once on reordering (a new gap or a filled hole), else every N packets.
    if (chunk > this.#highest + 1 || chunk < this.#highest) {
      this.#inOrderRun = 0;
      this.#ackNow = true;
    } else {
      this.#inOrderRun++;
      if (
        ++this.#ackPending >= this.#ackSpacing() ||
        this.#ackPending * this.#chunkSize >= ACK_EVERY_BYTES
      ) {
        this.#ackNow = true;
      } else {
        this.#ackAt ??= now + this.#maxAckDelay;
      }
    }
    if (chunk > this.#highest) this.#highest = chunk;
    this.progress(now, this.#delivered, this.#size, PROGRESS_INTERVAL_MS);
    if (this.#cumAck === this.#chunkCount) this.#finish(now);
    return true;
  }

  /**
   * In-order DATA packets per ACK: every 2 at first and after any sign of loss, where the
   * sender's window may be too small to wait for 8 (a loss-driven window on a lossy path
   * can be a few packets, and each ACK held back would stall it for the ACK delay); every
   * `ackEvery` once a long run arrived in order.
   */
  #ackSpacing(): number {
    return this.#inOrderRun <= ACK_DECIMATION_AFTER
      ? Math.min(INITIAL_ACK_EVERY, this.#ackEvery)
      : this.#ackEvery;
  }

  #deliver(bytes: Uint8Array): void {
    this.#hash.update(bytes);
    this.#deliveries.push({ offset: this.#delivered, bytes });
    this.#delivered += bytes.length;
    this.#unpulled += bytes.length;
  }

  /** Every chunk arrived: check the hash. */
  #finish(now: number): void {
    const digest = this.#hash.digest("hex");
    this.#ackNow = true;
    this.progress(now, this.#delivered, this.#size, PROGRESS_INTERVAL_MS, true);
    if (digest !== this.#expected.sha256) {
      this.fail(
        CancelCode.HashMismatch,
        "Cannot accept file: the received data does not match its SHA-256",
        false,
        now,
        "SHA-256 mismatch",
      );
      return;
    }
    this.stateValue = "finishing";
    this.emit({ type: "verified" });
  }

  /** The limit to advertise: window measured from cumAck, less data not yet written. */
  #currentLimit(): number {
    if (this.#held) return this.#limit;
    const room = Math.max(0, this.#windowBytes - this.#unpulled);
    const chunks = Math.min(this.#windowChunks, Math.floor(room / this.#chunkSize));
    return Math.max(this.#limit, Math.min(this.#chunkCount, this.#cumAck + chunks));
  }

  protected pollPacket(now: number): Uint8Array | undefined {
    if (this.#doneDue) {
      this.#doneDue = false;
      return this.seal(PacketType.Done, new Uint8Array(0));
    }
    if (this.stateValue !== "transfer" && this.stateValue !== "finishing") return undefined;
    const ackDelayUs = Math.min(0xffff_ffff, Math.round((now - this.#largestPnAt) * 1000));
    if (this.#acceptDue) {
      this.#acceptDue = false;
      this.#limit = this.#currentLimit();
      return this.seal(
        PacketType.Accept,
        encodeAccept({
          largestPn: this.replay.highest,
          ackDelayUs,
          limit: this.#limit,
          ports: this.#extraPorts,
        }),
      );
    }
    const limit = this.#currentLimit();
    const windowUpdate = limit - this.#limit >= Math.max(1, this.#windowChunks >> 2);
    if (!this.#ackNow && !windowUpdate && (this.#ackAt === undefined || now < this.#ackAt)) {
      return undefined;
    }
    this.#ackNow = false;
    this.#ackPending = 0;
    this.#ackAt = undefined;
    this.#limit = limit;
    // RFC 2018: the ranges holding what just arrived go first, then the highest. A hole
    // filled far below the top is otherwise not reported while more ranges are open than
    // an ACK holds, and the sender, which has seen later packets acknowledged, would deem
    // lost what arrived.
    const ranges: number[] = [];
    this.#received.forEachDescending(this.#maxRanges, (s, e) => ranges.push(s, e), this.#recent);
    this.#recent.length = 0;
    return this.seal(
      PacketType.Ack,
      encodeAck({
        largestPn: this.replay.highest,
        ackDelayUs,
        cumAck: this.#cumAck,
        limit,
        ranges,
      }),
    );
  }

  protected onTimeout(_now: number): void {
    // The ACK timer is served by pollPacket(); nothing else expires here.
  }

  protected machineTimeout(): number | undefined {
    if (this.#ackNow || this.#acceptDue || this.#doneDue) return this.now;
    return minTime(undefined, this.#ackAt);
  }

  protected drainTime(): number {
    return MIN_DRAIN_MS;
  }
}

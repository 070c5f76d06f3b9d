/**
 * What the sender and receiver state machines share: packet protection, replay
 * protection, the idle timeout, cancellation and the closing/draining states, the
 * event queue and the drop counters. Private to shared/transfer.
 *
 * @module
 */

import {
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_PAYLOAD_SIZE,
  MAX_CANCEL_REPEATS,
  MAX_PAYLOAD_SIZE,
  MIN_PAYLOAD_SIZE,
} from "./constants.ts";
import { parseSecret, parseTransferId } from "./keys.ts";
import {
  CancelCode,
  decodeCancel,
  encodeCancel,
  type OpenedPacket,
  PacketCodec,
  PacketError,
  PacketType,
  toHex,
} from "./packet.ts";
import {
  type CipherSuite,
  createPacketProtection,
  DEFAULT_CIPHER_SUITE,
  type Direction,
} from "./packet_protection.ts";
import { ReplayWindow } from "./replay_window.ts";

/** What a state machine reports to its driver through `pollEvent()`. */
export type TransferEvent =
  /** Sender: the receiver accepted the handshake. Receiver: a valid HELLO arrived. */
  | { type: "accepted" }
  /** Bytes acknowledged (sender) or received in order (receiver); at most every 100 ms. */
  | { type: "progress"; bytes: number; total: number }
  /** Receiver: every byte arrived and the SHA-256 matches; call commit() or cancel(). */
  | { type: "verified" }
  /** The transfer completed: the receiver saved the verified file. */
  | { type: "done" }
  /** The transfer failed; `byPeer` when the peer sent the CANCEL. */
  | { type: "failed"; code: CancelCode; reason: string; byPeer: boolean };

/** Life cycle of a machine. */
export type TransferState =
  | "handshake"
  | "transfer"
  | "finishing"
  | "draining"
  | "closing"
  | "closed";

/** Counters kept by each machine. */
export interface TransferStats {
  packetsSent: number;
  bytesSent: number;
  packetsReceived: number;
  bytesReceived: number;
  dataPacketsSent: number;
  retransmissions: number;
  lostPackets: number;
  spuriousLosses: number;
  rtoExpirations: number;
  duplicateChunks: number;
  beyondWindow: number;
  droppedMalformed: number;
  droppedUnauthentic: number;
  droppedReplayed: number;
  droppedUnexpected: number;
}

/** Options both machines take. */
export interface TransferMachineOptions {
  /** 8-byte transfer id chosen by the server (bytes or 16 hex digits). */
  transferId: Uint8Array | string;
  /** 32-byte per-transfer secret (bytes, hex or base64). */
  secret: Uint8Array | string;
  /** Packet protection; both sides must agree. Default chacha20-poly1305. */
  suite?: CipherSuite;
  /** Largest UDP payload this side sends, headers and tag included. Default 1200. */
  payloadSize?: number;
  /** Fail when nothing authentic was heard from the peer for this long (ms). Default 10 000. */
  idleTimeoutMs?: number;
  /**
   * How late the driver's timer may fire (ms). The pacer lets this much sending time
   * go in one burst so a coarse timer does not cap the rate. Default 1.
   */
  timerGranularityMs?: number;
}

function emptyStats(): TransferStats {
  return {
    packetsSent: 0,
    bytesSent: 0,
    packetsReceived: 0,
    bytesReceived: 0,
    dataPacketsSent: 0,
    retransmissions: 0,
    lostPackets: 0,
    spuriousLosses: 0,
    rtoExpirations: 0,
    duplicateChunks: 0,
    beyondWindow: 0,
    droppedMalformed: 0,
    droppedUnauthentic: 0,
    droppedReplayed: 0,
    droppedUnexpected: 0,
  };
}

/** Base class of TransferSender and TransferReceiver. */
export abstract class TransferMachine {
  /** Transfer id as 16 hex digits. */
  readonly id: string;
  /** Counters; read-only for callers. */
  readonly stats: TransferStats = emptyStats();
  /** UDP payload size this side sends at most. */
  readonly payloadSize: number;
  protected codec: PacketCodec;
  readonly #local: Direction;
  readonly #suite: CipherSuite;
  protected readonly replay = new ReplayWindow();
  protected readonly idleTimeoutMs: number;
  protected nextPn = 0;
  protected lastHeard: number;
  protected now: number;
  protected stateValue: TransferState = "handshake";
  #events: TransferEvent[] = [];
  #eventHead = 0;
  #control: Array<{ type: PacketType; body: Uint8Array }> = [];
  #closeAt: number | undefined;
  #cancelRepeats = 0;
  #cancelBody: Uint8Array = new Uint8Array();
  #lastProgressAt = -Infinity;
  /** Where pollTransmit()'s datagram may be built; used by seal() once. */
  #out: Uint8Array | undefined;

  protected constructor(options: TransferMachineOptions, local: Direction, now: number) {
    const payloadSize = options.payloadSize ?? DEFAULT_PAYLOAD_SIZE;
    if (
      !Number.isInteger(payloadSize) || payloadSize < MIN_PAYLOAD_SIZE ||
      payloadSize > MAX_PAYLOAD_SIZE
    ) {
      throw new RangeError(
        `Cannot create transfer: payload size ${payloadSize} is outside ${MIN_PAYLOAD_SIZE}..${MAX_PAYLOAD_SIZE}`,
      );
    }
    this.payloadSize = payloadSize;
    const id = parseTransferId(options.transferId);
    this.id = toHex(id);
    const protection = createPacketProtection(
      parseSecret(options.secret),
      options.suite ?? DEFAULT_CIPHER_SUITE,
    );
    this.codec = new PacketCodec(id, protection, local);
    this.#local = local;
    this.#suite = options.suite ?? DEFAULT_CIPHER_SUITE;
    this.idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.lastHeard = now;
    this.now = now;
  }

  /**
   * Replaces the transfer secret before any packet went either way: the endpoint derives
   * the secret both peers agree on (a key exchange in its probes) after the machine was
   * made. Restarts the idle timer: waiting for a path is not the peer being silent.
   * @throws {Error} once a packet was sent or received.
   */
  rekey(secret: Uint8Array, now: number): void {
    if (this.nextPn !== 0 || this.stats.packetsReceived !== 0) {
      throw new Error("Cannot rekey transfer: packets were exchanged already");
    }
    const protection = createPacketProtection(parseSecret(secret), this.#suite);
    this.codec = new PacketCodec(parseTransferId(this.id), protection, this.#local);
    this.#advance(now);
    this.lastHeard = now;
  }

  /** Current life-cycle state. */
  get state(): TransferState {
    return this.stateValue;
  }

  /** Whether the machine is finished and its driver may forget it. */
  get isClosed(): boolean {
    return this.stateValue === "closed";
  }

  /**
   * Feeds a datagram that arrived for this transfer. Never throws: datagrams that are
   * malformed, fail authentication, were seen before or make no sense in the current
   * state are dropped and counted in `stats`. Returns whether it was authentic and fresh.
   */
  handleDatagram(bytes: Uint8Array, now: number): boolean {
    this.#advance(now);
    if (this.stateValue === "closed") {
      this.stats.droppedUnexpected++;
      return false;
    }
    let packet: OpenedPacket;
    try {
      const pn = this.codec.peekPacketNumber(bytes);
      if (!this.replay.isFresh(pn)) {
        this.stats.droppedReplayed++;
        return false;
      }
      packet = this.codec.open(bytes);
      this.replay.mark(pn);
    } catch (e) {
      if (e instanceof PacketError && e.kind === "unauthentic") this.stats.droppedUnauthentic++;
      else this.stats.droppedMalformed++;
      return false;
    }
    this.lastHeard = now;
    this.stats.packetsReceived++;
    this.stats.bytesReceived += bytes.length;
    try {
      if (packet.type === PacketType.Cancel) {
        this.#onCancel(packet.body);
      } else if (this.stateValue === "closing") {
        if (this.#cancelRepeats < MAX_CANCEL_REPEATS) {
          this.#cancelRepeats++;
          this.queueControl(PacketType.Cancel, this.#cancelBody);
        }
      } else if (!this.onPacket(packet, now)) {
        this.stats.droppedUnexpected++;
      }
    } catch (e) {
      // An authentic packet with a malformed body: the peer is broken, not an attacker.
      if (e instanceof PacketError) this.stats.droppedMalformed++;
      else throw e;
    }
    return true;
  }

  /** Tells the machine the time is now `now`; call when `pollTimeout()` has passed. */
  handleTimeout(now: number): void {
    this.#advance(now);
    if (this.stateValue === "closed") return;
    if (this.#closeAt !== undefined && now >= this.#closeAt) {
      this.stateValue = "closed";
      this.#closeAt = undefined;
      return;
    }
    if (this.stateValue === "closing" || this.stateValue === "draining") return;
    if (now - this.lastHeard >= this.idleTimeoutMs) {
      const seconds = (this.idleTimeoutMs / 1000).toFixed(1);
      this.fail(
        CancelCode.Timeout,
        `Cannot complete transfer: no answer from peer for ${seconds} s`,
        false,
        now,
        "peer stopped answering",
      );
      return;
    }
    this.onTimeout(now);
  }

  /**
   * Returns the next datagram to send now, or undefined when nothing is due.
   *
   * With `out`, the datagram is built in it when it fits (the result is then a view of
   * `out`): a driver that recycles its send buffers saves a fresh array per datagram.
   * The caller must not reuse `out` while the datagram is still being sent.
   */
  pollTransmit(now: number, out?: Uint8Array): Uint8Array | undefined {
    this.#advance(now);
    if (this.stateValue === "closed") return undefined;
    this.#out = out;
    try {
      const control = this.#control.shift();
      if (control !== undefined) return this.seal(control.type, control.body);
      if (this.stateValue === "closing") return undefined;
      return this.pollPacket(now);
    } finally {
      this.#out = undefined;
    }
  }

  /** Returns the time at which handleTimeout() must be called, or undefined. */
  pollTimeout(): number | undefined {
    if (this.stateValue === "closed") return undefined;
    if (this.#control.length > 0) return this.now;
    let t = this.#closeAt;
    if (this.stateValue !== "closing" && this.stateValue !== "draining") {
      t = minTime(t, this.lastHeard + this.idleTimeoutMs);
      t = minTime(t, this.machineTimeout());
    }
    return t;
  }

  /** Returns the next event, or undefined. */
  pollEvent(): TransferEvent | undefined {
    if (this.#eventHead >= this.#events.length) return undefined;
    const event = this.#events[this.#eventHead++];
    if (this.#eventHead === this.#events.length) {
      this.#events = [];
      this.#eventHead = 0;
    }
    return event;
  }

  /**
   * Abandons the transfer: sends CANCEL with `peerReason` (default `reason`) to the peer and
   * reports `failed` with `reason`. Does nothing once the transfer is over.
   */
  cancel(
    reason: string,
    now: number,
    code: CancelCode = CancelCode.Cancelled,
    peerReason: string = reason,
  ): void {
    this.#advance(now);
    if (this.stateValue === "closed" || this.stateValue === "closing") return;
    if (this.stateValue === "draining") return;
    this.fail(code, `Cannot complete transfer: cancelled (${reason})`, false, now, peerReason);
  }

  /**
   * Fails the transfer with `message` (the user's one line) and tells the peer `code` and
   * `reason`. Does nothing once the transfer is over.
   */
  abort(code: CancelCode, message: string, reason: string, now: number): void {
    this.#advance(now);
    if (this.stateValue === "closed" || this.stateValue === "closing") return;
    if (this.stateValue === "draining") return;
    this.fail(code, message, false, now, reason);
  }

  /** Emits `failed` and enters closing, sending CANCEL unless the peer cancelled. */
  protected fail(
    code: CancelCode,
    message: string,
    byPeer: boolean,
    now: number,
    peerReason?: string,
  ): void {
    this.emit({ type: "failed", code, reason: message, byPeer });
    if (byPeer) {
      this.stateValue = "closed";
      return;
    }
    this.#cancelBody = encodeCancel({ code, reason: peerReason ?? message });
    this.queueControl(PacketType.Cancel, this.#cancelBody);
    this.stateValue = "closing";
    this.#closeAt = now + this.drainTime();
  }

  /** Enters draining: answer retransmissions for a while, then close. */
  protected drain(now: number, duration: number): void {
    this.stateValue = "draining";
    this.#closeAt = now + duration;
  }

  /** Enters closed at once. */
  protected close(): void {
    this.stateValue = "closed";
    this.#closeAt = undefined;
  }

  protected emit(event: TransferEvent): void {
    this.#events.push(event);
  }

  /** Emits a progress event unless one was emitted within PROGRESS_INTERVAL_MS. */
  protected progress(now: number, bytes: number, total: number, interval: number, force = false) {
    if (!force && now - this.#lastProgressAt < interval) return;
    this.#lastProgressAt = now;
    this.emit({ type: "progress", bytes, total });
  }

  protected queueControl(type: PacketType, body: Uint8Array): void {
    this.#control.push({ type, body });
  }

  /** Seals a packet with the next packet number and counts it. */
  protected seal(type: PacketType, body: Uint8Array, extra?: Uint8Array): Uint8Array {
    const datagram = this.codec.seal(type, this.nextPn++, body, extra, this.#out);
    this.#out = undefined;
    this.stats.packetsSent++;
    this.stats.bytesSent += datagram.length;
    return datagram;
  }

  #advance(now: number): void {
    if (now > this.now) this.now = now;
  }

  #onCancel(body: Uint8Array): void {
    const frame = decodeCancel(body);
    if (this.stateValue === "closing" || this.stateValue === "draining") {
      this.close();
      return;
    }
    const message = frame.code === CancelCode.Declined
      ? `Cannot complete transfer: ${frame.reason || "the receiver declined it"}`
      : `Cannot complete transfer: peer cancelled (${frame.reason || "no reason given"})`;
    this.fail(frame.code, message, true, this.now);
  }

  /** Handles an authentic packet; returns false when it was unexpected in this state. */
  protected abstract onPacket(packet: OpenedPacket, now: number): boolean;
  /** Machine-specific timers. */
  protected abstract onTimeout(now: number): void;
  /** Machine-specific transmissions. */
  protected abstract pollPacket(now: number): Uint8Array | undefined;
  /** Machine-specific next deadline. */
  protected abstract machineTimeout(): number | undefined;
  /** How long to linger in closing after a CANCEL. */
  protected abstract drainTime(): number;
}

/** Minimum of two optional times. */
export function minTime(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a < b ? a : b;
}

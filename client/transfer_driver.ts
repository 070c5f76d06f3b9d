/**
 * The UDP driver of P2P transfers: one `Deno.listenDatagram` socket per client (plus 7
 * more that loopback transfers are striped over) and one timer, running any number of
 * concurrent transfers in both directions. All protocol logic lives in shared/transfer:
 * the sans-IO endpoint (endpoint.ts: demux by transfer id, NAT traversal, paths) and the
 * sender and receiver machines; this file only moves datagrams, file bytes and time
 * between them and the operating system.
 *
 * ```ts
 * import { formatProgress } from "../shared/transfer/mod.ts";
 *
 * declare const offer: TransferOffer; // from the server: id, secret, names, size, SHA-256
 * declare const path: string, peerIp: string, peerUdpPort: number, senderIp: string;
 * const endpoint = await TransferEndpoint.open({ hostname: "0.0.0.0", port: 0, downloadsDir: "." });
 * // announce endpoint.port to the server at login. A sender, before asking for a transfer:
 * const { size, sha256 } = await describeFile(path);
 * console.log(`${size} bytes, SHA-256 ${sha256}`);
 * // once the server brokered it (sender), or announced it (receiver):
 * const h = endpoint.send(offer, path, { hostname: peerIp, port: peerUdpPort });
 * const incoming = endpoint.expect(offer, senderIp);
 * setInterval(() => console.log(formatProgress({ name: h.fileName, ...h.progress() })), 500);
 * const result = await incoming.done; // never rejects
 * if (!result.ok) console.log(result.reason);
 * await endpoint.close();
 * ```
 *
 * Datagrams for unknown transfer ids, from an address where the peer was not heard, with
 * a bad tag, or too short to carry a header are dropped and counted in `stats` (by the
 * endpoint); the machines drop and count the unauthentic, malformed and replayed ones.
 * Received files go to
 * `downloadsDir/SENDER_FILE` via a `.part` file renamed into place only after the
 * SHA-256 matched (see transfer_files.ts); file data never sits in memory beyond the
 * machines' bounded windows plus two 1 MiB staging arrays per receiving transfer. The data
 * path allocates nothing per datagram (docs/transfer.md § File safety).
 *
 * @module
 */

import {
  CancelCode,
  type CipherSuite,
  type CongestionControlName,
  DEFAULT_CIPHER_SUITE,
  DEFAULT_CONGESTION_CONTROL,
  DEFAULT_PAYLOAD_SIZE,
  loadFastAead,
  LOOPBACK_CIPHER_SUITE,
  LOOPBACK_RECEIVE_SOCKETS,
  LOOPBACK_RECEIVE_WINDOW_BYTES,
  MAX_EXTRA_PORTS,
  RateMeter,
  receivedFileName,
  TransferReceiver,
  TransferSender,
  type TransferStats,
} from "../shared/transfer/mod.ts";
import { type Address, isLoopback } from "../shared/address.ts";
import {
  describeNotice,
  Endpoint,
  type EndpointStats as CoreStats,
  type Link,
  type LinkOptions,
} from "../shared/transfer/endpoint.ts";
import type { PathKind } from "../shared/transfer/path.ts";
import {
  type Checkpoint,
  Checkpoints,
  openPart,
  PART_MAX_AGE_MS,
  type PartIdentity,
  partKey,
  removePart,
  removeStaleParts,
  savePartState,
} from "./part_files.ts";
import { commitPartFile, removeQuietly } from "./transfer_files.ts";

export { describeFile, type FileDescription } from "./transfer_files.ts";

/**
 * Default UDP payload size towards a loopback peer (no MTU to respect there): under the
 * 65 507 B UDP limit with room to spare, because per-datagram CPU is what limits a
 * transfer on loopback (docs/transfer.md § Payload size).
 */
export const LOOPBACK_PAYLOAD_SIZE = 60000;
/**
 * A receiver's failures that leave its part for a later attempt: the network or a peer
 * went away, or a side stopped; not a file that is not the one offered.
 */
const RESUMABLE_FAILURES: ReadonlySet<CancelCode> = new Set<CancelCode>([
  CancelCode.Cancelled,
  CancelCode.IoError,
  CancelCode.Protocol,
  CancelCode.Timeout,
]);
/** Largest datagram the socket reads. */
const RECEIVE_BUFFER_SIZE = 65536;
/** A write block is IO_BLOCK plus at most one piece, which is smaller than a datagram. */
const MAX_DATAGRAM_SIZE = RECEIVE_BUFFER_SIZE;
/** File bytes read or written per file-system call. */
const IO_BLOCK = 1024 * 1024;
/** Sends handed to Deno and not yet completed, at most. */
const MAX_PENDING_SENDS = 64;
/** The receiver writes once this much is queued (or the data is complete). */
const WRITE_BATCH = 256 * 1024;
/** Default of `syncEveryBytes`. */
const SYNC_EVERY = 16 * 1024 * 1024;
/** A staging array: a write block plus room for one more piece (smaller than a datagram). */
const STAGING_SIZE = IO_BLOCK + MAX_DATAGRAM_SIZE;
/** close() waits this long, at most, for transfers that are completing (ms). */
const CLOSE_LINGER_MS = 2000;
/** How often close() checks whether they finished (ms). */
const CLOSE_POLL_MS = 5;
/** Recycled file read blocks kept, at most (a sender holds 16 MiB of its file). */
const MAX_FREE_READ_BLOCKS = 24;
/** Receive errors in a row after which the endpoint gives up its socket. */
const MAX_RECEIVE_ERRORS = 100;

/** A transfer as brokered by the chat server. */
export interface TransferOffer {
  /** Transfer id: 16 hex digits, random, chosen by the server. */
  id: string;
  /** Per-transfer secret: 32 bytes as hex or base64. */
  secret: string;
  /** Sending user. */
  from: string;
  /** Receiving user. */
  to: string;
  /** File name as the sender named it (the receiver sanitizes it). */
  fileName: string;
  /** File size in bytes. */
  size: number;
  /** SHA-256 of the file, 64 hex digits. */
  sha256: string;
  /**
   * Packet protection. Default: poly1305 (integrity only) when the peer and the server's
   * UDP port are loopback addresses, else chacha20-poly1305 (encrypted).
   */
  suite?: CipherSuite;
  /**
   * The server's UDP port (its IP address and port), where the peers bind and the relay
   * is; without it the transfer is direct only, to the addresses given.
   */
  server?: Address;
}

/** Options of {@linkcode TransferEndpoint.open}. */
export interface TransferEndpointOptions {
  /** Address to bind, e.g. "0.0.0.0" or "127.0.0.1". */
  hostname: string;
  /** UDP port to bind; 0 lets the OS pick. */
  port: number;
  /** Where received files are saved. */
  downloadsDir: string;
  /** Refuse incoming files above this many bytes. Default: no limit. */
  maxFileSize?: number;
  /**
   * UDP payload size for outgoing transfers. Default 1200, or LOOPBACK_PAYLOAD_SIZE (60 000 B)
   * when the peer is a loopback address.
   */
  payloadSize?: number;
  /** Idle timeout of each transfer (ms). Default 10 000. */
  idleTimeoutMs?: number;
  /**
   * Receive window per incoming transfer (bytes). Default 8 MiB, or 1 MiB for a striped
   * (loopback) transfer: what its sockets' kernel buffers hold.
   */
  receiveWindowBytes?: number;
  /**
   * Striping, between loopback addresses only (other ports may not be reachable through a
   * NAT or a firewall): as a receiver, take a transfer on LOOPBACK_RECEIVE_SOCKETS sockets,
   * offering the extra ports in ACCEPT (each socket has its own kernel receive buffer);
   * as a sender, spread datagrams over the ports a receiver offers. Default true. Turn it
   * off to send through a relay: datagrams to the extra ports would go around it.
   */
  striping?: boolean;
  /**
   * Congestion controller of outgoing transfers. Default "bbr", or "newreno" towards a
   * loopback peer: there nothing is lost at random, every loss is the receiving socket
   * overflowing while its thread is descheduled, and NewReno's loss-driven window ran
   * faster there than BBR's rate model (docs/congestion.md).
   */
  congestionControl?: CongestionControlName;
  /**
   * Send and receive only through the server's relay (no direct path, no own address
   * announced). For benchmarks and tests of the relay. Default false.
   */
  relayOnly?: boolean;
  /**
   * This socket's own addresses to announce to peers (host candidates). Default: the
   * bound address, or for a wildcard the interfaces' addresses of its family (loopback
   * and link-local ones left out); none when the interfaces cannot be read.
   */
  hostCandidates?: Address[];
  /**
   * A receiver makes what it wrote durable in the background every this many bytes, so
   * the sync before the file is renamed into place has little left to do. Default 16 MiB.
   */
  syncEveryBytes?: number;
  /**
   * Parts of interrupted transfers older than this are removed when the endpoint opens
   * (ms). Default 7 days (PART_MAX_AGE_MS).
   */
  partMaxAgeMs?: number;
}

/** Options of {@linkcode TransferEndpoint.expect}. */
export interface ExpectOptions {
  /**
   * Wait for accept() before the sender may send anything (its user is asked); the
   * sender waits, its probes keeping both sides alive. Default false: accepted at once.
   */
  ask?: boolean;
}

/** Progress of one transfer. */
export interface TransferProgress {
  bytes: number;
  total: number;
  /**
   * How the datagrams go: straight to the peer or through the server's relay; undefined
   * while no path was found.
   */
  path?: PathKind;
  /** Relayed: why the relay holds the transfer back, when it said so (a rate cap). */
  relayLimit?: string;
  /** Bytes per second over the last two seconds. */
  rateBps: number;
  /** Seconds left, undefined while unknown. */
  etaSec: number | undefined;
}

/** Outcome of a transfer; `done` resolves with it and never rejects. */
export type TransferResult =
  | {
    ok: true;
    id: string;
    direction: "send" | "receive";
    bytes: number;
    elapsedMs: number;
    /** Receiver: where the file was saved. */
    path?: string;
    /** The network path the transfer ended on. */
    via?: PathKind;
    /** Bytes an earlier, interrupted attempt had moved already, so not sent again. */
    resumedBytes?: number;
  }
  | {
    ok: false;
    id: string;
    direction: "send" | "receive";
    /** One line for the user, `Cannot <action>: <state>`. */
    reason: string;
    code: CancelCode;
  };

/** A transfer in progress. */
export interface TransferHandle {
  readonly id: string;
  readonly direction: "send" | "receive";
  /** File name as offered. */
  readonly fileName: string;
  /** Settles when the transfer ends, successfully or not. */
  readonly done: Promise<TransferResult>;
  /**
   * Abandons the transfer and tells the peer. A receiver keeps what it received for a
   * later attempt to resume, unless `keepPart` is false (its user does not want the file).
   */
  cancel(reason?: string, keepPart?: boolean): void;
  /** Receiver asked for consent (`expect(…, { ask: true })`): lets the sender start. */
  accept(): void;
  /** Receiver asked for consent: refuses the file; the sender is told `reason`. */
  decline(reason?: string): void;
  /** Whether the transfer waits for accept() (receiver) or for the peer to accept (sender). */
  readonly waiting: boolean;
  /** Bytes done, total, rate and ETA. */
  progress(): TransferProgress;
  /** The machine's counters (drops, retransmissions, …), for diagnostics. */
  stats(): TransferStats & {
    srttMs?: number;
    cwndBytes?: number;
    pacingRateBps?: number;
    pacingLatenessMs?: number;
    bytesInFlight?: number;
    /** Sender: how many receiver sockets the datagrams are spread over. */
    stripes?: number;
  };
}

/** What the driver counts besides the sans-IO endpoint's counters. */
interface DriverStats {
  datagramsSent: number;
  /** Dropped by a transfer: unauthentic, malformed, replayed or unexpected. */
  droppedByTransfers: number;
  sendErrors: number;
  receiveErrors: number;
  /** Background syncs of received files begun (see `syncEveryBytes`). */
  backgroundSyncs: number;
}

/**
 * Counters of an endpoint (the sans-IO endpoint's drops and the driver's I/O);
 * transfers keep their own in their machines' `stats`.
 */
export type EndpointStats = CoreStats & DriverStats;

/** State the driver keeps per transfer. */
interface Transfer {
  id: string;
  direction: "send" | "receive";
  machine: TransferSender | TransferReceiver;
  /** The sans-IO endpoint's side of the transfer: demux, address check, paths. */
  link: Link;
  started: number;
  meter: RateMeter;
  settle: (result: TransferResult) => void;
  settled: boolean;
  /** File I/O in progress (read, write, commit): the transfer is removed after it ends. */
  busy: Promise<void> | undefined;
  file: Deno.FsFile | undefined;
  /** Sender: the file's read position. */
  readPosition: number;
  filePath: string | undefined;
  /**
   * Receiver: in-order data copied out of the machine (its views live only until the next
   * datagram), written as one block. Two arrays take turns: one fills while the other is
   * written.
   */
  staging: Uint8Array | undefined;
  staged: number;
  spare: Uint8Array | undefined;
  /** Receiver: bytes written since the last background sync began. */
  unsynced: number;
  /** Receiver: a second handle of the `.part` file, for background syncs. */
  syncFile: Deno.FsFile | undefined;
  /** Receiver: the background sync in progress; it resolves to its error, if any. */
  syncing: Promise<unknown> | undefined;
  verified: boolean;
  /** Receiver: saving the verified file has begun; it is no longer cancelled. */
  committing: boolean;
  savedPath: string | undefined;
  offer: TransferOffer;
  lastDroppedCount: number;
  /** Receiver: whether its user let the file come (asked, or not asked at all). */
  consented: boolean;
  /** Receiver: its user refused the file; the reason the sender is told. */
  declined: string | undefined;
  /** Receiver: the resumable part's identity, key and state; undefined until it is open. */
  part: ReceivingPart | undefined;
  /** Receiver: leave the part for a later attempt when the transfer fails. */
  keepPart: boolean;
  /** Receiver: bytes kept from an earlier attempt. */
  resumedBytes: number;
}

/** What a receiver keeps about its part file to let a later attempt resume. */
interface ReceivingPart {
  identity: PartIdentity;
  /** The key when the part is resumable (no other transfer of the file had it). */
  key: string | undefined;
  statePath: string;
  checkpoints: Checkpoints;
  /** Bytes written to the part. */
  written: number;
  /** A checkpoint of data delivered, to record once it is written. */
  pending: Checkpoint | undefined;
}

/**
 * Packet protection when the offer names none: integrity only between loopback addresses
 * (no one else can see that path), encryption everywhere else. Both peers decide alike:
 * each sees the other's address as the server reported it.
 */
function defaultSuite(peerHost: string, server: Address | undefined): CipherSuite {
  const local = isLoopback(peerHost) && (server === undefined || isLoopback(server.hostname));
  return local ? LOOPBACK_CIPHER_SUITE : DEFAULT_CIPHER_SUITE;
}

function droppedCount(m: TransferSender | TransferReceiver): number {
  const s = m.stats;
  return s.droppedMalformed + s.droppedUnauthentic + s.droppedReplayed + s.droppedUnexpected;
}

/** One UDP socket (plus the striping ones), one timer, any number of transfers. */
export class TransferEndpoint {
  /** Bound UDP port (announce it to the server). */
  readonly port: number;
  readonly #io: DriverStats = {
    datagramsSent: 0,
    droppedByTransfers: 0,
    sendErrors: 0,
    receiveErrors: 0,
    backgroundSyncs: 0,
  };
  /** Demux by transfer id, address checks, paths: the pure part of the endpoint. */
  readonly #core = new Endpoint();
  readonly #conn: Deno.DatagramConn;
  /** Extra receive sockets offered to senders (striping), opened on first use. */
  readonly #extraConns: Deno.DatagramConn[] = [];
  readonly #options: TransferEndpointOptions;
  readonly #transfers = new Map<string, Transfer>();
  /** Keys of the resumable parts open (a second transfer of the same file gets its own). */
  readonly #partKeys = new Set<string>();
  /** Transfers that got datagrams in this turn and are pumped at its end. */
  readonly #due = new Set<Transfer>();
  #timer: ReturnType<typeof setTimeout> | undefined;

  #timerAt = Infinity;
  #pendingSends = 0;
  /** Send buffers not in use; at most MAX_PENDING_SENDS + 1 exist. */
  readonly #freeSlots: Uint8Array[] = [];
  /** Size of a send buffer: the largest payload of any transfer of this endpoint. */
  #slotSize = 0;
  /** File read blocks no longer in use, all of #readBlockSize bytes. */
  readonly #freeReadBlocks: Uint8Array[] = [];
  #readBlockSize = 0;
  #closed = false;
  #closing: Promise<void> | undefined;
  readonly #receiving: Promise<void>[] = [];
  readonly #origin = performance.now();
  /** This socket's own addresses, announced to peers as host candidates. */
  readonly #hostCandidates: Address[];

  private constructor(conn: Deno.DatagramConn, options: TransferEndpointOptions) {
    this.#conn = conn;
    this.#options = options;
    this.port = (conn.addr as Deno.NetAddr).port;
    this.#hostCandidates = options.hostCandidates ?? hostAddresses(options.hostname, this.port);
    this.#receiving.push(this.#receiveLoop(conn));
  }

  /**
   * Binds the UDP socket.
   * @throws {Deno.errors.AddrInUse} and other bind errors.
   */
  static async open(options: TransferEndpointOptions): Promise<TransferEndpoint> {
    const conn = Deno.listenDatagram({
      transport: "udp",
      hostname: options.hostname,
      port: options.port,
    });
    // What transfers interrupted long ago left behind, nobody will resume.
    await removeStaleParts(options.downloadsDir, options.partMaxAgeMs ?? PART_MAX_AGE_MS);
    return new TransferEndpoint(conn, options);
  }

  /** Endpoint-level drop and traffic counters (a snapshot). */
  get stats(): EndpointStats {
    return { ...this.#core.stats, ...this.#io };
  }

  /** Number of transfers still running or finishing. */
  get activeTransfers(): number {
    return this.#transfers.size;
  }

  /**
   * Receiver side: the server announced `offer` to this user, from the sender at
   * `peerHost` (its IP as the server saw it, which decides the default suite and
   * striping). The path is found by probing (shared/transfer/endpoint.ts); datagrams are
   * accepted only from addresses where the sender was heard.
   * @throws {TypeError} on a malformed id/secret or an id already in use.
   */
  expect(offer: TransferOffer, peerHost: string, options: ExpectOptions = {}): TransferHandle {
    const now = this.#now();
    const sockets = this.#striping(peerHost) ? LOOPBACK_RECEIVE_SOCKETS : 1;
    const machine = new TransferReceiver({
      transferId: offer.id,
      secret: offer.secret,
      suite: offer.suite ?? defaultSuite(peerHost, offer.server),
      payloadSize: this.#options.payloadSize ?? DEFAULT_PAYLOAD_SIZE,
      idleTimeoutMs: this.#options.idleTimeoutMs,
      expected: { fileName: offer.fileName, size: offer.size, sha256: offer.sha256 },
      maxFileSize: this.#options.maxFileSize,
      receiveWindowBytes: this.#options.receiveWindowBytes ??
        (sockets > 1 ? LOOPBACK_RECEIVE_WINDOW_BYTES : undefined),
      extraPorts: this.#extraPorts(sockets - 1),
      // No window until the part file is open (and what it kept is known), and the user
      // said yes when asked.
      hold: true,
    }, now);
    const handle = this.#add(
      machine,
      "receive",
      offer,
      (m) => this.#core.addReceiver(m, this.#linkOptions(offer, [], now)),
    );
    this.#transfers.get(machine.id)!.consented = !(options.ask ?? false);
    return handle;
  }

  /** Ports of `count` extra receive sockets, opening the ones missing. */
  #extraPorts(count: number): number[] {
    const wanted = Math.min(Math.max(0, count), MAX_EXTRA_PORTS);
    while (this.#extraConns.length < wanted && this.#closing === undefined) {
      const conn = Deno.listenDatagram({
        transport: "udp",
        hostname: this.#options.hostname,
        port: 0,
      });
      this.#extraConns.push(conn);
      this.#receiving.push(this.#receiveLoop(conn));
    }
    return this.#extraConns.slice(0, wanted).map((c) => (c.addr as Deno.NetAddr).port);
  }

  /**
   * Sender side: sends `filePath` (described by `offer`) to the receiver; `addr` (its
   * address as the server knows it) is the first candidate, the binding with
   * `offer.server` brings the others, and the relay is the fallback.
   * @throws {TypeError} on a malformed id/secret or an id already in use.
   */
  send(offer: TransferOffer, filePath: string, addr: Address): TransferHandle {
    const now = this.#now();
    const payloadSize = this.#options.payloadSize ??
      (isLoopback(addr.hostname) ? LOOPBACK_PAYLOAD_SIZE : DEFAULT_PAYLOAD_SIZE);
    const machine = new TransferSender({
      transferId: offer.id,
      secret: offer.secret,
      suite: offer.suite ?? defaultSuite(addr.hostname, offer.server),
      payloadSize,
      idleTimeoutMs: this.#options.idleTimeoutMs,
      fileName: offer.fileName,
      size: offer.size,
      sha256: offer.sha256,
      releaseData: (bytes) => this.#releaseReadBlock(bytes),
      striping: this.#striping(addr.hostname),
      congestionControl: this.#options.congestionControl ??
        (isLoopback(addr.hostname) ? "newreno" : DEFAULT_CONGESTION_CONTROL),
    }, now);
    const handle = this.#add(
      machine,
      "send",
      offer,
      (m) => this.#core.addSender(m, this.#linkOptions(offer, [addr], now)),
    );
    const t = this.#transfers.get(machine.id)!;
    t.busy = this.#openSource(t, filePath);
    return handle;
  }

  /**
   * Cancels every unfinished transfer (telling the peers), then closes the socket and the
   * timer and settles every handle; unfinished `.part` files stay for a later attempt to
   * resume (see part_files.ts).
   *
   * Transfers that are completing are not cancelled: a receiver whose file is verified or
   * saved, and a sender whose data is all acknowledged and that waits for DONE. They get
   * up to CLOSE_LINGER_MS to finish (like TCP's TIME_WAIT): a saved receiver keeps
   * answering the sender's probes with DONE until the sender confirms it (DONE_ACK), so
   * a lost DONE cannot turn a saved file into a failure on the sender's side.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const start = this.#now();
    for (const t of this.#transfers.values()) {
      if (this.#completing(t)) continue;
      t.machine.cancel("the endpoint is closing", start);
      this.#pump(t, start);
    }
    for (let i = 0; i < CLOSE_LINGER_MS / CLOSE_POLL_MS + 1; i++) {
      if (this.#now() - start >= CLOSE_LINGER_MS) break;
      let lingering = false;
      for (const t of this.#transfers.values()) lingering ||= this.#completing(t);
      if (!lingering) break;
      await new Promise((resolve) => setTimeout(resolve, CLOSE_POLL_MS));
    }
    const now = this.#now();
    for (const t of this.#transfers.values()) {
      // A receiver that began saving its file is never cancelled (see #maybeCommit).
      if (t.committing) continue;
      t.machine.cancel("the endpoint is closing", now);
      this.#pump(t, now);
    }
    await this.#flushSends();
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#conn.close();
    for (const conn of this.#extraConns) conn.close();
    await Promise.all(this.#receiving);
    for (const t of [...this.#transfers.values()]) {
      await t.busy;
      this.#settle(t, {
        ok: false,
        id: t.id,
        direction: t.direction,
        reason: "Cannot complete transfer: the endpoint closed",
        code: CancelCode.Cancelled,
      });
      await this.#discardFile(t);
    }
    this.#transfers.clear();
    for (const t of [...this.#core.links()]) this.#core.remove(t.id);
  }

  /** Whether close() should let the transfer finish rather than cancel it. */
  #completing(t: Transfer): boolean {
    const state = t.machine.state;
    if (t.machine instanceof TransferSender) return state === "finishing";
    return state === "finishing" || state === "draining" || t.committing;
  }

  #linkOptions(offer: TransferOffer, candidates: Address[], now: number): LinkOptions {
    return {
      secret: offer.secret,
      candidates,
      server: offer.server,
      hostCandidates: this.#hostCandidates,
      now,
      connectTimeoutMs: this.#options.idleTimeoutMs,
      relayOnly: this.#options.relayOnly,
    };
  }

  #striping(peerHost: string): boolean {
    return (this.#options.striping ?? true) && isLoopback(peerHost);
  }

  #now(): number {
    return performance.now() - this.#origin;
  }

  #add<M extends TransferSender | TransferReceiver>(
    machine: M,
    direction: "send" | "receive",
    offer: TransferOffer,
    addLink: (machine: M) => Link,
  ): TransferHandle {
    if (this.#closing !== undefined) {
      throw new TypeError("Cannot start transfer: the endpoint is closed");
    }
    const link = addLink(machine); // throws when the id is in use
    // libsodium seals and opens small datagrams at a quarter of node:crypto's cost, for
    // ≈ 12 MiB and 20 ms once per process: loaded with the first transfer, not at start.
    // node:crypto does the work until it is ready (the same bytes either way).
    loadFastAead();
    let settle!: (r: TransferResult) => void;
    const done = new Promise<TransferResult>((resolve) => (settle = resolve));
    const t: Transfer = {
      id: machine.id,
      direction,
      machine,
      link,
      started: this.#now(),
      meter: new RateMeter(),
      settle,
      settled: false,
      busy: undefined,
      file: undefined,
      readPosition: 0,
      filePath: undefined,
      staging: undefined,
      staged: 0,
      spare: undefined,
      unsynced: 0,
      syncFile: undefined,
      syncing: undefined,
      verified: false,
      committing: false,
      savedPath: undefined,
      offer,
      lastDroppedCount: 0,
      consented: true,
      declined: undefined,
      part: undefined,
      keepPart: true,
      resumedBytes: 0,
    };
    if (machine.payloadSize > this.#slotSize) {
      this.#slotSize = machine.payloadSize;
      this.#freeSlots.length = 0; // smaller buffers in flight are dropped when they return
    }
    this.#transfers.set(t.id, t);
    this.#pump(t, this.#now());
    return {
      id: t.id,
      direction,
      fileName: offer.fileName,
      done,
      cancel: (reason = "cancelled by user", keepPart = true) => {
        if (t.committing) return; // too late: the file is being saved
        t.keepPart &&= keepPart;
        t.machine.cancel(reason, this.#now());
        this.#pump(t, this.#now());
      },
      accept: () => {
        if (t.consented || !(t.machine instanceof TransferReceiver)) return;
        t.consented = true;
        if (t.machine.state === "transfer") this.#startPartFile(t);
      },
      decline: (reason = "declined") => {
        if (t.consented || t.machine.isClosed || t.declined !== undefined) return;
        t.keepPart = false;
        t.declined = reason;
        // Before the sender's HELLO there is no path to tell it on: said once it arrives.
        if (t.machine.state !== "handshake") this.#decline(t);
      },
      get waiting() {
        const m = t.machine;
        if (m instanceof TransferReceiver) return !t.consented && !m.isClosed;
        return m.waitingForPeer;
      },
      stats: () => ({
        ...t.machine.stats,
        ...(t.machine instanceof TransferSender
          ? {
            srttMs: t.machine.srtt,
            cwndBytes: t.machine.cwnd,
            pacingRateBps: t.machine.pacingRate * 1000,
            pacingLatenessMs: t.machine.pacingLateness,
            bytesInFlight: t.machine.bytesInFlight,
            stripes: t.link.stripes,
          }
          : {}),
      }),
      progress: () => {
        const now = this.#now();
        const bytes = t.machine instanceof TransferSender
          ? t.machine.bytesAcked
          : t.machine.bytesReceived;
        t.meter.record(now, bytes);
        return {
          bytes,
          total: offer.size,
          path: t.link.path?.kind,
          relayLimit: t.link.path?.kind === "relay" && t.link.relayNotice !== undefined
            ? describeNotice(t.link.relayNotice)
            : undefined,
          rateBps: t.meter.rate(),
          etaSec: t.meter.eta(bytes, offer.size),
        };
      },
    };
  }

  /** Tells the sender its file was refused, and ends the transfer. */
  #decline(t: Transfer): void {
    t.machine.cancel(t.declined ?? "declined", this.#now(), CancelCode.Declined);
    this.#pump(t, this.#now());
  }

  async #receiveLoop(conn: Deno.DatagramConn): Promise<void> {
    const buffer = new Uint8Array(RECEIVE_BUFFER_SIZE);
    let errors = 0;
    while (!this.#closed) {
      let datagram: Uint8Array;
      let from: Deno.NetAddr;
      try {
        const [d, a] = await conn.receive(buffer);
        datagram = d;
        from = a as Deno.NetAddr;
        errors = 0;
      } catch {
        if (this.#closed) return;
        this.#io.receiveErrors++;
        if (++errors >= MAX_RECEIVE_ERRORS) return;
        continue;
      }
      this.#onDatagram(datagram, from);
    }
  }

  #onDatagram(datagram: Uint8Array, from: Deno.NetAddr): void {
    const link = this.#core.handleDatagram(datagram, from, this.#now());
    const t = link && this.#transfers.get(link.id);
    if (t === undefined) return;
    // Pump once after every datagram that arrived in this turn of the event loop (one per
    // socket): one ACK then covers them all.
    this.#due.add(t);
    if (this.#due.size === 1) queueMicrotask(this.#pumpDue);
  }

  readonly #pumpDue = (): void => {
    const now = this.#now();
    for (const t of this.#due) if (!this.#closed) this.#pump(t, now);
    this.#due.clear();
  };

  /** Runs one transfer's machine: timers, file data, datagrams, events. */
  #pump(t: Transfer, now: number): void {
    const m = t.machine;
    t.link.handleTimeout(now);
    if (m instanceof TransferSender) this.#feedSender(t, m);
    else this.#drainReceiver(t, m);
    this.#transmit(t, now);
    for (let e = m.pollEvent(); e !== undefined; e = m.pollEvent()) {
      switch (e.type) {
        case "progress":
          t.meter.record(now, e.bytes);
          break;
        case "accepted":
          if (t.declined !== undefined) this.#decline(t);
          else if (m instanceof TransferReceiver && t.consented) this.#startPartFile(t);
          break;
        case "verified":
          t.verified = true;
          this.#drainReceiver(t, m as TransferReceiver);
          this.#maybeCommit(t);
          break;
        case "done":
          this.#settle(t, {
            ok: true,
            id: t.id,
            direction: t.direction,
            bytes: t.offer.size,
            elapsedMs: now - t.started,
            path: t.savedPath,
            via: t.link.path?.kind,
            resumedBytes: t.machine instanceof TransferSender
              ? t.machine.bytesResumed
              : t.resumedBytes,
          });
          break;
        case "failed":
          // A part of the wrong file, or one its user does not want, is not kept.
          if (!RESUMABLE_FAILURES.has(e.code)) t.keepPart = false;
          this.#settle(t, {
            ok: false,
            id: t.id,
            direction: t.direction,
            reason: e.reason,
            code: e.code,
          });
          this.#chain(t, () => this.#discardFile(t));
          break;
      }
    }
    const dropped = droppedCount(m);
    this.#io.droppedByTransfers += dropped - t.lastDroppedCount;
    t.lastDroppedCount = dropped;
    if (m.isClosed && t.busy === undefined) {
      this.#transfers.delete(t.id);
      this.#core.remove(t.id);
      if (t.file !== undefined) this.#chain(t, () => this.#discardFile(t));
    }
    this.#schedule();
  }

  #transmit(t: Transfer, now: number): void {
    if (this.#closed) return;
    while (this.#pendingSends < MAX_PENDING_SENDS) {
      // Datagrams are built in recycled buffers: a fresh 16 KiB array per datagram costs
      // more than sealing it (allocation, zeroing, page faults, GC).
      const slot = this.#freeSlots.pop() ?? new Uint8Array(this.#slotSize);
      const transmit = t.link.pollTransmit(now, slot);
      if (transmit === undefined) {
        this.#freeSlots.push(slot);
        break;
      }
      this.#pendingSends++;
      this.#io.datagramsSent++;
      const to = { transport: "udp" as const, ...transmit.to };
      this.#conn.send(transmit.bytes, to).then(
        () => this.#onSent(slot),
        () => this.#onSendFailed(slot),
      );
    }
  }

  /** A send completed: its buffer can be reused. */
  #onSent(slot: Uint8Array): void {
    if (slot.length === this.#slotSize) this.#freeSlots.push(slot);
    this.#pendingSends--;
    if (this.#pendingSends === MAX_PENDING_SENDS / 2) this.#pumpAll();
  }

  #onSendFailed(slot: Uint8Array): void {
    this.#io.sendErrors++;
    this.#onSent(slot);
  }

  async #flushSends(): Promise<void> {
    for (let i = 0; i < 100 && this.#pendingSends > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }

  #pumpAll(): void {
    if (this.#closed) return;
    const now = this.#now();
    for (const t of [...this.#transfers.values()]) this.#pump(t, now);
  }

  /**
   * Arms the one timer for the earliest deadline of any transfer. An armed timer that
   * fires earlier is kept: a spurious wake-up costs one pump, re-arming per datagram more.
   */
  #schedule(): void {
    if (this.#closed) return;
    const next = this.#core.pollTimeout() ?? Infinity;
    if (next >= this.#timerAt) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerAt = next;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      this.#pumpAll();
    }, Math.max(0, next - this.#now()));
  }

  /** Runs `task` after the transfer's current file work; pumps when it ends. */
  #chain(t: Transfer, task: () => Promise<void>): void {
    const previous = t.busy ?? Promise.resolve();
    const next = previous.then(task).catch((e) => this.#ioFailed(t, e)).finally(() => {
      if (t.busy === next) t.busy = undefined;
      if (!this.#closed) this.#pump(t, this.#now());
    });
    t.busy = next;
  }

  #ioFailed(t: Transfer, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    t.committing = false; // the file was not saved
    // The OS's message names local paths: it stays here; the peer learns only the kind.
    t.machine.cancel(`file error: ${message}`, this.#now(), CancelCode.IoError, "file error");
  }

  #settle(t: Transfer, result: TransferResult): void {
    if (t.settled) return;
    t.settled = true;
    t.settle(result);
  }

  // --- sender file reading --------------------------------------------------------------

  async #openSource(t: Transfer, path: string): Promise<void> {
    try {
      t.file = await Deno.open(path, { read: true });
    } catch (e) {
      this.#ioFailed(t, e);
    } finally {
      t.busy = undefined;
      this.#pump(t, this.#now());
    }
  }

  /**
   * Reads go in blocks of whole chunks, so that no chunk straddles two blocks (the machine
   * would copy it), into recycled arrays: a fresh 1 MiB array per read costs page faults,
   * zeroing and garbage collection.
   */
  #feedSender(t: Transfer, m: TransferSender): void {
    if (t.busy !== undefined || t.file === undefined || m.isClosed) return;
    const want = m.wantData();
    if (want === undefined) return;
    const block = Math.max(1, Math.floor(IO_BLOCK / m.chunkSize)) * m.chunkSize;
    const last = want.offset + want.length === m.size;
    // Wait for room for a whole block, unless the send buffer is too small for that.
    if (want.length < block && !last && 2 * block <= m.sendBufferBytes) return;
    const file = t.file;
    this.#chain(t, async () => {
      const fit = Math.min(want.length, block);
      const length = last && fit === want.length ? fit : fit - (fit % m.chunkSize);
      const bytes = this.#readBlock(block).subarray(0, length);
      // The machine asks for the file in order, so the read position is usually right.
      if (t.readPosition !== want.offset) await file.seek(want.offset, Deno.SeekMode.Start);
      let filled = 0;
      while (filled < length) {
        const n = await file.read(bytes.subarray(filled));
        if (n === null) throw new Error(`file is shorter than the ${t.offer.size} bytes offered`);
        filled += n;
      }
      t.readPosition = want.offset + length;
      if (!m.isClosed) m.pushData(want.offset, bytes);
    });
  }

  #readBlock(size: number): Uint8Array {
    if (size !== this.#readBlockSize) {
      this.#readBlockSize = size;
      this.#freeReadBlocks.length = 0;
    }
    return this.#freeReadBlocks.pop() ?? new Uint8Array(size);
  }

  #releaseReadBlock(bytes: Uint8Array): void {
    const whole = bytes.buffer.byteLength === this.#readBlockSize && bytes.byteOffset === 0;
    if (whole && this.#freeReadBlocks.length < MAX_FREE_READ_BLOCKS) {
      this.#freeReadBlocks.push(new Uint8Array(bytes.buffer as ArrayBuffer));
    }
  }

  // --- receiver file writing ------------------------------------------------------------

  /**
   * Opens the part (resuming what an earlier attempt of this file left, when its state
   * checks out), tells the machine what it holds, and opens the window.
   */
  #startPartFile(t: Transfer): void {
    if (t.part !== undefined || t.file !== undefined) return;
    const m = t.machine as TransferReceiver;
    const identity: PartIdentity = {
      from: t.offer.from,
      fileName: t.offer.fileName,
      size: t.offer.size,
      sha256: t.offer.sha256,
    };
    const key = partKey(identity);
    const resumable = !this.#partKeys.has(key);
    if (resumable) this.#partKeys.add(key);
    this.#chain(t, async () => {
      const name = receivedFileName(t.offer.from, t.offer.fileName);
      const opened = await openPart(
        this.#options.downloadsDir,
        name,
        identity,
        m.chunkSize,
        resumable ? undefined : t.id,
      );
      t.file = opened.file;
      t.filePath = opened.path;
      t.part = {
        identity,
        key: resumable ? key : undefined,
        statePath: opened.statePath,
        checkpoints: new Checkpoints(opened.checkpoints),
        written: opened.resumeBytes,
        pending: undefined,
      };
      if (!resumable) t.keepPart = false;
      if (m.state !== "transfer") return; // cancelled meanwhile
      t.resumedBytes = opened.resumeBytes;
      if (opened.resumeBytes > 0) m.resume(opened.resumeBytes, opened.hash, this.#now());
      m.release(this.#now());
    });
  }

  #drainReceiver(t: Transfer, m: TransferReceiver): void {
    this.#pullData(t, m);
    // Batch small writes while data streams in; flush everything once it stopped.
    const worth = t.staged >= WRITE_BATCH || m.state !== "transfer";
    if (worth && t.busy === undefined && t.staged > 0 && t.file !== undefined) {
      this.#chain(t, () => this.#writeStaged(t));
    }
  }

  /** Writes what is staged, and what gets staged meanwhile, until nothing is left. */
  async #writeStaged(t: Transfer): Promise<void> {
    while (t.staged > 0 && t.staging !== undefined && t.file !== undefined) {
      const block = t.staging;
      const size = t.staged;
      t.staging = t.spare; // pieces pulled during the write go to the other array
      t.spare = undefined;
      t.staged = 0;
      for (let at = 0; at < size;) at += await t.file.write(block.subarray(at, size));
      t.unsynced += size;
      if (t.part !== undefined) t.part.written += size;
      const every = this.#options.syncEveryBytes ?? SYNC_EVERY;
      if (t.unsynced >= every && t.syncing === undefined) await this.#syncInBackground(t);
      if (t.staging === undefined) t.staging = block;
      else t.spare = block;
      // Let the machine see the freed window and the pump run between blocks.
      if (t.machine instanceof TransferReceiver) {
        if (this.#checkpointWritten(t)) await this.#savePart(t);
        this.#pullData(t, t.machine);
        this.#transmit(t, this.#now()); // a window update, if the machine wants one
      }
    }
    this.#maybeCommit(t);
  }

  /**
   * When everything the machine delivered has been pulled, its running SHA-256 is that of
   * the file's first `bytesReceived` bytes: a checkpoint to be, once they are written, for
   * a later attempt to verify the part against (at most every CHECKPOINT_EVERY_BYTES).
   */
  #captureCheckpoint(t: Transfer, m: TransferReceiver): void {
    const part = t.part;
    if (part === undefined || part.key === undefined || part.pending !== undefined) return;
    if (m.state !== "transfer" || m.bytesPending > 0) return;
    if (!part.checkpoints.due(m.bytesReceived)) return;
    part.pending = [m.bytesReceived, m.receivedDigest()];
  }

  /** The captured checkpoint is written: records it. Returns whether it did. */
  #checkpointWritten(t: Transfer): boolean {
    const part = t.part;
    if (part?.pending === undefined || part.written < part.pending[0]) return false;
    part.checkpoints.record(...part.pending);
    part.pending = undefined;
    return true;
  }

  /** Writes the part's state file (its checkpoints). */
  async #savePart(t: Transfer): Promise<void> {
    const part = t.part;
    if (part === undefined || part.key === undefined) return;
    await savePartState(part.statePath, part.identity, part.checkpoints.list);
  }

  /**
   * Starts making what was written so far durable, without holding up the writes: a sync
   * on the writing handle would queue the next writes behind it, so it runs on a second
   * handle of the same file (a sync covers the file, whichever handle asks). The sync
   * before the rename then has little left to do.
   */
  async #syncInBackground(t: Transfer): Promise<void> {
    // Opened for writing (never written through): Windows flushes only such a handle.
    t.syncFile ??= await Deno.open(t.filePath!, { write: true });
    t.unsynced = 0;
    this.#io.backgroundSyncs++;
    const syncing: Promise<unknown> = t.syncFile.syncData().then(
      () => {
        if (t.syncing === syncing) t.syncing = undefined;
      },
      (e) => e, // kept until the commit or discard collects it
    );
    t.syncing = syncing;
  }

  /** Waits for the background sync and closes its handle; throws the error it met. */
  async #endBackgroundSync(t: Transfer): Promise<void> {
    const error = await t.syncing;
    t.syncing = undefined;
    t.syncFile?.close();
    t.syncFile = undefined;
    if (error !== undefined) throw error;
  }

  /** Copies in-order data from the machine into the staging array while it has room. */
  #pullData(t: Transfer, m: TransferReceiver): void {
    while (t.staged + MAX_DATAGRAM_SIZE <= STAGING_SIZE) {
      const piece = m.pollData();
      if (piece === undefined) break;
      t.staging ??= new Uint8Array(STAGING_SIZE);
      t.staging.set(piece.bytes, t.staged);
      t.staged += piece.bytes.length;
    }
    this.#captureCheckpoint(t, m);
  }

  /** Once verified and fully written: close, move into place, tell the machine. */
  #maybeCommit(t: Transfer): void {
    if (!t.verified || t.staged > 0 || t.savedPath !== undefined) return;
    const m = t.machine as TransferReceiver;
    if (m.bytesPending > 0 || m.state !== "finishing") return;
    t.verified = false;
    this.#chain(t, async () => {
      if (m.state !== "finishing" || t.file === undefined || t.filePath === undefined) return;
      t.committing = true;
      await this.#endBackgroundSync(t);
      await t.file.sync();
      t.file.close();
      t.file = undefined;
      const name = receivedFileName(t.offer.from, t.offer.fileName);
      t.savedPath = await commitPartFile(t.filePath, this.#options.downloadsDir, name);
      t.filePath = undefined;
      t.committing = false;
      if (t.part !== undefined) await removeQuietly(t.part.statePath);
      this.#releasePart(t);
      m.commit(this.#now());
    });
  }

  /** The part's key is free for another transfer of the same file. */
  #releasePart(t: Transfer): void {
    if (t.part?.key !== undefined) this.#partKeys.delete(t.part.key);
    if (t.part !== undefined) t.part.key = undefined;
  }

  async #discardFile(t: Transfer): Promise<void> {
    await this.#endBackgroundSync(t).catch(() => {});
    if (t.file !== undefined) {
      try {
        t.file.close();
      } catch {
        // Already closed.
      }
      t.file = undefined;
    }
    if (t.filePath !== undefined && t.direction === "receive") {
      const part = t.part;
      // Kept for a later attempt to resume, with its checkpoints; else removed.
      if (t.keepPart && part?.key !== undefined) {
        await this.#savePart(t).catch(() => {});
      } else {
        await removePart(t.filePath, part?.statePath ?? `${t.filePath}.state`);
      }
      t.filePath = undefined;
    }
    this.#releasePart(t);
  }
}

/**
 * The addresses a socket bound to `hostname` can be reached at, with its port: the
 * address itself, or for a wildcard the interfaces' addresses of that family (IPv4 for
 * `0.0.0.0`, both for `::`), without loopback and link-local ones.
 */
function hostAddresses(hostname: string, port: number): Address[] {
  if (hostname !== "0.0.0.0" && hostname !== "::") return [{ hostname, port }];
  let interfaces: Deno.NetworkInterfaceInfo[];
  try {
    interfaces = Deno.networkInterfaces();
  } catch {
    return []; // no permission to read them: the reflexive address still works
  }
  return interfaces
    .filter((i) => (i.family === "IPv4" || hostname === "::") && !isLoopback(i.address))
    .filter((i) => !i.address.toLowerCase().startsWith("fe80:"))
    .map((i) => ({ hostname: i.address, port }));
}

/**
 * What the server's UDP port does, as sans-IO code: it answers authenticated binding
 * requests of the peers of a transfer it brokered with the address it saw them at
 * (server-reflexive, as STUN does) and the other peer's candidates, and relays the
 * transfer's datagrams between those two bound addresses when no direct path opens
 * (TURN-like), under per-transfer, total and concurrency caps. It is handed datagrams
 * with their source and the time, and asked what to send; server/udp/service.ts does the
 * socket.
 *
 * ```ts
 * import type { Address } from "../../shared/address.ts";
 *
 * declare const id: string, secret: string, now: number, bytes: Uint8Array, from: Address;
 * declare const socket: { send(bytes: Uint8Array, to: Address): void };
 * const rv = new Rendezvous({ relay: true });
 * rv.register(id, secret, now);               // when /p2pvideo brokers a transfer
 * rv.handleDatagram(bytes, from, now);        // every datagram of the UDP port
 * for (let t; (t = rv.pollTransmit());) socket.send(t.bytes, t.to);
 * ```
 *
 * Rules (docs/transfer.md § Relay):
 * - Only a registered transfer id is served; a BIND_REQUEST must carry a valid tag under
 *   the transfer's control key (only its two peers and this server know the secret) and a
 *   higher seq than the last one of that peer, else it is dropped without an answer.
 *   The answer is never larger than the request, so the port cannot amplify anything.
 * - A datagram is relayed only when it comes from the bound address of one peer of its
 *   transfer, and only to the bound address of the other. The relay never opens the
 *   transfer datagrams: they are sealed with a key it does not know.
 * - Caps: at most `maxTransfers` transfers relay at once; each at most `transferRateBps`,
 *   all together at most `totalRateBps` (token buckets; over them, datagrams are dropped).
 *   A refused transfer's peers get a RELAY_NOTICE saying which cap, at most once a second.
 *
 * @module
 */

import { type Address, addressKey, normalizeAddress } from "../../shared/address.ts";
import {
  type BindRequest,
  ControlCodec,
  ControlType,
  isControlPacket,
  MAX_CANDIDATES,
  peekControlId,
  peekControlType,
  RelayRefusal,
  type Role,
} from "../../shared/transfer/control.ts";
import { peekTransferId } from "../../shared/transfer/packet.ts";
import type { Transmit } from "../../shared/transfer/endpoint.ts";

/** Caps and switches of the relay. */
export interface RelaySettings {
  /** Relay datagrams at all (binding answers are given either way). Default true. */
  relay: boolean;
  /** Transfers relayed at once, at most. Default 32. */
  maxTransfers: number;
  /** Bytes per second one relayed transfer may use (both directions). Default 10 MiB/s. */
  transferRateBps: number;
  /** Bytes per second all relayed transfers together may use. Default 64 MiB/s. */
  totalRateBps: number;
}

/** Defaults of {@link RelaySettings}. */
export const DEFAULT_RELAY_SETTINGS: RelaySettings = {
  relay: true,
  maxTransfers: 32,
  transferRateBps: 10 * 1024 * 1024,
  totalRateBps: 64 * 1024 * 1024,
};

/** A brokered transfer is forgotten this long after its last binding or relayed datagram (ms). */
export const REGISTRATION_IDLE_MS = 120_000;
/** A transfer stops counting against `maxTransfers` after this long without relaying (ms). */
export const RELAY_IDLE_MS = 10_000;
/** Most brokered transfers remembered at once. */
export const MAX_REGISTRATIONS = 65_536;
/** At most one RELAY_NOTICE per transfer per this interval (ms). */
const NOTICE_INTERVAL_MS = 1000;
/** How often expired registrations are swept (ms). */
const SWEEP_INTERVAL_MS = 5000;
/** Token buckets hold this many seconds of their rate. */
const BURST_SECONDS = 0.25;

/** Counters of the UDP port. */
export interface RendezvousStats {
  bindings: number;
  relayedPackets: number;
  relayedBytes: number;
  /** Not a control or transfer datagram, or for a transfer this server did not broker. */
  droppedUnknown: number;
  /** A BIND_REQUEST that failed authentication or was a replay. */
  droppedUnauthentic: number;
  /** A datagram to relay from an address that is not a bound peer of its transfer. */
  droppedNotPeer: number;
  /** Dropped by a cap (or because the relay is off). */
  droppedByCaps: number;
  noticesSent: number;
}

interface Binding {
  address: Address;
  key: string;
  candidates: Address[];
  seq: number;
}

interface Registration {
  id: string;
  codec: ControlCodec;
  sender: Binding | undefined;
  receiver: Binding | undefined;
  lastActivity: number;
  /** When it last relayed a datagram; -Infinity if never. */
  lastRelayed: number;
  relaying: boolean;
  bucket: TokenBucket;
  lastNotice: number;
}

/** A token bucket of bytes. */
class TokenBucket {
  #tokens: number;
  #at: number;
  constructor(readonly rate: number, now: number) {
    this.#tokens = this.capacity;
    this.#at = now;
  }
  get capacity(): number {
    return Math.max(64 * 1024, this.rate * BURST_SECONDS);
  }
  /** Whether `bytes` fit now; takes them if so. */
  take(bytes: number, now: number): boolean {
    this.#tokens = Math.min(this.capacity, this.#tokens + ((now - this.#at) / 1000) * this.rate);
    this.#at = now;
    if (this.#tokens < bytes) return false;
    this.#tokens -= bytes;
    return true;
  }
}

/** The sans-IO binding and relay service of the server's UDP port. */
export class Rendezvous {
  readonly settings: RelaySettings;
  readonly stats: RendezvousStats = {
    bindings: 0,
    relayedPackets: 0,
    relayedBytes: 0,
    droppedUnknown: 0,
    droppedUnauthentic: 0,
    droppedNotPeer: 0,
    droppedByCaps: 0,
    noticesSent: 0,
  };
  readonly #registrations = new Map<string, Registration>();
  readonly #out: Transmit[] = [];
  #outHead = 0;
  #relaying = 0;
  readonly #total: TokenBucket;
  #nextSweep: number;

  constructor(settings: Partial<RelaySettings> = {}, now = 0) {
    this.settings = { ...DEFAULT_RELAY_SETTINGS, ...settings };
    this.#total = new TokenBucket(this.settings.totalRateBps, now);
    this.#nextSweep = now + SWEEP_INTERVAL_MS;
  }

  /** Transfers remembered. */
  get registrations(): number {
    return this.#registrations.size;
  }

  /** Transfers counted as relaying now. */
  get relaying(): number {
    return this.#relaying;
  }

  /**
   * Remembers a transfer the chat server brokered, so its peers may bind and relay.
   * Returns false when too many are remembered (the transfer then gets no UDP help).
   * @throws {TypeError} on a malformed id or secret.
   */
  register(id: string, secret: string | Uint8Array, now: number): boolean {
    const codec = new ControlCodec(id, secret);
    if (this.#registrations.has(codec.id)) return true;
    if (this.#registrations.size >= MAX_REGISTRATIONS) return false;
    this.#registrations.set(codec.id, {
      id: codec.id,
      codec,
      sender: undefined,
      receiver: undefined,
      lastActivity: now,
      lastRelayed: -Infinity,
      relaying: false,
      bucket: new TokenBucket(this.settings.transferRateBps, now),
      lastNotice: -Infinity,
    });
    return true;
  }

  /** A datagram arrived at the UDP port from `from`. */
  handleDatagram(bytes: Uint8Array, from: Address, now: number): void {
    if (isControlPacket(bytes)) {
      const reg = this.#registrations.get(peekControlId(bytes)!);
      if (reg === undefined) {
        this.stats.droppedUnknown++;
        return;
      }
      const type = peekControlType(bytes);
      if (type === ControlType.Probe || type === ControlType.ProbeAck) {
        this.#relay(reg, bytes, from, now);
      } else if (type === ControlType.BindRequest) {
        this.#bind(reg, bytes, from, now);
      } else {
        this.stats.droppedUnknown++;
      }
      return;
    }
    const id = peekTransferId(bytes);
    const reg = id === undefined ? undefined : this.#registrations.get(id);
    if (reg === undefined) {
      this.stats.droppedUnknown++;
      return;
    }
    this.#relay(reg, bytes, from, now);
  }

  /** The next datagram to send, or undefined. Its bytes may be the input datagram's. */
  pollTransmit(): Transmit | undefined {
    if (this.#outHead >= this.#out.length) return undefined;
    const t = this.#out[this.#outHead++];
    if (this.#outHead === this.#out.length) {
      this.#out.length = 0;
      this.#outHead = 0;
    }
    return t;
  }

  /** When handleTimeout() should run next. */
  pollTimeout(): number {
    return this.#nextSweep;
  }

  /** Forgets idle transfers and releases relay slots of transfers that stopped relaying. */
  handleTimeout(now: number): void {
    if (now < this.#nextSweep) return;
    this.#nextSweep = now + SWEEP_INTERVAL_MS;
    for (const reg of this.#registrations.values()) {
      if (reg.relaying && now - reg.lastRelayed >= RELAY_IDLE_MS) this.#stopRelaying(reg);
      if (now - reg.lastActivity >= REGISTRATION_IDLE_MS) {
        this.#stopRelaying(reg);
        this.#registrations.delete(reg.id);
      }
    }
  }

  #bind(reg: Registration, bytes: Uint8Array, from: Address, now: number): void {
    const packet = reg.codec.open(bytes);
    if (packet?.type !== ControlType.BindRequest) {
      this.stats.droppedUnauthentic++;
      return;
    }
    const request: BindRequest = packet.body;
    const previous = reg[request.role];
    if (previous !== undefined && request.seq <= previous.seq) {
      this.stats.droppedUnauthentic++; // a replay, or older than what we have
      return;
    }
    const address = normalizeAddress(from);
    const binding: Binding = {
      address,
      key: addressKey(address),
      candidates: request.candidates.slice(0, MAX_CANDIDATES),
      seq: request.seq,
    };
    reg[request.role] = binding;
    reg.lastActivity = now;
    this.stats.bindings++;
    const peer = reg[other(request.role)];
    const peerCandidates = peer === undefined ? [] : dedupe([peer.address, ...peer.candidates]);
    this.#out.push({
      bytes: reg.codec.seal({
        type: ControlType.BindResponse,
        body: {
          seq: request.seq,
          relay: this.settings.relay,
          reflexive: address,
          peer: peerCandidates,
        },
      }),
      to: address,
    });
  }

  #relay(reg: Registration, bytes: Uint8Array, from: Address, now: number): void {
    const key = addressKey(from);
    const role: Role | undefined = reg.sender?.key === key
      ? "sender"
      : reg.receiver?.key === key
      ? "receiver"
      : undefined;
    if (role === undefined) {
      this.stats.droppedNotPeer++;
      return;
    }
    const target = reg[other(role)];
    if (target === undefined) {
      this.stats.droppedNotPeer++;
      return;
    }
    const refusal = this.#admit(reg, bytes.length, now);
    if (refusal !== undefined) {
      this.stats.droppedByCaps++;
      this.#notice(reg, refusal, now);
      return;
    }
    reg.lastActivity = now;
    reg.lastRelayed = now;
    this.stats.relayedPackets++;
    this.stats.relayedBytes += bytes.length;
    this.#out.push({ bytes, to: target.address });
  }

  /** Why a datagram of `size` bytes may not be relayed now, or undefined when it may. */
  #admit(reg: Registration, size: number, now: number): RelayRefusal | undefined {
    const s = this.settings;
    if (!s.relay) return RelayRefusal.Disabled;
    if (!reg.relaying) {
      if (this.#relaying >= s.maxTransfers) return RelayRefusal.TooManyTransfers;
      reg.relaying = true;
      this.#relaying++;
    }
    if (!reg.bucket.take(size, now)) return RelayRefusal.TransferRate;
    if (!this.#total.take(size, now)) return RelayRefusal.TotalRate;
    return undefined;
  }

  #notice(reg: Registration, code: RelayRefusal, now: number): void {
    if (now - reg.lastNotice < NOTICE_INTERVAL_MS) return;
    reg.lastNotice = now;
    const s = this.settings;
    const limit = code === RelayRefusal.TooManyTransfers
      ? s.maxTransfers
      : code === RelayRefusal.TransferRate
      ? s.transferRateBps
      : code === RelayRefusal.TotalRate
      ? s.totalRateBps
      : 0;
    const bytes = reg.codec.seal({ type: ControlType.RelayNotice, body: { code, limit } });
    for (const peer of [reg.sender, reg.receiver]) {
      if (peer === undefined) continue;
      this.#out.push({ bytes, to: peer.address });
      this.stats.noticesSent++;
    }
  }

  #stopRelaying(reg: Registration): void {
    if (!reg.relaying) return;
    reg.relaying = false;
    this.#relaying--;
  }
}

function other(role: Role): Role {
  return role === "sender" ? "receiver" : "sender";
}

function dedupe(list: Address[]): Address[] {
  const seen = new Set<string>();
  return list.filter((a) => {
    const k = addressKey(a);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/**
 * The server's UDP port: one socket running the sans-IO {@link Rendezvous} (binding
 * answers and the relay), one timer for its sweeps.
 *
 * ```ts
 * declare const id: string, secret: string;
 * const udp = UdpService.open({ hostname: "0.0.0.0", port: 5000 });
 * udp.register(id, secret); // when /p2pvideo brokers a transfer; tell the peers udp.port
 * await udp.close();
 * ```
 *
 * Datagrams are received into recycled buffers and relayed without a copy: a buffer goes
 * back to the pool once every send of its bytes completed. When all are in flight, the
 * loop waits for one before it reads on (the kernel queues, or drops, meanwhile).
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import type { UdpSettings } from "./flags.ts";
import { type RelaySettings, Rendezvous, type RendezvousStats } from "./rendezvous.ts";

/** Options of {@link UdpService.open}. */
export interface UdpServiceOptions {
  hostname: string;
  /** UDP port; 0 lets the OS pick. */
  port: number;
  /** Relay switch and caps; missing fields take their defaults. */
  relay?: Partial<RelaySettings>;
  log?: Logger;
}

/** Largest datagram read. */
const BUFFER_SIZE = 65536;
/** Receive buffers, at most (each in use until its relayed copy was sent). */
const POOL_SIZE = 64;
/** Receive errors in a row after which the port gives up. */
const MAX_RECEIVE_ERRORS = 100;

/** The UDP port of a running server. */
export class UdpService {
  readonly port: number;
  readonly #conn: Deno.DatagramConn;
  readonly #rendezvous: Rendezvous;
  readonly #log: Logger | undefined;
  readonly #origin = performance.now();
  readonly #free: Uint8Array[] = [];
  #allocated = 0;
  #waiting: (() => void) | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  readonly #loop: Promise<void>;
  sendErrors = 0;

  private constructor(conn: Deno.DatagramConn, options: UdpServiceOptions) {
    this.#conn = conn;
    this.port = (conn.addr as Deno.NetAddr).port;
    this.#log = options.log;
    this.#rendezvous = new Rendezvous(options.relay, this.#now());
    this.#schedule();
    this.#loop = this.#receiveLoop();
  }

  /**
   * Binds the port.
   * @throws {Deno.errors.AddrInUse} and other bind errors.
   */
  static open(options: UdpServiceOptions): UdpService {
    const conn = Deno.listenDatagram({
      transport: "udp",
      hostname: options.hostname,
      port: options.port,
    });
    return new UdpService(conn, options);
  }

  /** Whether the relay is on (binding answers are given either way). */
  get relay(): boolean {
    return this.#rendezvous.settings.relay;
  }

  /** Counters of the binding and relay service. */
  get stats(): Readonly<RendezvousStats> {
    return this.#rendezvous.stats;
  }

  /** Transfers relaying now. */
  get relaying(): number {
    return this.#rendezvous.relaying;
  }

  /** Lets the peers of a brokered transfer bind and relay; false when the table is full. */
  register(id: string, secret: string): boolean {
    return this.#rendezvous.register(id, secret, this.#now());
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#conn.close();
    this.#waiting?.();
    await this.#loop;
  }

  #now(): number {
    return performance.now() - this.#origin;
  }

  async #receiveLoop(): Promise<void> {
    let errors = 0;
    while (!this.#closed) {
      const buffer = await this.#buffer();
      if (buffer === undefined) return;
      let datagram: Uint8Array;
      let from: Deno.NetAddr;
      try {
        const [d, a] = await this.#conn.receive(buffer);
        datagram = d;
        from = a as Deno.NetAddr;
        errors = 0;
      } catch (e) {
        this.#release(buffer);
        if (this.#closed) return;
        if (++errors >= MAX_RECEIVE_ERRORS) {
          this.#log?.error("UDP port {port} stops after repeated receive errors: {error}", {
            port: this.port,
            error: e instanceof Error ? e.message : String(e),
          });
          return;
        }
        continue;
      }
      this.#rendezvous.handleDatagram(datagram, from, this.#now());
      this.#flush(buffer);
    }
  }

  /** Sends what the rendezvous queued; `buffer` returns to the pool after the last send. */
  #flush(buffer?: Uint8Array): void {
    let pending = 1;
    const done = () => {
      if (--pending === 0 && buffer !== undefined) this.#release(buffer);
    };
    for (
      let t = this.#rendezvous.pollTransmit();
      t !== undefined;
      t = this.#rendezvous.pollTransmit()
    ) {
      pending++;
      this.#conn.send(t.bytes, { transport: "udp", ...t.to }).then(done, () => {
        this.sendErrors++;
        done();
      });
    }
    done();
  }

  /** A free receive buffer; waits for one when all are in flight. */
  async #buffer(): Promise<Uint8Array | undefined> {
    while (!this.#closed) {
      const free = this.#free.pop();
      if (free !== undefined) return free;
      if (this.#allocated < POOL_SIZE) {
        this.#allocated++;
        return new Uint8Array(BUFFER_SIZE);
      }
      await new Promise<void>((resolve) => (this.#waiting = resolve));
    }
    return undefined;
  }

  #release(buffer: Uint8Array): void {
    this.#free.push(buffer);
    const wake = this.#waiting;
    this.#waiting = undefined;
    wake?.();
  }

  #schedule(): void {
    const delay = Math.max(0, this.#rendezvous.pollTimeout() - this.#now());
    this.#timer = setTimeout(() => {
      this.#rendezvous.handleTimeout(this.#now());
      this.#flush();
      if (!this.#closed) this.#schedule();
    }, delay);
    Deno.unrefTimer(this.#timer);
  }
}

/**
 * Opens a server's UDP port as `settings` ask: the given port, or by default the TCP
 * port's number — and, when that one is taken, one the OS picks (logged).
 * @throws {Deno.errors.AddrInUse} and other bind errors of an explicit port.
 */
export function openServerUdp(
  settings: UdpSettings,
  hostname: string,
  tcpPort: number,
  log: Logger,
): UdpService {
  const open = (port: number) => UdpService.open({ hostname, port, relay: settings.relay, log });
  let udp: UdpService;
  if (settings.port !== undefined) {
    udp = open(settings.port);
  } else {
    try {
      udp = open(tcpPort);
    } catch (e) {
      if (!(e instanceof Deno.errors.AddrInUse)) throw e;
      udp = open(0);
      log.warn("UDP port {tcp} is taken; file transfers use UDP port {port}", {
        tcp: tcpPort,
        port: udp.port,
      });
    }
  }
  log.info("UDP port {port}: address discovery{relay}", {
    port: udp.port,
    relay: udp.relay ? " and relay" : " (relay off)",
  });
  return udp;
}

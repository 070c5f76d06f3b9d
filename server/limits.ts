/**
 * Limits the server enforces on connections and sessions (SPEC §6), with their
 * defaults as named constants. Nothing here owns a timer or a socket: the
 * server runs one periodic sweep over all sessions ({@link SWEEP_INTERVAL_MS})
 * and asks each {@link SessionGuard} whether its session has to go, so 10,000
 * idle connections cost one timer, not 10,000. Time comes from the server's
 * injected clock, so tests move it instead of sleeping.
 *
 * @module
 */

import { normalizeHost } from "../shared/address.ts";
import type { Clock } from "../shared/time.ts";
import type { SessionPhase } from "./context.ts";

/** Open connections the server holds at once; one more is refused. `--max-connections`. */
export const DEFAULT_MAX_CONNECTIONS = 16_384;

/**
 * New connections one IP address may open per minute (a token bucket holding a
 * minute's worth, so short bursts pass). `--conn-rate`; 0 turns the limit off.
 */
export const DEFAULT_CONNECTIONS_PER_IP_PER_MINUTE = 120;

/** Seconds a connection has from accept to a successful login. `--login-timeout`. */
export const DEFAULT_LOGIN_TIMEOUT_SECONDS = 120;

/**
 * Seconds a logged-in session may send nothing before it is closed.
 * `--idle-timeout`. Clients keep a session alive with `ping`, at the interval the
 * server announces in its `hello` response (a third of this, at most
 * `KEEPALIVE_INTERVAL_MS`).
 */
export const DEFAULT_IDLE_TIMEOUT_SECONDS = 180;

/** Requests per second one session may send, on average. `--command-rate`; 0 turns it off. */
export const DEFAULT_COMMANDS_PER_SECOND = 20;

/** Requests one session may send at once before the rate applies. */
export const COMMAND_BURST = 60;

/**
 * Requests refused for the rate since the session's bucket was last full; one
 * more and the session is disconnected (sustained abuse, not a burst).
 */
export const MAX_RATE_LIMITED_REQUESTS = 100;

/** How often the server sweeps its sessions for expired deadlines. */
export const SWEEP_INTERVAL_MS = 1000;

/**
 * How long a session asked to close may take to flush its last frames (a peer
 * that stopped reading, a TLS handshake that never finished) before the socket
 * is closed without them.
 */
export const CLOSE_GRACE_MS = 5000;

/** The limits one server runs with; every field has a default above. */
export interface LimitSettings {
  maxConnections: number;
  /** 0 = unlimited. */
  connectionsPerIpPerMinute: number;
  loginTimeoutMs: number;
  idleTimeoutMs: number;
  /** 0 = unlimited. */
  commandsPerSecond: number;
}

/** The limits with every default applied. */
export const DEFAULT_LIMITS: Readonly<LimitSettings> = {
  maxConnections: DEFAULT_MAX_CONNECTIONS,
  connectionsPerIpPerMinute: DEFAULT_CONNECTIONS_PER_IP_PER_MINUTE,
  loginTimeoutMs: DEFAULT_LOGIN_TIMEOUT_SECONDS * 1000,
  idleTimeoutMs: DEFAULT_IDLE_TIMEOUT_SECONDS * 1000,
  commandsPerSecond: DEFAULT_COMMANDS_PER_SECOND,
};

/**
 * A token bucket: holds up to `capacity` tokens and gains `perSecond` a second.
 *
 * @example
 * ```ts
 * const b = new TokenBucket(2, 1, 0);
 * b.take(0); b.take(0); // true, true
 * b.take(0);            // false: empty until 1 s later
 * ```
 */
export class TokenBucket {
  #tokens: number;
  #last: number;

  constructor(readonly capacity: number, readonly perSecond: number, now: number) {
    this.#tokens = capacity;
    this.#last = now;
  }

  #refill(now: number): void {
    if (now > this.#last) {
      this.#tokens = Math.min(
        this.capacity,
        this.#tokens + (now - this.#last) * this.perSecond / 1000,
      );
    }
    this.#last = now;
  }

  /** Takes one token if there is one. */
  take(now: number): boolean {
    this.#refill(now);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** True when the bucket has refilled completely. */
  isFull(now: number): boolean {
    this.#refill(now);
    return this.#tokens >= this.capacity;
  }
}

/**
 * The key an address is rate-limited under: an IPv4 address as is (also when
 * IPv4-mapped, `::ffff:192.0.2.1`), an IPv6 address by its /64 prefix, since
 * one host or customer usually has a whole /64 to pick addresses from.
 *
 * @example
 * ```ts
 * addressBucket("2001:db8::1");      // "2001:db8:0:0::/64"
 * addressBucket("::ffff:192.0.2.7"); // "192.0.2.7"
 * ```
 */
export function addressBucket(ip: string): string {
  ip = normalizeHost(ip);
  if (!ip.includes(":")) return ip;
  const [head, tail = ""] = ip.toLowerCase().split("%")[0].split("::");
  const left = head === "" ? [] : head.split(":");
  const right = ip.includes("::") ? (tail === "" ? [] : tail.split(":")) : [];
  const groups = [
    ...left,
    ...Array(Math.max(0, 8 - left.length - right.length)).fill("0"),
    ...right,
  ];
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, "")).join(":")}::/64`;
}

/** Why a new connection is turned away. */
export type Refusal = "server_full" | "ip_rate";

/**
 * Decides whether to accept a new connection: the open-connection cap and the
 * per-IP rate. Refusals are counted and reported once per sweep, so a flood
 * costs one log line a second, not one per connection.
 */
export class ConnectionGate {
  readonly #limits: LimitSettings;
  readonly #clock: Clock;
  readonly #perIp = new Map<string, TokenBucket>();
  #refused = { server_full: 0, ip_rate: 0 };

  constructor(limits: LimitSettings, clock: Clock) {
    this.#limits = limits;
    this.#clock = clock;
  }

  /** Whether a connection from `ip` may open while `open` are open; undefined = yes. */
  admit(ip: string, open: number): Refusal | undefined {
    let refusal: Refusal | undefined;
    if (open >= this.#limits.maxConnections) {
      refusal = "server_full";
    } else if (this.#limits.connectionsPerIpPerMinute > 0) {
      const now = this.#clock();
      const key = addressBucket(ip);
      let bucket = this.#perIp.get(key);
      if (!bucket) {
        const perMinute = this.#limits.connectionsPerIpPerMinute;
        bucket = new TokenBucket(perMinute, perMinute / 60, now);
        this.#perIp.set(key, bucket);
      }
      if (!bucket.take(now)) refusal = "ip_rate";
    }
    if (refusal) this.#refused[refusal]++;
    return refusal;
  }

  /** Addresses with a partly used bucket (the rest have been forgotten). */
  get trackedAddresses(): number {
    return this.#perIp.size;
  }

  /**
   * Forgets addresses whose bucket is full again and returns the refusals
   * counted since the last call.
   */
  sweep(): { server_full: number; ip_rate: number } {
    const now = this.#clock();
    for (const [ip, bucket] of this.#perIp) {
      if (bucket.isFull(now)) this.#perIp.delete(ip);
    }
    const refused = this.#refused;
    this.#refused = { server_full: 0, ip_rate: 0 };
    return refused;
  }
}

/** What the guard says about one incoming request. */
export type FrameVerdict = "ok" | "rate_limited" | "abuse";

/**
 * The per-session side of the limits: when the session opened, when it last
 * sent something, and its request bucket. The session asks {@link admitFrame}
 * for every frame; the server's sweep asks {@link expiredReason}.
 */
export class SessionGuard {
  readonly #limits: LimitSettings;
  readonly #clock: Clock;
  readonly #openedAt: number;
  #lastFrameAt: number;
  readonly #bucket: TokenBucket | undefined;
  #limited = 0;
  #closeRequestedAt: number | undefined;

  constructor(limits: LimitSettings, clock: Clock) {
    this.#limits = limits;
    this.#clock = clock;
    this.#openedAt = this.#lastFrameAt = clock();
    this.#bucket = limits.commandsPerSecond > 0
      ? new TokenBucket(
        Math.max(COMMAND_BURST, limits.commandsPerSecond),
        limits.commandsPerSecond,
        this.#openedAt,
      )
      : undefined;
  }

  /** Records a frame from the client and decides whether it may run. */
  admitFrame(): FrameVerdict {
    const now = this.#clock();
    this.#lastFrameAt = now;
    if (!this.#bucket) return "ok";
    if (this.#limited > 0 && this.#bucket.isFull(now)) this.#limited = 0;
    if (this.#bucket.take(now)) return "ok";
    this.#limited++;
    return this.#limited > MAX_RATE_LIMITED_REQUESTS ? "abuse" : "rate_limited";
  }

  /** Records a frame that does not count against the request rate (an acknowledgement). */
  touch(): void {
    this.#lastFrameAt = this.#clock();
  }

  /** Requests refused for the rate since the bucket was last full. */
  get rateLimitedRequests(): number {
    return this.#limited;
  }

  /**
   * Why the session should be closed now, or undefined while it may stay: it has
   * not logged in within the login timeout, or has sent nothing for the idle
   * timeout.
   */
  expiredReason(phase: SessionPhase): string | undefined {
    const now = this.#clock();
    if (phase === "hello" || phase === "login") {
      if (now - this.#openedAt >= this.#limits.loginTimeoutMs) return "login timed out";
    } else if (phase === "ready") {
      if (now - this.#lastFrameAt >= this.#limits.idleTimeoutMs) return "idle timeout";
    }
    return undefined;
  }

  /**
   * For a session that was asked to close: true once it has had
   * {@link CLOSE_GRACE_MS} to flush and should be cut off.
   */
  closeOverdue(): boolean {
    const now = this.#clock();
    this.#closeRequestedAt ??= now;
    return now - this.#closeRequestedAt >= CLOSE_GRACE_MS;
  }
}

/** The keep-alive interval a client should use against a server with this idle timeout. */
export function keepAliveIntervalMs(idleTimeoutMs: number, maxIntervalMs: number): number {
  return Math.max(1000, Math.min(maxIntervalMs, Math.floor(idleTimeoutMs / 3)));
}

/**
 * scrypt computations (password checks at login, hashing at import) that run
 * at once: up to 4, leaving one CPU to the event loop that serves the chat.
 * Each takes about 16 MiB and a CPU for ~50 ms; without a cap, a burst of
 * logins (or an attacker sending `pass` on many connections) costs 16 MiB per
 * connection and stalls everyone else's messages.
 */
export const MAX_CONCURRENT_PASSWORD_HASHES = Math.max(
  1,
  Math.min(4, (navigator.hardwareConcurrency ?? 2) - 1),
);

/**
 * Logins that may wait for a password check; one more is answered "busy" at
 * once. Without a bound, a login storm (every client reconnecting after a
 * restart) queues work faster than it drains, clients time out and retry, and
 * the queue fills with checks nobody waits for any more.
 */
export const MAX_QUEUED_PASSWORD_CHECKS = 256;

/** A login that waited this long for a password check is answered "busy" instead. */
export const MAX_PASSWORD_QUEUE_WAIT_MS = 10_000;

/** Thrown by {@link Semaphore.run} when a bounded queue is full or the wait too long. */
export class BusyError extends Error {
  constructor(message = "Cannot start the task: too many waiting") {
    super(message);
    this.name = "BusyError";
  }
}

/** Bounds for one {@link Semaphore.run} call. */
export interface QueueBounds {
  /** Refuse at once when this many tasks are already waiting. */
  maxQueue?: number;
  /** Refuse, without running, a task that waited longer than this. */
  maxWaitMs?: number;
}

/**
 * Runs at most `limit` async tasks at once; the rest wait in arrival order.
 *
 * @example
 * ```ts
 * declare function fetchSomething(): Promise<void>;
 * const slots = new Semaphore(2);
 * await slots.run(() => fetchSomething());
 * ```
 */
export class Semaphore {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(limit: number) {
    this.#free = limit;
  }

  /** Tasks waiting for a slot. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /**
   * Runs `task` once a slot is free, and frees the slot when it settles.
   *
   * @throws {BusyError} when `bounds` are exceeded; the task does not run.
   */
  async run<T>(task: () => Promise<T>, bounds: QueueBounds = {}): Promise<T> {
    if (this.#free > 0) {
      this.#free--;
    } else {
      if (bounds.maxQueue !== undefined && this.#waiting.length >= bounds.maxQueue) {
        throw new BusyError();
      }
      const since = performance.now();
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
      if (bounds.maxWaitMs !== undefined && performance.now() - since > bounds.maxWaitMs) {
        this.#release();
        throw new BusyError("Cannot start the task: waited too long");
      }
    }
    try {
      return await task();
    } finally {
      this.#release();
    }
  }

  #release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#free++;
  }
}

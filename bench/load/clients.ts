/**
 * The load generator's clients: one interface, two wire drivers (TESSENGER's
 * JSON lines and IRC), so every workload runs unchanged against every server.
 *
 * A benchmark message carries a marker `|A|B|` in its text (A and B are
 * non-negative integers the workload chooses, e.g. sequence and sender). The
 * read loop decodes each read once and finds lines and markers with string
 * searches (a native scan; a byte loop over a Uint8Array costs about 1 ns per
 * byte, which would charge a protocol with longer lines for the generator's
 * own work), then hands the two numbers to the workload's callback.
 *
 * @module
 */

import { AckScheduler, type AckSource } from "../../client/connection.ts";
import { PROTOCOL_VERSION } from "../../shared/limits.ts";
import { type AckFrame, frameLine } from "../../shared/protocol.ts";

const encoder = new TextEncoder();

const BAR = 0x7c;

/** Called for every received line that carries a `|A|B|` marker. */
export type MarkHandler = (a: number, b: number, now: number) => void;

/** A connected, logged-in load client. */
export interface LoadClient {
  readonly name: string;
  /** Called for each marked line received; set by the workload. */
  onMark: MarkHandler;
  /** Called after each read's lines are handled (a good time to send more). */
  onChunk: (now: number) => void;
  /** Queues one private message; written on the next {@link flush}. */
  queuePrivate(to: string, text: string): void;
  /** Queues one group (IRC: channel) message; written on the next {@link flush}. */
  queueGroup(group: string, text: string): void;
  /** Writes everything queued in one write. */
  flush(): void;
  /** Joins a group the workload has already set up (IRC: JOIN and wait for the names list). */
  join(group: string): Promise<void>;
  /** Failed replies seen after login (a TESSENGER `ok:false`, an IRC error numeric). */
  readonly errors: number;
  /** Resolves once the connection has ended. */
  readonly closed: Promise<void>;
  close(): void;
}

/** How to reach a server and speak to it. */
export interface Driver {
  /** `"tessenger"` or `"irc"`. */
  readonly protocol: "tessenger" | "irc";
  /**
   * Connects and logs in (TESSENGER: hello, user, pass; IRC: NICK, USER, wait for 001).
   *
   * @throws {Error} when the server refuses or the connection ends first.
   */
  connect(name: string, options?: ConnectOptions): Promise<LoadClient>;
}

/** Settings of {@link Driver.connect}. */
export interface ConnectOptions {
  /** Read buffer size; small for idle crowds, large for receivers of a flood. Default 4096. */
  readBytes?: number;
  /** Gives up on the login after this long. Default 30000. */
  timeoutMs?: number;
}

/** Builds a message text of about `size` bytes carrying the marker `|a|b|`. */
export function markedText(a: number, b: number, size = 50): string {
  const head = `|${a}|${b}| `;
  return head.length >= size ? head : head + "x".repeat(size - head.length);
}

/** Parses `|A|B|` starting at `at` (the first bar) of `s`; false when malformed. */
function parseMark(s: string, at: number, end: number, out: Int32Array): boolean {
  let i = at + 1;
  let a = 0;
  let c = 0;
  const first = i;
  while (i < end && (c = s.charCodeAt(i)) >= 0x30 && c <= 0x39) {
    a = a * 10 + c - 0x30;
    i++;
  }
  if (i === first || s.charCodeAt(i) !== BAR) return false;
  const second = ++i;
  let b = 0;
  while (i < end && (c = s.charCodeAt(i)) >= 0x30 && c <= 0x39) {
    b = b * 10 + c - 0x30;
    i++;
  }
  if (i === second || s.charCodeAt(i) !== BAR) return false;
  out[0] = a;
  out[1] = b;
  return true;
}

/** Shared socket plumbing: a read loop that splits lines and finds markers. */
abstract class BaseClient implements LoadClient {
  readonly name: string;
  onMark: MarkHandler = () => {};
  onChunk: (now: number) => void = () => {};
  errors = 0;
  protected readonly conn: Deno.Conn;
  #out: string[] = [];
  #writing: Promise<void> | undefined;
  /** The start of a line whose end has not arrived yet. */
  #carry = "";
  readonly #decoder = new TextDecoder();
  #closedFlag = false;
  readonly #closed = Promise.withResolvers<void>();
  readonly #mark = new Int32Array(2);
  readonly #readBytes: number;
  /** Lines waited for during setup; checked only while non-empty. */
  protected waiters: { test: (line: string) => boolean; resolve: (line: string) => void }[] = [];

  constructor(name: string, conn: Deno.Conn, readBytes: number) {
    this.name = name;
    this.conn = conn;
    this.#readBytes = readBytes;
    this.#readLoop();
  }

  get closed(): Promise<void> {
    return this.#closed.promise;
  }

  abstract queuePrivate(to: string, text: string): void;
  abstract queueGroup(group: string, text: string): void;
  abstract join(group: string): Promise<void>;
  /** A line without a marker; setup replies, errors, pings. */
  protected abstract onLine(line: string): void;
  /** Called with the complete lines of each read and how many carried a marker, after they were handled. */
  protected afterRead(_text: string, _marked: number): void {}

  protected queue(text: string): void {
    this.#out.push(text);
  }

  flush(): void {
    if (this.#out.length === 0 || this.#writing || this.#closedFlag) return;
    const bytes = encoder.encode(this.#out.join(""));
    this.#out = [];
    this.#writing = this.#writeAll(bytes).finally(() => {
      this.#writing = undefined;
      this.flush();
    });
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    try {
      let off = 0;
      while (off < bytes.length) off += await this.conn.write(bytes.subarray(off));
    } catch {
      this.close();
    }
  }

  /** Writes `text` now (setup steps). */
  protected send(text: string): void {
    this.queue(text);
    this.flush();
  }

  /** Resolves with the first line (without a marker) that passes `test`. */
  protected waitLine(test: (line: string) => boolean, timeoutMs: number): Promise<string> {
    const { promise, resolve, reject } = Promise.withResolvers<string>();
    const timer = setTimeout(() => {
      this.waiters = this.waiters.filter((w) => w.resolve !== done);
      reject(new Error(`Cannot finish setup of ${this.name}: no reply in ${timeoutMs} ms`));
    }, timeoutMs);
    const done = (line: string) => {
      clearTimeout(timer);
      resolve(line);
    };
    this.waiters.push({ test, resolve: done });
    this.closed.then(() => {
      clearTimeout(timer);
      reject(new Error(`Cannot finish setup of ${this.name}: connection closed`));
    });
    return promise;
  }

  protected checkWaiters(line: string): void {
    const i = this.waiters.findIndex((w) => w.test(line));
    if (i === -1) return;
    const [w] = this.waiters.splice(i, 1);
    w.resolve(line);
  }

  async #readLoop(): Promise<void> {
    const buf = new Uint8Array(this.#readBytes);
    try {
      while (!this.#closedFlag) {
        const n = await this.conn.read(buf);
        if (n === null) break;
        const now = performance.now();
        this.#lines(buf, n, now);
        this.onChunk(now);
      }
    } catch {
      // reset or closed by us
    } finally {
      this.close();
    }
  }

  #lines(buf: Uint8Array, n: number, now: number): void {
    // stream: a character split across two reads is decoded whole with the next.
    const text = this.#decoder.decode(buf.subarray(0, n), { stream: true });
    const s = this.#carry === "" ? text : this.#carry + text;
    let start = 0;
    // The next bar at or after `start`, searched again only once passed, so
    // lines without one (replies) do not each scan the rest of the read.
    let bar = -2;
    let marked = 0;
    for (;;) {
      const nl = s.indexOf("\n", start);
      if (nl === -1) break;
      if (bar !== -1 && bar < start) bar = s.indexOf("|", start);
      if (bar !== -1 && bar < nl && parseMark(s, bar, nl, this.#mark)) {
        marked++;
        this.onMark(this.#mark[0], this.#mark[1], now);
      } else {
        this.onLine(s.slice(start, nl));
      }
      start = nl + 1;
    }
    this.#carry = start === s.length ? "" : s.slice(start);
    if (start > 0) this.afterRead(start === s.length ? s : s.slice(0, start), marked);
  }

  close(): void {
    if (this.#closedFlag) return;
    this.#closedFlag = true;
    try {
      this.conn.close();
    } catch {
      // already closed
    }
    this.#closed.resolve();
  }
}

/**
 * A TESSENGER client speaking the JSON-lines protocol. Not client/connection.ts, on
 * purpose: on the hot path it parses no JSON (markers and seqs are found by string search),
 * so the figures measure the server rather than the generator. What it sends is built by
 * the shared codec (`frameLine`); it acknowledges the last message of each read.
 */
class TessengerClient extends BaseClient {
  #nextId = 1;
  #loggedIn = false;

  #req(cmd: string, args: string[]): number {
    const id = this.#nextId++;
    this.queue(frameLine({ t: "req", id, cmd, args }));
    return id;
  }

  queuePrivate(to: string, text: string): void {
    this.#req("msgto", [to, text]);
  }

  queueGroup(group: string, text: string): void {
    this.#req("groupmsg", [group, text]);
  }

  /** The bench seeds TESSENGER groups with every member joined, so there is nothing to do. */
  join(_group: string): Promise<void> {
    return Promise.resolve();
  }

  /** Pipelines hello, user and pass; resolves when pass succeeds. */
  async login(password: string, timeoutMs: number): Promise<void> {
    this.#req("hello", [String(PROTOCOL_VERSION), "loadgen"]);
    this.#req("user", [this.name]);
    const passId = this.#req("pass", [password, "0"]);
    this.flush();
    const prefix = `{"t":"res","id":${passId},`;
    const line = await this.waitLine((l) => l.startsWith(prefix), timeoutMs);
    const res = JSON.parse(line) as { ok: boolean; lines: string[] };
    if (!res.ok) throw new Error(`Cannot log in as ${this.name}: ${res.lines.join(" ")}`);
    this.#loggedIn = true;
  }

  protected onLine(line: string): void {
    if (this.waiters.length > 0) {
      this.checkWaiters(line);
      return;
    }
    // After login the only unmarked lines are responses; a failed one is an error.
    if (this.#loggedIn && line.includes('"ok":false')) this.errors++;
  }

  /** The last inbox and group seq of the reads since the last ack, found by string search. */
  readonly #positions = new ReadPositions();
  /** Acknowledges them when the real client would (client/connection.ts). */
  readonly #acks = new AckScheduler(this.#positions, (ack) => this.send(frameLine(ack)));

  /**
   * Notes what the read carried: the last private and group seq, found with two
   * searches from the end, and how many messages (marked lines).
   */
  protected override afterRead(text: string, marked: number): void {
    if (!this.#loggedIn) return;
    const inbox = lastSeq(text, '"ev":"msg",');
    const g = text.lastIndexOf(GROUP_PUSH);
    let group: [string, number] | undefined;
    if (g !== -1) {
      const nameEnd = text.indexOf('"', g + GROUP_PUSH.length);
      const seq = lastSeq(text, GROUP_PUSH, g);
      if (nameEnd !== -1 && seq !== undefined) {
        group = [text.slice(g + GROUP_PUSH.length, nameEnd), seq];
      }
    }
    if (inbox === undefined && g === -1) return;
    this.#positions.note(inbox, group, Math.max(1, marked));
    this.#acks.soon();
  }

  override close(): void {
    this.#acks.stop();
    super.close();
  }
}

/** Stream positions not yet acknowledged: what {@link AckScheduler} acknowledges. */
class ReadPositions implements AckSource {
  pending = 0;
  #inbox: number | undefined;
  readonly #groups = new Map<string, number>();

  /** Records a read's last inbox seq and last group seq, and how many messages it carried. */
  note(inbox: number | undefined, group: [string, number] | undefined, messages: number): void {
    if (inbox !== undefined) this.#inbox = inbox;
    if (group !== undefined) this.#groups.set(group[0], group[1]);
    this.pending += messages;
  }

  takeAck(): AckFrame | undefined {
    this.pending = 0;
    if (this.#inbox === undefined && this.#groups.size === 0) return undefined;
    const ack: AckFrame = { t: "ack" };
    if (this.#inbox !== undefined) ack.inbox = this.#inbox;
    if (this.#groups.size > 0) ack.groups = Object.fromEntries(this.#groups);
    this.#inbox = undefined;
    this.#groups.clear();
    return ack;
  }
}

const GROUP_PUSH = '"ev":"groupmsg","group":"';

/** The `"seq"` of the last line holding `marker` (from `at`, when known), or undefined. */
function lastSeq(text: string, marker: string, at = text.lastIndexOf(marker)): number | undefined {
  if (at === -1) return undefined;
  const s = text.indexOf('"seq":', at);
  if (s === -1) return undefined;
  let i = s + 6;
  let n = 0;
  let c;
  while ((c = text.charCodeAt(i)) >= 0x30 && c <= 0x39) {
    n = n * 10 + c - 0x30;
    i++;
  }
  return i === s + 6 ? undefined : n;
}

/** An IRC client: NICK/USER registration, PRIVMSG, JOIN; answers PING. */
class IrcClient extends BaseClient {
  #registered = false;

  queuePrivate(to: string, text: string): void {
    this.queue(`PRIVMSG ${to} :${text}\r\n`);
  }

  queueGroup(group: string, text: string): void {
    this.queue(`PRIVMSG #${group} :${text}\r\n`);
  }

  async join(group: string): Promise<void> {
    const done = this.waitLine((l) => / 366 /.test(l) && l.includes(`#${group}`), 30_000);
    this.send(`JOIN #${group}\r\n`);
    await done;
  }

  /** Registers, with `PASS password` first when given (TESSENGER's IRC door). */
  async register(timeoutMs: number, password?: string): Promise<void> {
    // 001 is the welcome; 433 (nick in use) and other 4xx fail at once.
    const reply = this.waitLine((l) => /^:\S+ (001|4\d\d) /.test(l), timeoutMs);
    const pass = password === undefined ? "" : `PASS ${password}\r\n`;
    this.send(`${pass}NICK ${this.name}\r\nUSER ${this.name} 0 * :${this.name}\r\n`);
    const line = await reply;
    if (!/^:\S+ 001 /.test(line)) {
      throw new Error(`Cannot register ${this.name}: ${line.trim()}`);
    }
    this.#registered = true;
  }

  protected onLine(line: string): void {
    if (line.startsWith("PING")) {
      this.send(`PONG${line.slice(4)}\n`);
      return;
    }
    if (this.waiters.length > 0) this.checkWaiters(line);
    // 4xx numerics are errors (no such nick, cannot send to channel, ...).
    if (this.#registered && /^:\S+ 4\d\d /.test(line)) this.errors++;
  }
}

/** Where a server listens. */
export interface Endpoint {
  hostname: string;
  port: number;
}

/** Drives a TESSENGER server; every account shares `password`. */
export function tessengerDriver(endpoint: Endpoint, password: string): Driver {
  return {
    protocol: "tessenger",
    async connect(name, options = {}) {
      const conn = await Deno.connect(endpoint);
      conn.setNoDelay(true);
      const client = new TessengerClient(name, conn, options.readBytes ?? 4096);
      try {
        await client.login(password, options.timeoutMs ?? 30_000);
      } catch (e) {
        client.close();
        throw e;
      }
      return client;
    },
  };
}

/**
 * Drives an IRC server; the nick is the name. With `password`, every client
 * sends it as PASS (TESSENGER's IRC door, where the nick is the username).
 */
export function ircDriver(endpoint: Endpoint, password?: string): Driver {
  return {
    protocol: "irc",
    async connect(name, options = {}) {
      const conn = await Deno.connect(endpoint);
      conn.setNoDelay(true);
      const client = new IrcClient(name, conn, options.readBytes ?? 4096);
      try {
        await client.register(options.timeoutMs ?? 30_000, password);
      } catch (e) {
        client.close();
        throw e;
      }
      return client;
    },
  };
}

/**
 * Connects `names` with at most `inFlight` logins pending at once, trying a
 * failed login again up to `retries` times (default 0).
 *
 * @throws {Error} the first login failure, after closing every client.
 */
export async function connectMany(
  driver: Driver,
  names: string[],
  options: ConnectOptions & { inFlight?: number; retries?: number } = {},
): Promise<LoadClient[]> {
  const clients: LoadClient[] = new Array(names.length);
  let next = 0;
  let failure: unknown;
  const worker = async () => {
    while (next < names.length && failure === undefined) {
      const i = next++;
      for (let attempt = 0;; attempt++) {
        try {
          clients[i] = await driver.connect(names[i], options);
          break;
        } catch (e) {
          if (attempt >= (options.retries ?? 0)) {
            failure ??= e;
            break;
          }
          // A login lost in a full accept queue: wait for the old socket to go, then retry.
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(options.inFlight ?? 100, names.length) }, worker),
  );
  if (failure !== undefined) {
    for (const c of clients) c?.close();
    throw failure;
  }
  return clients;
}

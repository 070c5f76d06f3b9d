/**
 * A raw-socket IRC client for tests: writes lines (or any bytes), keeps every
 * line the server sends in order, parsed, and waits for the ones a test
 * expects. It decodes with the server's own {@link IrcLineDecoder}, so a
 * server line over the limits or with a bad tag fails the test that reads it.
 *
 * @module
 */

import {
  IrcLineDecoder,
  IrcLineError,
  type IrcMessage,
} from "../../server/frontends/irc/message.ts";

const encoder = new TextEncoder();

/** A raw IRC connection. */
export class RawIrcClient {
  readonly conn: Deno.Conn;
  /** Every line received, in order. */
  readonly received: IrcMessage[] = [];
  /** Lines the decoder refused (the server broke the framing rules). */
  readonly refused: IrcLineError[] = [];
  /** Answer the server's PINGs (confirming what arrived before them); tests turn it off. */
  autoPong = true;
  /** How far {@link expect} has read in {@link received}. */
  #cursor = 0;
  #waiters: (() => void)[] = [];
  #ended = false;
  readonly #done: Promise<void>;

  private constructor(conn: Deno.Conn) {
    this.conn = conn;
    this.#done = this.#readLoop();
  }

  /** Connects to 127.0.0.1:`port`, over TLS when given the CA certificate to trust. */
  static async connect(port: number, caCert?: string): Promise<RawIrcClient> {
    const conn = caCert === undefined
      ? await Deno.connect({ hostname: "127.0.0.1", port })
      : await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [caCert] });
    return new RawIrcClient(conn);
  }

  /**
   * Connects and registers with PASS (`caps` requested through CAP first);
   * resolves after the welcome burst's end of MOTD.
   *
   * @throws {Error} when the server refuses (naming what it sent).
   */
  static async register(
    port: number,
    nick: string,
    password: string,
    caps: string[] = [],
    options: { autoPong?: boolean; caCert?: string } = {},
  ): Promise<RawIrcClient> {
    const c = await RawIrcClient.connect(port, options.caCert);
    c.autoPong = options.autoPong ?? true;
    const lines = caps.length > 0 ? ["CAP LS 302", `CAP REQ :${caps.join(" ")}`] : [];
    lines.push(`PASS ${password}`, `NICK ${nick}`, `USER ${nick.toLowerCase()} 0 * :${nick}`);
    if (caps.length > 0) lines.push("CAP END");
    await c.send(...lines);
    try {
      await c.expect((m) => m.command === "376" || m.command === "422");
    } catch (e) {
      await c.close();
      throw e;
    }
    return c;
  }

  /** Resolves once the server has closed the connection (or it was closed here). */
  get closed(): Promise<void> {
    return this.#done;
  }

  async #readLoop(): Promise<void> {
    const decoder = new IrcLineDecoder();
    const buf = new Uint8Array(16 * 1024);
    try {
      for (;;) {
        const n = await this.conn.read(buf);
        if (n === null) break;
        for (const item of decoder.push(buf.subarray(0, n))) {
          if (item instanceof IrcLineError) {
            this.refused.push(item);
            continue;
          }
          this.received.push(item);
          if (item.command === "PING" && this.autoPong) {
            await this.send(`PONG :${item.params.at(-1) ?? ""}`).catch(() => {});
          }
        }
        this.#wake();
      }
    } catch {
      // reset by the peer, or closed here
    } finally {
      this.#ended = true;
      this.#wake();
      try {
        this.conn.close();
      } catch {
        // already closed
      }
    }
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  /** Writes lines, each with CR LF. */
  async send(...lines: string[]): Promise<void> {
    await this.sendBytes(encoder.encode(lines.map((l) => l + "\r\n").join("")));
  }

  /** Writes bytes as they are. */
  async sendBytes(bytes: Uint8Array): Promise<void> {
    let off = 0;
    while (off < bytes.length) off += await this.conn.write(bytes.subarray(off));
  }

  /**
   * Resolves with the first line after the last one expected that passes
   * `match`; lines skipped on the way stay in {@link received}.
   *
   * @throws {Error} after `timeoutMs`, or when the connection ends first,
   *   naming the lines that did arrive.
   */
  async expect(match: (m: IrcMessage) => boolean, timeoutMs = 5000): Promise<IrcMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.#cursor < this.received.length) {
        const m = this.received[this.#cursor++];
        if (match(m)) return m;
      }
      const left = deadline - Date.now();
      if (this.#ended || left <= 0) {
        const seen = this.received.map((m) => `${m.command} ${m.params.join(" ")}`).join(" | ");
        throw new Error(
          `Expected line not received (${this.#ended ? "connection closed" : "timed out"}); ` +
            `got: ${seen}`,
        );
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        timer = setTimeout(resolve, left);
        this.#waiters.push(resolve);
      });
      clearTimeout(timer);
    }
  }

  /** {@link expect} for a command or numeric, optionally with a test of its parameters. */
  expectCommand(
    command: string,
    test: (params: string[]) => boolean = () => true,
    timeoutMs?: number,
  ): Promise<IrcMessage> {
    return this.expect((m) => m.command === command && test(m.params), timeoutMs);
  }

  /** Lines received after the last one {@link expect} returned, without waiting. */
  unread(): IrcMessage[] {
    return this.received.slice(this.#cursor);
  }

  /** Closes the connection and waits for the read loop to end. */
  async close(): Promise<void> {
    try {
      this.conn.close();
    } catch {
      // already closed
    }
    await this.#done;
  }
}

/**
 * The `irc-framework` library as a test client: a maintained IRC client that
 * bots are written with, so a server that satisfies it speaks IRC as real
 * clients expect. This wrapper connects with a password (PASS) or SASL PLAIN,
 * records every event in order, and waits for the ones a test expects.
 * Reconnecting and the library's own pings are off, so a test ends with no
 * timer left behind.
 *
 * @module
 */

import IRC from "irc-framework";

/** One event the library emitted: its name and its payload. */
export interface IrcEvent {
  name: string;
  // deno-lint-ignore no-explicit-any
  event: any;
}

/** Events recorded for tests (`raw` is recorded too: every line, both ways). */
const RECORDED = [
  "registered",
  "privmsg",
  "notice",
  "action",
  "join",
  "part",
  "quit",
  "invite",
  "topic",
  "userlist",
  "wholist",
  "whois",
  "away",
  "back",
  "loggedin",
  "sasl failed",
  "irc error",
  "nick in use",
  "server options",
  "motd",
  "raw",
  "close",
];

/** How {@link FrameworkClient.connect} logs in. */
export interface FrameworkConnectOptions {
  port: number;
  nick: string;
  /** Sent as PASS (with no `sasl`, SASL is not tried). */
  password?: string;
  /** Log in with SASL PLAIN instead. */
  sasl?: { account: string; password: string };
  /** Ask for echo-message. */
  echoMessage?: boolean;
  /** More capabilities to request. */
  caps?: string[];
  /** Resolve once registered (default), or as soon as the connection ends or fails. */
  expectFailure?: boolean;
  /** Gives up after this long. Default 5000. */
  timeoutMs?: number;
}

/** A connected irc-framework client. */
export class FrameworkClient {
  // deno-lint-ignore no-explicit-any
  readonly client: any;
  readonly events: IrcEvent[] = [];
  #cursor = 0;
  #waiters: (() => void)[] = [];
  #closed = false;

  // deno-lint-ignore no-explicit-any
  private constructor(client: any) {
    this.client = client;
    for (const name of RECORDED) {
      // deno-lint-ignore no-explicit-any
      client.on(name, (event: any) => {
        if (name === "close") this.#closed = true;
        this.events.push({ name, event });
        const waiters = this.#waiters;
        this.#waiters = [];
        for (const w of waiters) w();
      });
    }
  }

  /**
   * Connects and registers.
   *
   * @throws {Error} when the connection ends before `registered` (unless
   *   `expectFailure`), or after the timeout.
   */
  static async connect(options: FrameworkConnectOptions): Promise<FrameworkClient> {
    const client = new IRC.Client();
    const c = new FrameworkClient(client);
    if (options.caps) client.requestCap(options.caps);
    client.connect({
      host: "127.0.0.1",
      port: options.port,
      nick: options.nick,
      username: options.nick.toLowerCase(),
      gecos: options.nick,
      password: options.password,
      // An empty account object turns SASL off, so `password` goes as PASS only.
      account: options.sasl ?? {},
      enable_echomessage: options.echoMessage ?? false,
      auto_reconnect: false,
      ping_interval: 0,
      ping_timeout: 0,
    });
    const settled = await c.next(
      (e) => e.name === "registered" || e.name === "close",
      options.timeoutMs,
    );
    if (settled.name === "close" && !options.expectFailure) {
      throw new Error(
        `Cannot register ${options.nick}: connection closed; got ${c.serverLines().join(" | ")}`,
      );
    }
    return c;
  }

  /** Lines the server sent, in order. */
  serverLines(): string[] {
    return this.events.filter((e) => e.name === "raw" && e.event.from_server).map((e) =>
      String(e.event.line).trimEnd()
    );
  }

  /**
   * Resolves with the first event after the last one waited for that passes
   * `match`.
   *
   * @throws {Error} after `timeoutMs` (default 5000), naming what arrived.
   */
  async next(match: (e: IrcEvent) => boolean, timeoutMs = 5000): Promise<IrcEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.#cursor < this.events.length) {
        const e = this.events[this.#cursor++];
        if (match(e)) return e;
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        const seen = this.events.filter((e) => e.name !== "raw").map((e) => e.name);
        throw new Error(`Expected event not received; got: ${seen.join(", ")}`);
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        timer = setTimeout(resolve, left);
        this.#waiters.push(resolve);
      });
      clearTimeout(timer);
    }
  }

  /** {@link next} for an event by name, optionally with a test of its payload. */
  // deno-lint-ignore no-explicit-any
  nextEvent(name: string, test: (event: any) => boolean = () => true, timeoutMs?: number) {
    return this.next((e) => e.name === name && test(e.event), timeoutMs).then((e) => e.event);
  }

  /** Sends QUIT and waits for the connection to close. */
  async quit(message = "bye"): Promise<void> {
    if (this.#closed) return;
    const closed = this.next((e) => e.name === "close", 5000);
    this.client.quit(message);
    await closed.catch(() => this.client.connection.end());
  }
}

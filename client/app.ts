/**
 * The chat client: logs in, then reads commands and prints what arrives.
 * Talks to the user only through a {@link ClientIO}, so tests drive it with
 * plain lines.
 *
 * @module
 */

import { basename } from "node:path";
import { addressKey, isLoopback } from "../shared/address.ts";
import { COMMANDS, type CommandSpec, findCommand, parseCommandLine } from "../shared/commands.ts";
import type { PushFrame, ResponseFrame, TransferPush } from "../shared/protocol.ts";
import type { Clock } from "../shared/time.ts";
import { formatProgress } from "../shared/transfer/progress.ts";
import { helpLines, lengthError, unknownCommandText } from "./commands.ts";
import { ConnectionClosedError, SeenStreams, ServerConnection } from "./connection.ts";
import { explainConnectError } from "./connect_error.ts";
import type { ClientEvent } from "./events.ts";
import { mentionsUser } from "./format.ts";
import type { ClientIO } from "./io.ts";
import { describeFile, TransferEndpoint, type TransferHandle } from "./transfer_driver.ts";
import {
  type AcceptPolicy,
  ASK_TIMEOUT_MS,
  DEFAULT_MAX_FILE_SIZE,
  DEFAULT_MAX_INCOMING,
  describe,
  MAX_WAITING_INCOMING,
  type TransferEntry,
  TransferList,
} from "./transfers.ts";
import { formatBytes } from "../shared/transfer/progress.ts";
import { ClientOutput } from "./output.ts";
import {
  DEFAULT_RECONNECT_DELAYS,
  reconnectDelay,
  type ReconnectDelays,
  relogin,
  shouldReconnect,
} from "./reconnect.ts";
import { Roster } from "./roster.ts";
import type { Style } from "./style.ts";

/** Settings of {@link runClient}. */
export interface ClientOptions {
  host: string;
  port: number;
  /** UDP port for incoming files; 0 lets the OS pick. */
  udpPort: number;
  /** Where received files are saved. */
  downloadsDir: string;
  /** Connect with TLS, trusting these PEM certificates besides the system roots. */
  tls?: { caCerts?: string[] };
  /** Refuse incoming files larger than this (bytes). Default 4 GiB (DEFAULT_MAX_FILE_SIZE). */
  maxFileSize?: number;
  /** What an incoming file gets: "always" taken (default), "ask" the user, "never". */
  accept?: AcceptPolicy;
  /** Files that come in at once; more wait for a slot. Default 4 (DEFAULT_MAX_INCOMING). */
  maxIncoming?: number;
  /** UDP payload size of outgoing transfers. Default: 1200, or 60 000 B to a loopback peer. */
  payloadSize?: number;
  io: ClientIO;
  /** One JSON object per event on the IO instead of text (`--json`). Default false. */
  json?: boolean;
  /** Colours of text output. Default none. */
  style?: Style;
  /** Names seen during the session, for tab completion. */
  roster?: Roster;
  /** What "today" is, for the `HH:MM` timestamps of a terminal. Default the system clock. */
  clock?: Clock;
  /**
   * When the connection is lost (not after `/logout`), log back in with the
   * same username and password (kept in memory only) once the server is back.
   * Default false.
   */
  reconnect?: boolean;
  /** Waits between reconnection attempts. Default {@link DEFAULT_RECONNECT_DELAYS}. */
  reconnectDelays?: ReconnectDelays;
}

/** The commands the `ready` event lists (aliases left out). */
const COMMAND_NAMES = COMMANDS.map((c) => c.name);

/** Transfers at least this large show progress on a terminal. */
const PROGRESS_MIN_BYTES = 4 * 1024 * 1024;
/** How often the progress display is refreshed (ms). */
const PROGRESS_INTERVAL_MS = 500;

/** Exit codes of the client. */
export const EXIT = { ok: 0, failed: 1 } as const;

/**
 * Runs a client session to its end.
 *
 * @returns the process exit code: 0 after `/logout`, 1 when login fails or the
 * server goes away.
 */
export async function runClient(options: ClientOptions): Promise<number> {
  const { io } = options;
  const output = new ClientOutput(io, { ...options, shortTimes: io.interactive && !options.json });
  // One record of what was shown, across reconnects: nothing is shown twice.
  const seen = new SeenStreams();
  const connect = () =>
    ServerConnection.connect({ host: options.host, port: options.port, tls: options.tls, seen });
  let conn: ServerConnection;
  try {
    conn = await connect();
  } catch (e) {
    const why = explainConnectError(errorText(e), { host: options.host, tls: !!options.tls });
    const message = `Cannot connect to ${
      addressKey({ hostname: options.host, port: options.port })
    }: ${why}`;
    output.emit({ kind: "error", code: "connect", message });
    return EXIT.failed;
  }
  let endpoint: TransferEndpoint;
  try {
    endpoint = await TransferEndpoint.open({
      // On a loopback server the peers are local too; elsewhere listen on every interface.
      hostname: isLoopback(options.host)
        ? "127.0.0.1"
        : options.host.includes(":")
        ? "::"
        : "0.0.0.0",
      port: options.udpPort,
      downloadsDir: options.downloadsDir,
      maxFileSize: options.maxFileSize ?? DEFAULT_MAX_FILE_SIZE,
      payloadSize: options.payloadSize,
    });
  } catch (e) {
    conn.close();
    output.emit({
      kind: "error",
      code: "udp",
      message: `Cannot open UDP port ${options.udpPort} for file transfers: ${errorText(e)}`,
    });
    return EXIT.failed;
  }
  const client = new ChatClient(conn, connect, endpoint, options, output);
  try {
    return await client.run();
  } finally {
    await client.stopTransfers();
    await endpoint.close();
    client.close();
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** What a pending read of a line ended in, besides the line. */
const LOST: unique symbol = Symbol("lost");
const WAITED: unique symbol = Symbol("waited");

/** One logged-in (or logging-in) client. */
class ChatClient {
  #conn: ServerConnection;
  readonly #connect: () => Promise<ServerConnection>;
  readonly #reconnect: boolean;
  readonly #delays: ReconnectDelays;
  /** Kept (in memory only) to log back in after a lost connection; only when reconnecting. */
  #password: string | undefined;
  /** The `/away` text, set again after a reconnect. */
  #away: string | undefined;
  /** A line asked for and not yet typed: kept while the connection is replaced. */
  #pendingLine: Promise<string | null> | undefined;
  readonly #io: ClientIO;
  readonly #endpoint: TransferEndpoint;
  readonly #transfers = new TransferList();
  readonly #accept: AcceptPolicy;
  readonly #maxIncoming: number;
  #progressTimer: ReturnType<typeof setInterval> | undefined;
  readonly #out: ClientOutput;
  readonly #roster: Roster;
  #user = "";
  /** The last user who sent a private message: where `/r` goes. */
  #lastSender: string | undefined;
  /** Where lines without a command go (`/query`). */
  #target: string | undefined;

  constructor(
    conn: ServerConnection,
    connect: () => Promise<ServerConnection>,
    endpoint: TransferEndpoint,
    options: ClientOptions,
    output: ClientOutput,
  ) {
    this.#conn = conn;
    this.#connect = connect;
    this.#reconnect = options.reconnect ?? false;
    this.#delays = options.reconnectDelays ?? DEFAULT_RECONNECT_DELAYS;
    this.#io = options.io;
    this.#endpoint = endpoint;
    this.#accept = options.accept ?? "always";
    this.#maxIncoming = Math.max(1, options.maxIncoming ?? DEFAULT_MAX_INCOMING);
    this.#out = output;
    this.#roster = options.roster ?? new Roster();
    this.#attach(conn);
  }

  #attach(conn: ServerConnection): void {
    conn.onPush = (p) => this.#onPush(p);
    conn.onError = (m) =>
      this.#show({ kind: "error", code: "server_error", message: `Server error: ${m}` });
  }

  /** Closes the connection in use. */
  close(): void {
    this.#conn.close();
  }

  /** Shows an event, and learns the names in it. */
  #show(event: ClientEvent): void {
    this.#roster.learn(event);
    this.#out.emit(event);
  }

  /** A line from the client itself, as the answer to a command it ran locally. */
  #answer(cmd: string, ok: boolean, code: string, lines: string[]): void {
    this.#show({ kind: "response", cmd, args: [], res: { t: "res", id: 0, ok, code, lines } });
  }

  /** Prompts are shown only in text mode; the prompt names the `/query` target. */
  #readLine(prompt: string, options?: { secret?: boolean }): Promise<string | null> {
    return this.#io.readLine(this.#out.json ? "" : prompt, options);
  }

  #prompt(): string {
    return this.#target === undefined ? "> " : `${this.#target}> `;
  }

  async run(): Promise<number> {
    let login: true | number | typeof LOST;
    try {
      login = await Promise.race([this.#login(), this.#conn.closed.then((): typeof LOST => LOST)]);
    } catch (e) {
      if (!(e instanceof ConnectionClosedError)) throw e;
      login = LOST;
    }
    // The first login is not retried: a server that is not there yet is the user's to start.
    if (login === LOST) return this.#lost(false);
    if (login !== true) return login;
    this.#out.user = this.#user;
    this.#show({ kind: "ready", user: this.#user, commands: COMMAND_NAMES });
    if (this.#io.interactive) this.#primeCompletion();
    while (true) {
      const conn = this.#conn;
      const line = await Promise.race([
        this.#nextLine(),
        conn.closed.then((): typeof LOST => LOST),
      ]);
      let result: number | undefined;
      if (line === LOST) {
        result = await this.#connectionLost();
      } else {
        this.#pendingLine = undefined;
        try {
          // At the end of piped input, let running transfers finish before logging out;
          // after Ctrl-C, stop them (the logout cancels them).
          if (line === null && !this.#io.interrupted) await this.#waitForTransfers(conn.closed);
          result = await this.#command(line ?? "/logout");
        } catch (e) {
          if (!(e instanceof ConnectionClosedError)) throw e;
          result = await this.#connectionLost(line);
        }
      }
      if (result !== undefined) return result;
    }
  }

  /** The line being asked for: the same one until it is typed. */
  #nextLine(): Promise<string | null> {
    return this.#pendingLine ??= this.#readLine(this.#prompt());
  }

  /** Says the connection ended (and whether the client logs back in). */
  async #lost(reconnecting: boolean): Promise<number> {
    const reason = await this.#conn.closed;
    this.#show({ kind: "disconnected", reason, ...(reconnecting ? { reconnecting } : {}) });
    return EXIT.failed;
  }

  /**
   * The connection ended (while `unanswered` was waiting for its answer):
   * reconnects when it should, else ends the session.
   *
   * @returns an exit code, or undefined once logged in again.
   */
  async #connectionLost(unanswered?: string | null): Promise<number | undefined> {
    const reason = await this.#conn.closed;
    if (!this.#reconnect || this.#password === undefined || !shouldReconnect(reason)) {
      return this.#lost(false);
    }
    if (unanswered) {
      this.#show({
        kind: "error",
        code: "no_answer",
        message: `The connection was lost before the server answered ${
          unanswered.trim().split(" ")[0]
        }: it may or may not have been done.`,
      });
    }
    await this.#lost(true);
    /** How long the server asked to wait (a blocked account), at least. */
    let minWaitMs = 0;
    for (let attempt = 1;; attempt++) {
      const quit = await this.#offline(Math.max(minWaitMs, reconnectDelay(attempt, this.#delays)));
      minWaitMs = 0;
      if (quit !== undefined) return quit;
      let conn: ServerConnection;
      try {
        conn = await this.#connect();
      } catch (e) {
        this.#retrying(errorText(e), attempt);
        continue;
      }
      this.#attach(conn);
      const outcome = await relogin(conn, this.#user, this.#password, this.#endpoint.port);
      if (outcome.kind === "ok") {
        this.#conn = conn;
        await this.#restore();
        this.#show({ kind: "reconnected", user: this.#user });
        return undefined;
      }
      conn.close();
      if (outcome.kind === "final") {
        this.#show({
          kind: "error",
          code: "reconnect_failed",
          message: `Cannot log back in: ${outcome.why}`,
        });
        return EXIT.failed;
      }
      minWaitMs = outcome.minWaitMs ?? 0;
      this.#retrying(outcome.why, attempt, minWaitMs);
    }
  }

  /** Says why attempt `attempt` failed and about when the next one comes. */
  #retrying(why: string, attempt: number, minWaitMs = 0): void {
    const next = Math.max(minWaitMs, reconnectDelay(attempt + 1, this.#delays, () => 0));
    this.#show({
      kind: "error",
      code: "reconnecting",
      message: `Cannot log back in yet (${why.replace(/\.$/, "")}); trying again in about ${
        Math.round(next / 1000)
      } s. /quit stops.`,
    });
  }

  /** What the session had that a new one needs: the away text, the names for completion. */
  async #restore(): Promise<void> {
    if (this.#away !== undefined) {
      await this.#conn.request("away", [this.#away], { quiet: true }).catch(() => {});
    }
    if (this.#io.interactive) this.#primeCompletion();
  }

  /**
   * Waits `ms` while not connected, answering what is typed meanwhile: the
   * client's own commands work, `/quit` (or the end of input) ends the session,
   * anything else is refused until the connection is back.
   *
   * @returns an exit code when the session ends, else undefined.
   */
  async #offline(ms: number): Promise<number | undefined> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const waited = new Promise<typeof WAITED>((resolve) =>
      timer = setTimeout(() => resolve(WAITED), ms)
    );
    try {
      while (true) {
        const line = await Promise.race([this.#nextLine(), waited]);
        if (line === WAITED) return undefined;
        this.#pendingLine = undefined;
        const { name, args } = parseCommandLine(line ?? "/logout");
        const spec = findCommand(name);
        if (spec?.name === "logout") {
          // Nothing to log out of: the server has no session. The end of a script's input is
          // still a session that did not end well.
          this.#answer("logout", true, "ok", [`Bye, ${this.#user}!`]);
          return this.#io.interactive || line !== null ? EXIT.ok : EXIT.failed;
        }
        if (line!.trim() === "") continue;
        if (spec?.local && spec.name !== "r") {
          await this.#local(spec, args);
          continue;
        }
        this.#show({
          kind: "error",
          code: "offline",
          message: "Not connected to the server: reconnecting. /quit stops.",
        });
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Asks for a username, then a password, as SPEC §2 describes. On a terminal
   * a wrong one is asked again; from a pipe or a script the login ends at the
   * first wrong answer, so the lines after it are never sent as retries.
   */
  async #login(): Promise<true | number> {
    const retry = this.#io.interactive;
    while (true) {
      const name = await this.#readLine("Username: ");
      if (name === null) return EXIT.failed;
      const res = await this.#conn.request("user", [name]);
      this.#printLines(res, "user", [name]);
      if (res.code === "unknown_user" || res.code === "usage") {
        if (retry) continue;
        return this.#loginFailed(res, "username");
      }
      if (!res.ok) return this.#loginFailed(res);
      while (true) {
        const password = await this.#readLine("Password: ", { secret: true });
        if (password === null) return EXIT.failed;
        const res = await this.#conn.request("pass", [password, String(this.#endpoint.port)]);
        this.#printLines(res, "pass", []);
        if (res.ok) {
          this.#user = String(res.data?.user ?? name);
          if (this.#reconnect) this.#password = password;
          return true;
        }
        if (res.code !== "bad_password") return this.#loginFailed(res);
        if (!retry) return this.#loginFailed(res, "password");
      }
    }
  }

  /**
   * Ends a failed login: says how long a block lasts (SPEC's line does not),
   * and, from a script, that a wrong answer is not asked again.
   */
  #loginFailed(res: ResponseFrame, wrong?: "username" | "password"): number {
    const wait = Number(res.data?.retryAfterSeconds);
    if ((res.code === "blocked" || res.code === "now_blocked") && wait > 0) {
      this.#show({
        kind: "error",
        code: res.code,
        message: `Try again in ${wait} second${wait === 1 ? "" : "s"}.`,
      });
    }
    if (wrong !== undefined) {
      this.#show({
        kind: "error",
        code: "login_failed",
        message: `Login failed: wrong ${wrong}. Input is not a terminal, so it is not asked again.`,
      });
    }
    return EXIT.failed;
  }

  /** Runs one typed line; returns an exit code when the session is over. */
  async #command(line: string): Promise<number | undefined> {
    if (line.trim() === "") return undefined;
    if (!line.trimStart().startsWith("/")) return await this.#plainLine(line);
    const { name, args } = parseCommandLine(line);
    const spec = findCommand(name);
    if (!spec) {
      this.#show({ kind: "error", code: "unknown_command", message: unknownCommandText(name) });
      return undefined;
    }
    const tooLong = lengthError(spec, args);
    if (tooLong !== undefined) {
      this.#answer(spec.name, false, "too_long", [tooLong]);
      return undefined;
    }
    if (spec.local) {
      await this.#local(spec, args);
      return undefined;
    }
    if (spec.name === "p2pvideo" && args.length === 2) {
      await this.#sendFile(args[0], args[1]);
      return undefined;
    }
    // Transfers end with the session: cancel them (and say so) before the goodbye.
    if (spec.name === "logout") await this.stopTransfers();
    return await this.#send(spec.name, args);
  }

  /** Sends a command to the server and shows the answer. */
  async #send(cmd: string, args: string[]): Promise<number | undefined> {
    const res = await this.#conn.request(cmd, args);
    this.#printLines(res, cmd, args);
    if (cmd === "away" && res.ok) this.#away = args[0];
    if (cmd === "logout" && res.ok) return EXIT.ok;
    return undefined;
  }

  /** A line without a command: a message to the `/query` target, if there is one. */
  async #plainLine(line: string): Promise<undefined> {
    const target = this.#target;
    if (target === undefined) {
      this.#show({
        kind: "error",
        code: "unknown_command",
        message: "Error. Invalid command! Commands start with /; " +
          "/query USER sends the lines you type to USER.",
      });
      return undefined;
    }
    const group = this.#roster.groups.has(target);
    const cmd = group ? "groupmsg" : "msgto";
    const tooLong = lengthError(findCommand(cmd)!, [target, line]);
    if (tooLong !== undefined) this.#answer(cmd, false, "too_long", [tooLong]);
    else await this.#send(cmd, [target, line]);
    return undefined;
  }

  /** The commands the client answers itself: `/help`, `/r`, `/query`. */
  async #local(spec: CommandSpec, args: string[]): Promise<void> {
    switch (spec.name) {
      case "transfers":
      case "accept":
      case "decline":
      case "cancel":
        return this.#transferCommand(spec.name, args[0]);
      case "help": {
        const { ok, lines } = helpLines(args[0]);
        this.#answer("help", ok, ok ? "ok" : "unknown_command", lines);
        return;
      }
      case "r":
        if (args.length === 0) {
          this.#answer("r", false, "usage", ["Usage: /r TEXT"]);
        } else if (this.#lastSender === undefined) {
          this.#answer("r", false, "no_sender", [
            "Nobody has sent you a private message yet: /r replies to the last who did.",
          ]);
        } else {
          await this.#send("msgto", [this.#lastSender, args[0]]);
        }
        return;
      case "query":
        this.#target = args[0];
        this.#answer(
          "query",
          true,
          "ok",
          [
            args[0] === undefined
              ? "Lines without a command are no longer sent."
              : `Lines without a command now go to ${args[0]}. Type /query alone to stop.`,
          ],
        );
        return;
    }
  }
  // /p2pvideo USER FILE: check the file, ask the server, then send over UDP in the background.
  async #sendFile(to: string, path: string): Promise<void> {
    let info;
    try {
      const stat = await Deno.stat(path);
      if (!stat.isFile) {
        this.#show({
          kind: "error",
          code: "bad_file",
          message: `Cannot send ${path}: not a regular file.`,
        });
        return;
      }
      info = await describeFile(path);
    } catch (e) {
      const why = e instanceof Deno.errors.NotFound
        ? "no such file"
        : e instanceof Deno.errors.PermissionDenied
        ? "permission denied"
        : errorText(e);
      this.#show({ kind: "error", code: "bad_file", message: `Cannot send ${path}: ${why}.` });
      return;
    }
    const res = await this.#conn.request("p2pvideo", [
      to,
      basename(path),
      String(info.size),
      info.sha256,
    ]);
    if (!res.ok) return this.#printLines(res, "p2pvideo", [to, path]);
    const data = res.data as {
      id: string;
      secret: string;
      host: string;
      port: number;
      file: string;
      serverUdpPort?: number;
    };
    const handle = this.#endpoint.send(
      {
        id: data.id,
        secret: data.secret,
        from: this.#user,
        to,
        fileName: data.file,
        size: info.size,
        sha256: info.sha256,
        server: this.#serverUdp(data.serverUdpPort),
      },
      path,
      { hostname: data.host, port: data.port },
    );
    this.#track(handle, info.size, path, to, "running");
  }

  /**
   * A transfer push: the server announced a file for us; accept it from the sender's IP
   * only, as the policy says (asked, taken, refused) and within the limits.
   */
  #receiveFile(p: TransferPush): void {
    const never = this.#accept === "never";
    const full = this.#transfers.incomingWaiting >= MAX_WAITING_INCOMING;
    const busy = this.#transfers.incomingRunning >= this.#maxIncoming;
    const ask = this.#accept === "ask";
    let handle: TransferHandle;
    try {
      handle = this.#endpoint.expect(
        {
          id: p.id,
          secret: p.secret,
          from: p.from,
          to: this.#user,
          fileName: p.file,
          size: p.size,
          sha256: p.sha256,
          server: this.#serverUdp(p.serverUdpPort, p.serverUdpHost),
        },
        p.fromIp,
        { ask: never || full || ask || busy },
      );
    } catch (e) {
      this.#show({ kind: "push", push: p });
      this.#show({
        kind: "transfer",
        direction: "receive",
        file: p.file,
        peer: p.from,
        ok: false,
        reason: errorText(e),
      });
      return;
    }
    const notice = (code: "offer" | "queued" | "refused", text: string) =>
      this.#show({
        kind: "transfer_notice",
        code,
        id: handle.id.slice(0, 6),
        file: p.file,
        peer: p.from,
        size: p.size,
        text,
      });
    const named = `${p.file} (${formatBytes(p.size)})`;
    if (never || full) {
      // Told to the sender as its refusal; here one line, and the transfer is forgotten.
      handle.decline(
        never ? `${this.#user} does not accept files` : `${this.#user} has too many files waiting`,
      );
      notice(
        "refused",
        never
          ? `Refused ${named} from ${p.from}: files are not accepted (--accept never).`
          : `Refused ${named} from ${p.from}: ${MAX_WAITING_INCOMING} files wait already.`,
      );
      return;
    }
    if (ask) {
      const entry = this.#track(handle, p.size, p.file, p.from, "asking");
      notice("offer", `${p.from} wants to send you ${named}. /accept or /decline`);
      entry.timer = setTimeout(() => {
        if (entry.state !== "asking") return;
        entry.stoppedByUser = "no answer came in time";
        handle.decline(`${this.#user} did not answer`);
      }, ASK_TIMEOUT_MS);
      Deno.unrefTimer(entry.timer);
      return;
    }
    this.#show({ kind: "push", push: p });
    this.#track(handle, p.size, p.file, p.from, busy ? "queued" : "running");
    if (busy) {
      notice("queued", `${named} waits: ${this.#comingIn()}.`);
    }
  }

  /** "4 files are coming in already" (the --max-incoming cap). */
  #comingIn(): string {
    const n = this.#maxIncoming;
    return `${n} file${n === 1 ? " is" : "s are"} coming in already`;
  }

  /** `/transfers`, `/accept`, `/decline`, `/cancel` [ID|FILE]. */
  #transferCommand(cmd: string, query: string | undefined): void {
    const list = this.#transfers;
    if (cmd === "transfers") {
      const lines = list.entries.length === 0
        ? ["No file transfers."]
        : list.entries.map((e) => `${e.handle.direction === "send" ? "↑" : "↓"} ${describe(e)}`);
      return this.#answer(cmd, true, "ok", lines);
    }
    const asking = (e: TransferEntry) => e.state === "asking";
    const found = list.find(query, cmd === "cancel" ? undefined : asking);
    if ("error" in found) {
      const none = cmd === "cancel"
        ? "No file transfer to cancel."
        : "No file waits for an answer.";
      const text = query === undefined && !found.error.startsWith("Which") ? none : found.error;
      return this.#answer(cmd, false, "no_transfer", [text]);
    }
    const entry = found.entry;
    const way = entry.handle.direction === "send" ? `to ${entry.peer}` : `from ${entry.peer}`;
    switch (cmd) {
      case "accept": {
        const slot = this.#transfers.incomingRunning < this.#maxIncoming;
        entry.state = slot ? "running" : "queued";
        if (slot) entry.handle.accept();
        return this.#answer(cmd, true, "ok", [
          slot
            ? `Accepted ${entry.file} ${way}.`
            : `Accepted ${entry.file} ${way}; it waits: ${this.#comingIn()}.`,
        ]);
      }
      case "decline":
        entry.stoppedByUser = "you declined it";
        entry.handle.decline(`${this.#user} declined it`);
        return;
      case "cancel":
        // A receiver's cancel: the file is not wanted, its part goes too.
        if (entry.state === "asking") {
          entry.stoppedByUser = "you declined it";
          entry.handle.decline(`${this.#user} declined it`);
        } else {
          entry.stoppedByUser = "you cancelled it";
          entry.handle.cancel(`${this.#user} cancelled it`, false);
        }
        return;
    }
  }

  /**
   * The server's UDP port for bindings and the relay, when it announced one: on `host`
   * when the offer names one (a cluster's sending node), else on the server we talk to.
   */
  #serverUdp(port: unknown, host?: unknown): { hostname: string; port: number } | undefined {
    if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
      return undefined;
    }
    const hostname = typeof host === "string" && host !== "" ? host : this.#conn.remoteHost;
    return { hostname, port };
  }

  /** Follows a transfer to its end; `file` is named as the user knows it. */
  #track(
    handle: TransferHandle,
    size: number,
    file: string,
    peer: string,
    state: TransferEntry["state"],
  ): TransferEntry {
    const entry = this.#transfers.add(handle, { file, peer, size, state });
    if (size >= PROGRESS_MIN_BYTES) this.#startProgress();
    handle.done.then((result) => {
      this.#transfers.remove(handle);
      this.#showProgress();
      this.#show({
        kind: "transfer",
        direction: handle.direction,
        file,
        peer,
        ...(result.ok
          ? {
            ok: true,
            bytes: result.bytes,
            elapsedMs: result.elapsedMs,
            path: result.path,
            via: result.via,
            resumedBytes: result.resumedBytes || undefined,
          }
          : { ok: false, reason: entry.stoppedByUser ?? result.reason }),
      });
      // A slot is free: the oldest accepted file that waits for one comes in now.
      const next = this.#transfers.incomingRunning < this.#maxIncoming
        ? this.#transfers.nextQueued()
        : undefined;
      if (next !== undefined) {
        next.state = "running";
        next.handle.accept();
      }
    });
    return entry;
  }

  /** Progress of large transfers, shown in the terminal's status (not on pipes). */
  #startProgress(): void {
    if (!this.#io.interactive || this.#out.json || this.#progressTimer !== undefined) return;
    this.#progressTimer = setInterval(() => this.#showProgress(), PROGRESS_INTERVAL_MS);
  }

  #showProgress(): void {
    if (this.#progressTimer === undefined) return;
    const parts = this.#transfers.entries.map(({ handle: h, state, peer }) =>
      `${h.direction === "send" ? "↑" : "↓"} ${
        state !== "running" || h.waiting
          ? `${h.fileName}: waiting for ${state === "running" ? peer : "you"}`
          : formatProgress({ name: h.fileName, ...h.progress() })
      }`
    );
    this.#io.setStatus?.(parts.length > 0 ? parts.join(" | ") : undefined);
    if (parts.length === 0) {
      clearInterval(this.#progressTimer);
      this.#progressTimer = undefined;
    }
  }

  async #waitForTransfers(lost: Promise<unknown>): Promise<void> {
    while (this.#transfers.entries.length > 0) {
      await Promise.race([Promise.all(this.#transfers.entries.map((e) => e.handle.done)), lost]);
      if (this.#conn.isClosed) return;
    }
  }

  /**
   * Cancels what is still moving (the session is over). A receiver keeps its parts: the
   * same file sent again later resumes.
   */
  async stopTransfers(): Promise<void> {
    const entries = [...this.#transfers.entries];
    for (const e of entries) {
      e.stoppedByUser ??= "you logged out";
      e.handle.cancel(`${this.#user || "the user"} logged out`);
    }
    await Promise.all(entries.map((e) => e.handle.done));
    if (this.#progressTimer !== undefined) clearInterval(this.#progressTimer);
    this.#progressTimer = undefined;
    this.#io.setStatus?.(undefined);
  }

  /**
   * Asks, without printing the answers, who is online and which groups the
   * user is in, so that Tab completes names from the first prompt on.
   */
  async #primeCompletion(): Promise<void> {
    for (const cmd of ["activeuser", "groups"]) {
      try {
        const res = await this.#conn.request(cmd, [], { quiet: true });
        this.#roster.learn({ kind: "response", cmd, args: [], res });
      } catch {
        return; // the connection ended; the main loop reports it
      }
    }
  }

  /** Shows a response (the password, for `pass`, is never passed in). */
  #printLines(res: ResponseFrame, cmd: string, args: string[]): void {
    this.#show({ kind: "response", cmd, args, res });
  }

  #onPush(p: PushFrame): void {
    if (p.ev === "msg") this.#lastSender = p.from;
    // A transfer's announcement is shown as its policy says (see #receiveFile).
    if (p.ev === "transfer") return this.#receiveFile(p);
    this.#show({ kind: "push", push: p });
    if ((p.ev === "msg" || p.ev === "groupmsg") && mentionsUser(p.text, this.#user)) {
      this.#io.bell?.();
    }
  }

  get user(): string {
    return this.#user;
  }
}

/**
 * The chat client: logs in, then reads commands and prints what arrives.
 * Talks to the user only through a {@link ClientIO}, so tests drive it with
 * plain lines.
 *
 * @module
 */

import { basename } from "node:path";
import { isLoopback } from "../shared/address.ts";
import { COMMANDS, findCommand, parseCommandLine } from "../shared/commands.ts";
import type { PushFrame, ResponseFrame, TransferPush } from "../shared/protocol.ts";
import { formatProgress } from "../shared/transfer/progress.ts";
import { ConnectionClosedError, ServerConnection } from "./connection.ts";
import type { ClientIO } from "./io.ts";
import { describeFile, TransferEndpoint, type TransferHandle } from "./transfer_driver.ts";
import { ClientOutput } from "./output.ts";
import type { Roster } from "./roster.ts";
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
  /** Refuse incoming files larger than this (bytes). Default: no limit. */
  maxFileSize?: number;
  /** UDP payload size of outgoing transfers. Default: 1200, or 60 000 B to a loopback peer. */
  payloadSize?: number;
  io: ClientIO;
  /** One JSON object per event on the IO instead of text (`--json`). Default false. */
  json?: boolean;
  /** Colours of text output. Default none. */
  style?: Style;
  /** Names seen during the session, for tab completion. */
  roster?: Roster;
}

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
  const output = new ClientOutput(io, options);
  let conn: ServerConnection;
  try {
    conn = await ServerConnection.connect({
      host: options.host,
      port: options.port,
      tls: options.tls,
    });
  } catch (e) {
    const message = `Cannot connect to ${options.host}:${options.port}: ${errorText(e)}`;
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
      maxFileSize: options.maxFileSize,
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
  const client = new ChatClient(conn, endpoint, options, output);
  try {
    return await client.run();
  } finally {
    await client.stopTransfers();
    await endpoint.close();
    conn.close();
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** One logged-in (or logging-in) client. */
class ChatClient {
  readonly #conn: ServerConnection;
  readonly #io: ClientIO;
  readonly #endpoint: TransferEndpoint;
  readonly #transfers = new Set<TransferHandle>();
  #progressTimer: ReturnType<typeof setInterval> | undefined;
  readonly #out: ClientOutput;
  #user = "";

  constructor(
    conn: ServerConnection,
    endpoint: TransferEndpoint,
    options: ClientOptions,
    output: ClientOutput,
  ) {
    this.#conn = conn;
    this.#io = options.io;
    this.#endpoint = endpoint;
    this.#out = output;
    conn.onPush = (p) => this.#onPush(p);
    conn.onError = (m) =>
      this.#out.emit({ kind: "error", code: "server_error", message: `Server error: ${m}` });
  }

  /** Prompts are shown only in text mode. */
  #readLine(prompt: string, options?: { secret?: boolean }): Promise<string | null> {
    return this.#io.readLine(this.#out.json ? "" : prompt, options);
  }

  async run(): Promise<number> {
    const lost = this.#conn.closed.then(() => "lost" as const);
    try {
      const login = await Promise.race([this.#login(), lost]);
      if (login !== true) return login === "lost" ? this.#lost() : EXIT.failed;
      this.#out.emit({ kind: "ready", user: this.#user, commands: COMMANDS.map((c) => c.name) });
      if (this.#io.interactive) this.#primeCompletion();
      while (true) {
        const line = await Promise.race([this.#readLine("> "), lost]);
        if (line === "lost") return this.#lost();
        // At the end of piped input, let running transfers finish before logging out.
        if (line === null) await this.#waitForTransfers(lost);
        const result = await this.#command(line ?? "/logout");
        if (result !== undefined) return result;
      }
    } catch (e) {
      if (e instanceof ConnectionClosedError) return this.#lost();
      throw e;
    }
  }

  async #lost(): Promise<number> {
    const reason = await this.#conn.closed;
    this.#out.emit({ kind: "disconnected", reason });
    return EXIT.failed;
  }

  /** Asks for a username, then a password, as SPEC §2 describes. */
  async #login(): Promise<true | number> {
    while (true) {
      const name = await this.#readLine("Username: ");
      if (name === null) return EXIT.failed;
      const res = await this.#conn.request("user", [name]);
      this.#printLines(res, "user", [name]);
      if (res.code === "unknown_user" || res.code === "usage") continue;
      if (!res.ok) return EXIT.failed;
      while (true) {
        const password = await this.#readLine("Password: ", { secret: true });
        if (password === null) return EXIT.failed;
        const res = await this.#conn.request("pass", [password, String(this.#endpoint.port)]);
        this.#printLines(res, "pass", []);
        if (res.ok) {
          this.#user = String(res.data?.user ?? name);
          return true;
        }
        if (res.code !== "bad_password") return EXIT.failed;
      }
    }
  }

  /** Runs one typed line; returns an exit code when the session is over. */
  async #command(line: string): Promise<number | undefined> {
    if (line.trim() === "") return undefined;
    const { name, args } = parseCommandLine(line);
    const spec = findCommand(name);
    if (!spec) {
      this.#out.emit({
        kind: "error",
        code: "unknown_command",
        message: "Error. Invalid command!",
      });
      return undefined;
    }
    if (name === "p2pvideo" && args.length === 2) {
      await this.#sendFile(args[0], args[1]);
      return undefined;
    }
    // Transfers end with the session: cancel them (and say so) before the goodbye.
    if (name === "logout") await this.stopTransfers();
    const res = await this.#conn.request(name, args);
    this.#printLines(res, name, args);
    if (name === "logout" && res.ok) return EXIT.ok;
    return undefined;
  }

  // /p2pvideo USER FILE: check the file, ask the server, then send over UDP in the background.
  async #sendFile(to: string, path: string): Promise<void> {
    let info;
    try {
      const stat = await Deno.stat(path);
      if (!stat.isFile) {
        this.#out.emit({
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
      this.#out.emit({ kind: "error", code: "bad_file", message: `Cannot send ${path}: ${why}.` });
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
    this.#track(handle, info.size, path, to);
  }

  // A transfer push: the server announced a file for us; accept it from the sender's IP only.
  #receiveFile(p: TransferPush): void {
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
      );
    } catch (e) {
      this.#out.emit({
        kind: "transfer",
        direction: "receive",
        file: p.file,
        peer: p.from,
        ok: false,
        reason: errorText(e),
      });
      return;
    }
    this.#track(handle, p.size, p.file, p.from);
  }

  /** The server's UDP port for bindings and the relay, when it announced one. */
  /** The server's UDP port: on `host` when the offer names one (a cluster's sending node). */
  #serverUdp(port: unknown, host?: unknown): { hostname: string; port: number } | undefined {
    if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
      return undefined;
    }
    const hostname = typeof host === "string" && host !== "" ? host : this.#conn.remoteHost;
    return { hostname, port };
  }

  /** Follows a transfer to its end; `file` is named as the user knows it. */
  #track(handle: TransferHandle, size: number, file: string, peer: string): void {
    this.#transfers.add(handle);
    if (size >= PROGRESS_MIN_BYTES) this.#startProgress();
    handle.done.then((result) => {
      this.#transfers.delete(handle);
      this.#showProgress();
      this.#out.emit({
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
          }
          : { ok: false, reason: result.reason }),
      });
    });
  }

  /** Progress of large transfers, shown in the terminal's status (not on pipes). */
  #startProgress(): void {
    if (!this.#io.interactive || this.#out.json || this.#progressTimer !== undefined) return;
    this.#progressTimer = setInterval(() => this.#showProgress(), PROGRESS_INTERVAL_MS);
  }

  #showProgress(): void {
    if (this.#progressTimer === undefined) return;
    const parts = [...this.#transfers].map((h) =>
      `${h.direction === "send" ? "↑" : "↓"} ${
        formatProgress({ name: h.fileName, ...h.progress() })
      }`
    );
    this.#io.setStatus?.(parts.length > 0 ? parts.join(" | ") : undefined);
    if (parts.length === 0) {
      clearInterval(this.#progressTimer);
      this.#progressTimer = undefined;
    }
  }

  async #waitForTransfers(lost: Promise<unknown>): Promise<void> {
    while (this.#transfers.size > 0) {
      await Promise.race([Promise.all([...this.#transfers].map((h) => h.done)), lost]);
      if (this.#conn.isClosed) return;
    }
  }

  /** Cancels what is still moving (the session is over). */
  async stopTransfers(): Promise<void> {
    for (const h of this.#transfers) h.cancel("the user logged out");
    await Promise.all([...this.#transfers].map((h) => h.done));
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
        const res = await this.#conn.request(cmd);
        this.#out.roster.learn({ kind: "response", cmd, args: [], res });
      } catch {
        return; // the connection ended; the main loop reports it
      }
    }
  }

  /** Shows a response (the password, for `pass`, is never passed in). */
  #printLines(res: ResponseFrame, cmd: string, args: string[]): void {
    this.#out.emit({ kind: "response", cmd, args, res });
  }

  #onPush(p: PushFrame): void {
    this.#out.emit({ kind: "push", push: p });
    if (p.ev === "transfer") this.#receiveFile(p);
  }

  get user(): string {
    return this.#user;
  }
}

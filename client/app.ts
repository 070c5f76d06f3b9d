/**
 * The chat client: logs in, then reads commands and prints what arrives.
 * Talks to the user only through a {@link ClientIO}, so tests drive it with
 * plain lines.
 *
 * @module
 */

import { COMMANDS, findCommand, parseCommandLine } from "../shared/commands.ts";
import type { PushFrame, ResponseFrame } from "../shared/protocol.ts";
import { ConnectionClosedError, ServerConnection } from "./connection.ts";
import { formatCommandList, formatPush } from "./format.ts";
import type { ClientIO } from "./io.ts";

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
  io: ClientIO;
}

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
  let conn: ServerConnection;
  try {
    conn = await ServerConnection.connect({
      host: options.host,
      port: options.port,
      tls: options.tls,
    });
  } catch (e) {
    io.error(`Cannot connect to ${options.host}:${options.port}: ${errorText(e)}`);
    return EXIT.failed;
  }
  const client = new ChatClient(conn, options);
  try {
    return await client.run();
  } finally {
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
  #user = "";
  #udpPort = 0;

  constructor(conn: ServerConnection, options: ClientOptions) {
    this.#conn = conn;
    this.#io = options.io;
    this.#udpPort = options.udpPort;
    conn.onPush = (p) => this.#onPush(p);
    conn.onError = (m) => this.#io.error(`Server error: ${m}`);
  }

  async run(): Promise<number> {
    const lost = this.#conn.closed.then(() => "lost" as const);
    try {
      const login = await Promise.race([this.#login(), lost]);
      if (login !== true) return login === "lost" ? this.#lost() : EXIT.failed;
      this.#io.print(formatCommandList(COMMANDS.map((c) => c.name)));
      while (true) {
        const line = await Promise.race([this.#io.readLine("> "), lost]);
        if (line === "lost") return this.#lost();
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
    this.#io.error(`Disconnected from the server: ${reason}`);
    return EXIT.failed;
  }

  /** Asks for a username, then a password, as SPEC §2 describes. */
  async #login(): Promise<true | number> {
    while (true) {
      const name = await this.#io.readLine("Username: ");
      if (name === null) return EXIT.failed;
      const res = await this.#conn.request("user", [name]);
      if (res.code === "unknown_user" || res.code === "usage") {
        this.#printLines(res);
        continue;
      }
      if (!res.ok) return this.#printLines(res), EXIT.failed;
      while (true) {
        const password = await this.#io.readLine("Password: ", { secret: true });
        if (password === null) return EXIT.failed;
        const res = await this.#conn.request("pass", [password, String(this.#udpPort)]);
        this.#printLines(res);
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
      this.#io.error("Error. Invalid command!");
      return undefined;
    }
    const res = await this.#conn.request(name, args);
    this.#printLines(res);
    if (name === "logout" && res.ok) return EXIT.ok;
    return undefined;
  }

  #printLines(res: ResponseFrame): void {
    for (const line of res.lines) {
      if (res.ok) this.#io.print(line);
      else this.#io.error(line);
    }
  }

  #onPush(p: PushFrame): void {
    this.#io.print(formatPush(p));
  }

  get user(): string {
    return this.#user;
  }
}

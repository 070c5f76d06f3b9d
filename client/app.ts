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
import type { ClientIO } from "./io.ts";
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
  io: ClientIO;
  /** One JSON object per event on the IO instead of text (`--json`). Default false. */
  json?: boolean;
  /** Colours of text output. Default none. */
  style?: Style;
  /** Names seen during the session, for tab completion. */
  roster?: Roster;
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
  const output = new ClientOutput(io, options);
  let conn: ServerConnection;
  try {
    conn = await ServerConnection.connect({ host: options.host, port: options.port });
  } catch (e) {
    const message = `Cannot connect to ${options.host}:${options.port}: ${errorText(e)}`;
    output.emit({ kind: "error", code: "connect", message });
    return EXIT.failed;
  }
  const client = new ChatClient(conn, options, output);
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
  readonly #out: ClientOutput;
  #user = "";
  #udpPort = 0;

  constructor(conn: ServerConnection, options: ClientOptions, output: ClientOutput) {
    this.#conn = conn;
    this.#io = options.io;
    this.#out = output;
    this.#udpPort = options.udpPort;
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
        const res = await this.#conn.request("pass", [password, String(this.#udpPort)]);
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
    const res = await this.#conn.request(name, args);
    this.#printLines(res, name, args);
    if (name === "logout" && res.ok) return EXIT.ok;
    return undefined;
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
  }

  get user(): string {
    return this.#user;
  }
}

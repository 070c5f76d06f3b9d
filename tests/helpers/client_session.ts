/**
 * The real client (`runClient`) on scripted lines, logged in: what the
 * client's integration tests start from.
 *
 * @module
 */

import { type ClientOptions, runClient } from "../../client/app.ts";
import { ScriptedTerminal } from "./scripted_io.ts";
import type { TestServer } from "./test_server.ts";

/** A running client: its terminal, and its exit code once it ends. */
export interface ScriptedClient {
  t: ScriptedTerminal;
  exit: Promise<number>;
}

/** Starts the client against `s` and logs in as `user` (its password from the server's accounts). */
export async function scriptedClient(
  s: TestServer,
  user: string,
  options: Partial<ClientOptions> = {},
): Promise<ScriptedClient> {
  const t = new ScriptedTerminal();
  const exit = runClient({
    host: "127.0.0.1",
    port: s.port,
    udpPort: 0,
    downloadsDir: ".",
    io: t.io,
    ...options,
  });
  t.type(user, s.users[user]);
  await t.waitFor(/^Enter one of the following commands/);
  return { t, exit };
}

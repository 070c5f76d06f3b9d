/**
 * `tessenger`: one program, server and client. This file only picks the
 * subcommand and hands over.
 *
 * @module
 */

import { clientMain } from "./client/cli.ts";
import { serverMain } from "./server/cli.ts";
import { userMain } from "./server/user_cli.ts";
import { UsageError } from "./shared/cli_args.ts";
import { VERSION } from "./shared/version.ts";

const USAGE =
  "Usage: tessenger <server|client|user> [ARGS] | tessenger --help | tessenger --version";

const HELP = `${USAGE}

TESSENGER ${VERSION}: a terminal chat system with peer-to-peer file transfer.

Subcommands (each has --help):
  server [SERVER_IP] [TCP_PORT] [MAX_ATTEMPTS]   run the chat server
  client [SERVER_IP] [TCP_PORT] [UDP_PORT]       run the chat client
  user add NAME | user passwd NAME               add a user or change a password

Options:
  -h, --help      show this help
  -V, --version   show the version`;

async function main(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case "server":
      return await serverMain(rest);
    case "client":
      return await clientMain(rest);
    case "user":
      return await userMain(rest);
    case "-h":
    case "--help":
    case "help":
      console.log(HELP);
      return 0;
    case "-V":
    case "--version":
      console.log(`tessenger ${VERSION}`);
      return 0;
    case undefined:
      throw new UsageError("Missing subcommand", USAGE);
    default:
      throw new UsageError(`Unknown subcommand: ${JSON.stringify(sub)}`, USAGE);
  }
}

if (import.meta.main) {
  let code: number;
  try {
    code = await main(Deno.args);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`tessenger: ${e.message}`);
      if (e.usage) console.error(e.usage);
      code = 2;
    } else {
      console.error(`tessenger: ${e instanceof Error ? e.message : String(e)}`);
      code = 1;
    }
  }
  Deno.exit(code);
}

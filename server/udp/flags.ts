/**
 * The server's UDP flags (`--udp-port`, `--no-relay`, the relay's caps): their parse
 * spec, help lines and parsing, so server/cli.ts only spreads them in.
 *
 * @module
 */

import { parseByteSize, parseIntIn, parsePort } from "../../shared/cli_args.ts";
import { DEFAULT_RELAY_SETTINGS, type RelaySettings } from "./rendezvous.ts";

/** What the UDP port of a server is to do. */
export interface UdpSettings {
  /** UDP port; 0 lets the OS pick; undefined: the TCP port's number. */
  port?: number;
  /** The relay's switch and caps; missing fields take their defaults. */
  relay?: Partial<RelaySettings>;
}

/** parseArgs options of the UDP flags. */
export const UDP_FLAGS = {
  "udp-port": { type: "string" },
  "no-relay": { type: "boolean" },
  "relay-max-transfers": { type: "string" },
  "relay-transfer-rate": { type: "string" },
  "relay-total-rate": { type: "string" },
} as const;

/** Usage fragment of the UDP flags. */
export const UDP_USAGE = "[--udp-port N] [--no-relay] [--relay-max-transfers N] " +
  "[--relay-transfer-rate SIZE] [--relay-total-rate SIZE]";

const mib = (bytes: number) => `${bytes / (1024 * 1024)}M`;

/** Help lines of the UDP flags. */
export const UDP_HELP = `File transfers (docs/transfer.md § NAT traversal):
  --udp-port N                UDP port for address discovery and the relay, 0 lets
                              the OS pick                      (default the TCP port)
  --no-relay                  answer binding requests but relay no transfer
                                                               (default relay on)
  --relay-max-transfers N     transfers relayed at once        (default ${DEFAULT_RELAY_SETTINGS.maxTransfers})
  --relay-transfer-rate SIZE  bytes per second one relayed transfer may use, e.g. 10M
                                                               (default ${
  mib(DEFAULT_RELAY_SETTINGS.transferRateBps)
})
  --relay-total-rate SIZE     bytes per second all relayed transfers may use
                                                               (default ${
  mib(DEFAULT_RELAY_SETTINGS.totalRateBps)
})`;

/**
 * The UDP settings of parsed flags.
 * @throws {UsageError} (from shared/cli_args.ts) with a one-line reason.
 */
export function parseUdpFlags(v: {
  "udp-port"?: string;
  "no-relay"?: boolean;
  "relay-max-transfers"?: string;
  "relay-transfer-rate"?: string;
  "relay-total-rate"?: string;
}): UdpSettings {
  const relay: Partial<RelaySettings> = { relay: !(v["no-relay"] ?? false) };
  if (v["relay-max-transfers"] !== undefined) {
    relay.maxTransfers = parseIntIn(v["relay-max-transfers"], "relay max transfers", 0, 100_000);
  }
  if (v["relay-transfer-rate"] !== undefined) {
    relay.transferRateBps = parseByteSize(v["relay-transfer-rate"], "relay transfer rate");
  }
  if (v["relay-total-rate"] !== undefined) {
    relay.totalRateBps = parseByteSize(v["relay-total-rate"], "relay total rate");
  }
  return {
    port: v["udp-port"] === undefined ? undefined : parsePort(v["udp-port"], "UDP port", true),
    relay,
  };
}

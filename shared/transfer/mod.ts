/**
 * P2P file transfer over UDP, as pure sans-IO code: packet codec and protection, the
 * sender and receiver state machines, progress formatting and file-name rules. No
 * sockets, no clock: drivers (client/transfer_driver.ts) do the I/O. See docs/transfer.md.
 *
 * @module
 */

export * from "./constants.ts";
export {
  type TransferEvent,
  type TransferMachineOptions,
  type TransferState,
  type TransferStats,
} from "./_machine.ts";
export * from "./file_name.ts";
export * from "./keys.ts";
export * from "./packet.ts";
export * from "./packet_protection.ts";
export * from "./progress.ts";
export * from "./receiver.ts";
export * from "./sender.ts";
export {
  CONGESTION_CONTROLS,
  type CongestionControlName,
  DEFAULT_CONGESTION_CONTROL,
} from "./congestion/mod.ts";

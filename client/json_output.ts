/**
 * `tessenger client --json`: one JSON object per event, one per line, for
 * scripts and bots. Prompts are never printed in this mode.
 *
 * @module
 */

import type { ClientEvent } from "./events.ts";

/**
 * The JSON line for an event. Fields:
 * - `{"type":"response","cmd","ok","code","lines","data"?}`
 * - `{"type":"push","ev",...push fields}` (a transfer's `secret` is left out)
 * - `{"type":"ready","user","commands"}`
 * - `{"type":"error","code","message"}`
 * - `{"type":"disconnected","reason","reconnecting"?}`
 * - `{"type":"reconnected","user"}`
 * - `{"type":"transfer","direction","file","peer","ok","bytes"?,"path"?,"via"?,"reason"?,"elapsedMs"?,"resumedBytes"?}`
 *   (`elapsedMs` in whole milliseconds)
 * - `{"type":"transfer_notice","code","id","file","peer","size","text"}` (an incoming file
 *   waits for /accept or /decline, waits for a slot, or was refused)
 *
 * @example
 * ```ts
 * formatJsonEvent({ kind: "disconnected", reason: "server shutting down" });
 * // '{"type":"disconnected","reason":"server shutting down"}'
 * ```
 */
export function formatJsonEvent(event: ClientEvent): string {
  switch (event.kind) {
    case "response": {
      const { ok, code, lines, data } = event.res;
      return JSON.stringify({
        type: "response",
        cmd: event.cmd,
        ok,
        code,
        lines,
        ...(data === undefined ? {} : { data }),
      });
    }
    case "push": {
      const { t: _t, ...fields } = event.push;
      if (fields.ev === "transfer") {
        const { secret: _secret, ...rest } = fields;
        return JSON.stringify({ type: "push", ...rest });
      }
      return JSON.stringify({ type: "push", ...fields });
    }
    case "ready":
      return JSON.stringify({ type: "ready", user: event.user, commands: event.commands });
    case "error":
      return JSON.stringify({ type: "error", code: event.code, message: event.message });
    case "disconnected":
      return JSON.stringify({
        type: "disconnected",
        reason: event.reason,
        ...(event.reconnecting ? { reconnecting: true } : {}),
      });
    case "reconnected":
      return JSON.stringify({ type: "reconnected", user: event.user });
    case "transfer": {
      const { kind: _kind, elapsedMs, ...fields } = event;
      const ms = elapsedMs === undefined ? {} : { elapsedMs: Math.round(elapsedMs) };
      return JSON.stringify({ type: "transfer", ...fields, ...ms });
    }
    case "transfer_notice": {
      const { kind: _kind, ...fields } = event;
      return JSON.stringify({ type: "transfer_notice", ...fields });
    }
  }
}

/**
 * How the client shows what arrives: pure functions of an event, so every
 * line the user reads is covered by a unit test.
 *
 * @module
 */

import type { PushFrame } from "../shared/protocol.ts";

/** Formats a byte count for people: `512 B`, `1.5 KiB`, `12.3 MiB`. */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** The line the client prints for a push from the server. */
export function formatPush(p: PushFrame): string {
  switch (p.ev) {
    case "msg":
      return `${p.ts}, ${p.from}: ${p.text}`;
    case "groupmsg":
      return `${p.ts}, ${p.group}, ${p.from}: ${p.text}`;
    case "invite":
      return `${p.from} invited you to the group chat ${p.group} ` +
        `(${p.members.join(" ")}). Type /joingroup ${p.group} to join.`;
    case "transfer":
      return `${p.from} is sending you ${p.file} (${formatBytes(p.size)}).`;
    case "notice":
      return p.text;
  }
}

/** The commands line shown after login. */
export function formatCommandList(names: string[]): string {
  return `Enter one of the following commands (${names.map((n) => `/${n}`).join(", ")}):`;
}

/**
 * Timestamps in the product's one format, `DD Mon YYYY HH:MM:SS`, local time.
 *
 * @module
 */

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** A source of the current time in milliseconds since the epoch. Tests inject their own. */
export type Clock = () => number;

/** The real clock. */
export const systemClock: Clock = () => Date.now();

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/**
 * Formats a time as `DD Mon YYYY HH:MM:SS` in local time.
 *
 * @example
 * ```ts
 * formatTimestamp(new Date(2023, 5, 1, 15, 0, 1).getTime()); // "01 Jun 2023 15:00:01"
 * ```
 */
export function formatTimestamp(ms: number): string {
  // The text changes once a second; a busy server formats the same second many times.
  const second = Math.floor(ms / 1000);
  if (second === lastSecond) return lastText;
  const d = new Date(ms);
  lastText = `${pad2(d.getDate())} ${MONTHS[d.getMonth()]} ${d.getFullYear()} ` +
    `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  lastSecond = second;
  return lastText;
}

let lastSecond = NaN;
let lastText = "";

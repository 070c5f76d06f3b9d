/**
 * Rules for user text that reaches a terminal, a log line or a file name:
 * what may never be in it (line breaks of any kind), and what is made
 * harmless before it is shown (characters that reorder or hide text).
 *
 * @module
 */

/**
 * Control characters and every line or paragraph break: C0 and C1 controls
 * (NEL, U+0085, among them), DEL, U+2028 and U+2029. Message text may not
 * contain them, so no log line can be split by one.
 */
// deno-lint-ignore no-control-regex
export const BREAKING_CHARS = /[\x00-\x1f\x7f-\x9f\u2028\u2029]/;

/**
 * Characters that reorder or hide what a terminal shows: bidirectional
 * embeddings, overrides, isolates and marks (U+061C, U+200E–U+200F,
 * U+202A–U+202E, U+2066–U+2069) and invisible characters (zero-width space
 * U+200B, word joiner and invisible operators U+2060–U+2064, BOM U+FEFF).
 * Zero-width joiners (U+200C, U+200D) are kept: emoji and scripts need them.
 */
const SPOOFING_CHARS = /[\u061c\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g;

/**
 * `text` made safe to show: spoofing characters removed, breaking ones
 * replaced by U+FFFD, so what the user reads is what was sent.
 *
 * @example
 * ```ts
 * import { sanitizeForDisplay } from "./text.ts";
 * sanitizeForDisplay("evil\u202Etxt.exe"); // "eviltxt.exe"
 * ```
 */
export function sanitizeForDisplay(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(SPOOFING_CHARS, "").replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029]/g, "\ufffd");
}

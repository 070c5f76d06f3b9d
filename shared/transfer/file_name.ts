/**
 * Safe file names for received files: the receiver saves `SENDER_FILE` using the base
 * name only, so a hostile name cannot point outside the downloads directory.
 *
 * @module
 */

/** Longest name produced, in UTF-16 code units (file systems allow 255 bytes). */
const MAX_NAME_LENGTH = 200;
/** Name used when nothing usable is left. */
const FALLBACK_NAME = "file";
// deno-lint-ignore no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029/\\:*?"<>|]/g;
/** Characters that reorder or hide a name's letters (`evil\u202Etxt.exe`): removed. */
const SPOOFING = /[\u061c\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g;

/**
 * The last path component of `name` with separators, control characters, line separators
 * and characters Windows forbids replaced by `_`, bidi controls and zero-width characters
 * removed, leading dots and trailing dots/spaces removed; never empty, `.` or `..`.
 *
 * @example sanitizeBaseName("../../etc/passwd") // "passwd"
 */
export function sanitizeBaseName(name: string): string {
  const parts = name.split(/[/\\]/);
  let base = parts[parts.length - 1] ?? "";
  base = base.replace(SPOOFING, "").replace(UNSAFE, "_").replace(/^[.\s]+/, "")
    .replace(/[.\s]+$/, "");
  if (base.length > MAX_NAME_LENGTH) {
    const dot = base.lastIndexOf(".");
    const ext = dot > 0 && base.length - dot <= 16 ? base.slice(dot) : "";
    base = base.slice(0, MAX_NAME_LENGTH - ext.length) + ext;
  }
  return base === "" ? FALLBACK_NAME : base;
}

/**
 * The name a received file is saved under: `SENDER_FILE`, both parts sanitized.
 *
 * @example receivedFileName("Yoda", "clips/video.mp4") // "Yoda_video.mp4"
 */
export function receivedFileName(sender: string, fileName: string): string {
  return sanitizeBaseName(`${sanitizeBaseName(sender)}_${sanitizeBaseName(fileName)}`);
}

/**
 * The `index`-th alternative for a taken name: `a.mp4`, `a (1).mp4`, `a (2).mp4`, …
 *
 * @example alternativeName("a.mp4", 2) // "a (2).mp4"
 */
export function alternativeName(name: string, index: number): string {
  if (index === 0) return name;
  const dot = name.lastIndexOf(".");
  return dot > 0 ? `${name.slice(0, dot)} (${index})${name.slice(dot)}` : `${name} (${index})`;
}

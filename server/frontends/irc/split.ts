/**
 * Fitting text into 512-byte IRC lines. A native message may be 4,000
 * characters; an IRC line holds what is left of 512 bytes after the
 * `:nick!user@host PRIVMSG target :` prefix and the CR LF. The text is cut on
 * character boundaries (whole graphemes where they fit, never inside a UTF-8
 * sequence), at a space where one is near the end, and the pieces joined give
 * the text back exactly. Nothing reassembles them: receivers see the lines.
 *
 * @module
 */

import { utf8Length } from "./message.ts";

const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/**
 * Splits `text` into pieces of at most `maxBytes` UTF-8 bytes each. A piece
 * ends after a space when that space leaves it at least half full; otherwise
 * it ends at a grapheme boundary, or, for a single grapheme longer than the
 * budget, at a code point boundary. `pieces.join("") === text`.
 *
 * @throws {RangeError} when `maxBytes` is under 4 (one code point may need 4).
 * @example
 * ```ts
 * splitText("hello brave new world", 12); // ["hello brave ", "new world"]
 * ```
 */
export function splitText(text: string, maxBytes: number): string[] {
  if (!(maxBytes >= 4)) throw new RangeError(`Cannot split text into ${maxBytes}-byte pieces`);
  if (text.length <= maxBytes / 3 || utf8Length(text) <= maxBytes) return [text];
  const pieces: string[] = [];
  let start = 0; // where the current piece starts (UTF-16 index)
  let bytes = 0; // its length so far
  let spaceEnd = -1; // just after the last space in it
  let bytesToSpace = 0;
  const cut = (at: number, atBytes: number) => {
    pieces.push(text.slice(start, at));
    start = at;
    bytes -= atBytes;
    spaceEnd = -1;
  };
  for (const { segment, index } of graphemes.segment(text)) {
    const size = utf8Length(segment);
    if (size > maxBytes) {
      // A grapheme longer than a whole line (a pile of combining marks).
      if (index > start) cut(index, bytes);
      let at = index;
      for (const cp of segment) {
        const n = utf8Length(cp);
        if (bytes + n > maxBytes) cut(at, bytes);
        bytes += n;
        at += cp.length;
      }
      continue;
    }
    while (bytes + size > maxBytes) {
      if (spaceEnd > start && bytesToSpace * 2 >= maxBytes) cut(spaceEnd, bytesToSpace);
      else cut(index, bytes);
    }
    bytes += size;
    if (segment === " ") {
      spaceEnd = index + 1;
      bytesToSpace = bytes;
    }
  }
  if (start < text.length) pieces.push(text.slice(start));
  return pieces;
}

/**
 * Packs words (nicks, channel names) into space-separated lists of at most
 * `maxBytes` bytes each, for replies such as NAMES, ISON and MONITOR that
 * must span several lines when the list is long. A word longer than
 * `maxBytes` gets a list of its own.
 *
 * @example
 * ```ts
 * packWords(["Hans", "Yoda", "Luke"], 9); // ["Hans Yoda", "Luke"]
 * ```
 */
export function packWords(words: readonly string[], maxBytes: number): string[] {
  const lists: string[] = [];
  let current = "";
  let bytes = 0;
  for (const w of words) {
    const n = utf8Length(w);
    if (current === "") {
      current = w;
      bytes = n;
    } else if (bytes + 1 + n > maxBytes) {
      lists.push(current);
      current = w;
      bytes = n;
    } else {
      current += ` ${w}`;
      bytes += 1 + n;
    }
  }
  if (current !== "") lists.push(current);
  return lists;
}

/**
 * The file data a sender holds: blocks the driver pushed, in file order, kept until the
 * receiver acknowledged every byte of a block, then handed back through `release` so the
 * driver can reuse the memory. Reads ahead of what was sent only so far
 * (READ_AHEAD_BYTES): fresh memory is dear to touch, and reading early gains nothing once
 * a few blocks are waiting.
 *
 * ```ts
 * declare const size: number, chunkSize: number, sndUna: number, sndNxt: number;
 * declare function read(offset: number, length: number): Uint8Array;
 * declare function seal(payload: Uint8Array): void;
 * const buffer = new SendBuffer({ size, chunkSize, bytes: 16 << 20 });
 * const want = buffer.want(sndUna * chunkSize, sndNxt * chunkSize);
 * if (want) buffer.push(want.offset, read(want.offset, want.length));
 * seal(buffer.slice(sndNxt * chunkSize, chunkSize)); // a view when it lies in one block
 * buffer.release(sndUna * chunkSize);
 * ```
 *
 * @module
 */

import { READ_AHEAD_BYTES } from "./constants.ts";

/** Options of {@linkcode SendBuffer}. */
export interface SendBufferOptions {
  /** File size in bytes. */
  size: number;
  /** File bytes per DATA packet. */
  chunkSize: number;
  /** Most file data held (unacknowledged plus read ahead), bytes. */
  bytes: number;
  /** Called with each pushed array once no byte of it is needed any more. */
  release?: (bytes: Uint8Array) => void;
}

/** Contiguous blocks of the file from the oldest unacknowledged one to what was pushed. */
export class SendBuffer {
  /** Most file data held, bytes. */
  readonly capacity: number;
  readonly #size: number;
  readonly #chunkSize: number;
  readonly #release: ((bytes: Uint8Array) => void) | undefined;
  #blocks: Array<{ offset: number; bytes: Uint8Array }> = [];
  #head = 0;
  #end = 0;

  constructor(options: SendBufferOptions) {
    this.#size = options.size;
    this.#chunkSize = options.chunkSize;
    this.capacity = Math.max(options.bytes, 4 * options.chunkSize);
    this.#release = options.release;
  }

  /** Where the pushed data ends (the next push's offset). */
  get end(): number {
    return this.#end;
  }

  /**
   * Which bytes to push next, given the oldest unacknowledged byte and the first unsent
   * one; undefined when the buffer is full, enough is read ahead, or all was pushed.
   */
  want(unacked: number, unsent: number): { offset: number; length: number } | undefined {
    if (this.#end >= this.#size) return undefined;
    if (this.#end - unsent >= READ_AHEAD_BYTES) return undefined;
    const room = unacked + this.capacity - this.#end;
    if (room < this.#chunkSize && this.#end > unacked) return undefined;
    return {
      offset: this.#end,
      length: Math.min(Math.max(room, this.#chunkSize), this.#size - this.#end),
    };
  }

  /**
   * Takes `bytes` at `offset`, which must be where the previous push ended.
   * @throws {RangeError} when `offset` is not the expected one or the data overruns the size.
   */
  push(offset: number, bytes: Uint8Array): void {
    if (offset !== this.#end) {
      throw new RangeError(`Cannot push file data: offset ${offset}, expected ${this.#end}`);
    }
    if (offset + bytes.length > this.#size) {
      throw new RangeError(`Cannot push file data: it runs past the size ${this.#size}`);
    }
    if (bytes.length === 0) return;
    this.#blocks.push({ offset, bytes });
    this.#end += bytes.length;
  }

  /**
   * The bytes below `offset` will never be needed (the receiver has them): gives back the
   * blocks below it and, when fewer were pushed, continues the pushes from there.
   */
  skipTo(offset: number): void {
    this.release(offset);
    if (offset > this.#end) {
      this.#blocks.length = this.#head = 0;
      this.#end = Math.min(offset, this.#size);
    }
  }

  /** File bytes [offset, offset + length): a view when they lie in one block, else a copy. */
  slice(offset: number, length: number): Uint8Array {
    let lo = this.#head;
    let hi = this.#blocks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.#blocks[mid].offset <= offset) lo = mid;
      else hi = mid - 1;
    }
    const block = this.#blocks[lo];
    const start = offset - block.offset;
    if (start + length <= block.bytes.length) {
      return block.bytes.subarray(start, start + length);
    }
    // The chunk spans blocks: join the pieces.
    const out = new Uint8Array(length);
    let copied = 0;
    for (let i = lo; copied < length; i++) {
      const b = this.#blocks[i];
      const from = i === lo ? start : 0;
      const piece = b.bytes.subarray(from, Math.min(b.bytes.length, from + length - copied));
      out.set(piece, copied);
      copied += piece.length;
    }
    return out;
  }

  /** Gives back the blocks wholly below `acked`. */
  release(acked: number): void {
    while (this.#head < this.#blocks.length) {
      const b = this.#blocks[this.#head];
      if (b.offset + b.bytes.length > acked) break;
      this.#head++;
      this.#release?.(b.bytes);
    }
    if (this.#head > 64 && this.#head * 2 > this.#blocks.length) {
      this.#blocks = this.#blocks.slice(this.#head);
      this.#head = 0;
    }
  }
}

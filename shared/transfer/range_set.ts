/**
 * A set of non-negative integers stored as sorted, disjoint half-open ranges. Used for
 * received chunks (receiver) and selectively acknowledged chunks (sender).
 *
 * @module
 */

/** Sorted disjoint [start, end) ranges with cheap append at the top. */
export class RangeSet {
  #starts: number[] = [];
  #ends: number[] = [];

  /** Number of ranges. */
  get rangeCount(): number {
    return this.#starts.length;
  }

  /** Start of the lowest range, or undefined when empty. */
  get first(): number | undefined {
    return this.#starts[0];
  }

  /** End of the lowest range, or undefined when empty. */
  get firstEnd(): number | undefined {
    return this.#ends[0];
  }

  /** End of the highest range, or undefined when empty. */
  get last(): number | undefined {
    return this.#ends[this.#ends.length - 1];
  }

  /** Whether `value` is in the set. */
  has(value: number): boolean {
    const i = this.#firstEndingAfter(value);
    return i < this.#starts.length && this.#starts[i] <= value;
  }

  /**
   * Adds [start, end); calls `onNew(s, e)` for each sub-range that was not yet in the set.
   * Returns the number of values added.
   */
  add(start: number, end: number, onNew?: (s: number, e: number) => void): number {
    if (start >= end) return 0;
    const n = this.#starts.length;
    // Fast path: appending at or above the top range (the common in-order case).
    if (n === 0 || start > this.#ends[n - 1]) {
      this.#starts.push(start);
      this.#ends.push(end);
      onNew?.(start, end);
      return end - start;
    }
    if (start === this.#ends[n - 1]) {
      this.#ends[n - 1] = end;
      onNew?.(start, end);
      return end - start;
    }
    // General case: merge every range touching [start, end].
    let i = this.#firstEndingAfter(start - 1); // first range with end >= start
    let added = 0;
    let cursor = start;
    let mergedStart = start;
    let mergedEnd = end;
    const from = i;
    while (i < n && this.#starts[i] <= end) {
      const s = this.#starts[i];
      const e = this.#ends[i];
      if (s > cursor) {
        const gapEnd = Math.min(s, end);
        onNew?.(cursor, gapEnd);
        added += gapEnd - cursor;
      }
      cursor = Math.max(cursor, e);
      mergedStart = Math.min(mergedStart, s);
      mergedEnd = Math.max(mergedEnd, e);
      i++;
    }
    if (cursor < end) {
      onNew?.(cursor, end);
      added += end - cursor;
    }
    this.#starts.splice(from, i - from, mergedStart);
    this.#ends.splice(from, i - from, mergedEnd);
    return added;
  }

  /** Removes every value below `value`. */
  removeBelow(value: number): void {
    let k = 0;
    while (k < this.#starts.length && this.#ends[k] <= value) k++;
    if (k > 0) {
      this.#starts.splice(0, k);
      this.#ends.splice(0, k);
    }
    if (this.#starts.length > 0 && this.#starts[0] < value) this.#starts[0] = value;
  }

  /** Removes the lowest range and returns its end. */
  shift(): number | undefined {
    this.#starts.shift();
    return this.#ends.shift();
  }

  /**
   * Calls `visit(start, end)` for at most `limit` ranges: first those holding a value of
   * `first` (in its order, each range once), then the others from the highest down.
   */
  forEachDescending(
    limit: number,
    visit: (start: number, end: number) => void,
    first: readonly number[] = [],
  ): void {
    const picked: number[] = [];
    for (const value of first) {
      if (picked.length >= limit) return;
      const i = this.#firstEndingAfter(value);
      if (i < this.#starts.length && this.#starts[i] <= value && !picked.includes(i)) {
        picked.push(i);
        visit(this.#starts[i], this.#ends[i]);
      }
    }
    let left = limit - picked.length;
    for (let i = this.#starts.length - 1; i >= 0 && left > 0; i--) {
      if (picked.includes(i)) continue;
      visit(this.#starts[i], this.#ends[i]);
      left--;
    }
  }

  /** Returns the ranges as [start, end) pairs, lowest first (for tests and debugging). */
  toArray(): Array<[number, number]> {
    return this.#starts.map((s, i) => [s, this.#ends[i]]);
  }

  /** Index of the first range whose end is greater than `value`. */
  #firstEndingAfter(value: number): number {
    let lo = 0;
    let hi = this.#ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#ends[mid] > value) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}

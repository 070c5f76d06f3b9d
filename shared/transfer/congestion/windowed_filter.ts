/**
 * A running maximum over a sliding window (Kathleen Nichols' algorithm, as in Linux's
 * lib/minmax.c): it keeps the best, second-best and third-best samples of the window
 * with their times, so a sample that falls out of the window is replaced by the next best
 * in O(1) without storing every sample.
 *
 * ```ts
 * declare const sample: number, round: number;
 * const bw = new WindowedMaxFilter(10); // window of 10 rounds
 * bw.update(sample, round);
 * bw.value; // max of the samples of the last 10 rounds (roughly)
 * ```
 *
 * @module
 */

interface Sample {
  value: number;
  time: number;
}

/** Windowed maximum of samples taken at non-decreasing times. */
export class WindowedMaxFilter {
  readonly #window: number;
  readonly #s: [Sample, Sample, Sample] = [
    { value: 0, time: 0 },
    { value: 0, time: 0 },
    { value: 0, time: 0 },
  ];

  /** @param window how long a sample counts, in the unit of the times given to update(). */
  constructor(window: number) {
    this.#window = window;
  }

  /** The maximum of the window (0 before any sample). */
  get value(): number {
    return this.#s[0].value;
  }

  /** Forgets every sample and starts over with `value` at `time`. */
  reset(value: number, time: number): void {
    for (const s of this.#s) {
      s.value = value;
      s.time = time;
    }
  }

  /** Takes a sample; returns the new maximum. */
  update(value: number, time: number): number {
    const s = this.#s;
    if (value >= s[0].value || time - s[2].time > this.#window) {
      this.reset(value, time);
      return value;
    }
    if (value >= s[1].value) {
      this.#set(2, value, time);
      this.#set(1, value, time);
    } else if (value >= s[2].value) {
      this.#set(2, value, time);
    }
    const dt = time - s[0].time;
    if (dt > this.#window) {
      // The best sample expired: shift the others up.
      this.#copy(0, 1);
      this.#copy(1, 2);
      this.#set(2, value, time);
      if (time - s[0].time > this.#window) {
        this.#copy(0, 1);
        this.#copy(1, 2);
        this.#set(2, value, time);
      }
    } else if (s[1].time === s[0].time && dt > this.#window / 4) {
      // A quarter of the window passed without a second-best: take this one.
      this.#set(2, value, time);
      this.#set(1, value, time);
    } else if (s[2].time === s[1].time && dt > this.#window / 2) {
      this.#set(2, value, time);
    }
    return s[0].value;
  }

  #set(i: number, value: number, time: number): void {
    this.#s[i].value = value;
    this.#s[i].time = time;
  }

  #copy(to: number, from: number): void {
    this.#set(to, this.#s[from].value, this.#s[from].time);
  }
}

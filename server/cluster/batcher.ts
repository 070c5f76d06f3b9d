/**
 * Group commit for a stream of writes: at most one statement in flight; what
 * is added meanwhile goes out together in the next one. A write that finds
 * nothing in flight goes out at once, so batching never adds latency: it only
 * appears when writes queue behind a lock anyway (every private message takes
 * the cluster's log counter, every group message its group's row).
 *
 * @module
 */

interface Pending<I, O> {
  item: I;
  resolve(value: O): void;
  reject(reason: unknown): void;
}

/** Writes items in batches of at most `max`, one batch at a time, in order. */
export class Batcher<I, O> {
  #queue: Pending<I, O>[] = [];
  #busy = false;
  readonly #run: (items: I[]) => Promise<O[]>;
  readonly #max: number;

  /** `run` writes a batch and returns one result per item, in order. */
  constructor(run: (items: I[]) => Promise<O[]>, max = 256) {
    this.#run = run;
    this.#max = max;
  }

  /** True while nothing is queued or in flight. */
  get idle(): boolean {
    return !this.#busy && this.#queue.length === 0;
  }

  add(item: I): Promise<O> {
    const { promise, resolve, reject } = Promise.withResolvers<O>();
    this.#queue.push({ item, resolve, reject });
    this.#next();
    return promise;
  }

  #next(): void {
    if (this.#busy || this.#queue.length === 0) return;
    const batch = this.#queue.length <= this.#max ? this.#queue : this.#queue.slice(0, this.#max);
    this.#queue = batch === this.#queue ? [] : this.#queue.slice(this.#max);
    this.#busy = true;
    let done: Promise<O[]>;
    try {
      done = this.#run(batch.map((p) => p.item));
    } catch (e) {
      done = Promise.reject(e);
    }
    done.then(
      (results) => batch.forEach((p, i) => p.resolve(results[i])),
      (e) => batch.forEach((p) => p.reject(e)),
    ).finally(() => {
      this.#busy = false;
      this.#next();
    });
  }
}

import { assert } from "../../helpers/assert.ts";
import { RangeSet } from "../../../shared/transfer/range_set.ts";
import { ReplayWindow } from "../../../shared/transfer/replay_window.ts";
import { mulberry32 } from "../../helpers/random.ts";

Deno.test("RangeSet.add() merges ranges and reports only new sub-ranges", () => {
  const set = new RangeSet();
  const fresh: Array<[number, number]> = [];
  const onNew = (s: number, e: number) => fresh.push([s, e]);
  set.add(10, 20, onNew);
  set.add(30, 40, onNew);
  set.add(20, 21, onNew);
  assert.deepEqual(set.toArray(), [[10, 21], [30, 40]]);
  fresh.length = 0;
  assert.equal(set.add(5, 45, onNew), 5 + 9 + 5);
  assert.deepEqual(fresh, [[5, 10], [21, 30], [40, 45]]);
  assert.deepEqual(set.toArray(), [[5, 45]]);
  assert.equal(set.add(6, 9, onNew), 0);
});

Deno.test("RangeSet agrees with a plain set under random operations", () => {
  const rng = mulberry32(3);
  const set = new RangeSet();
  const model = new Set<number>();
  for (let i = 0; i < 2000; i++) {
    const s = Math.floor(rng() * 500);
    const e = s + 1 + Math.floor(rng() * 10);
    let expected = 0;
    for (let v = s; v < e; v++) if (!model.has(v)) (expected++, model.add(v));
    assert.equal(set.add(s, e), expected);
    if (i % 100 === 99) {
      const cut = Math.floor(rng() * 500);
      set.removeBelow(cut);
      for (const v of [...model]) if (v < cut) model.delete(v);
    }
  }
  for (let v = 0; v < 520; v++) assert.equal(set.has(v), model.has(v), `value ${v}`);
  const ranges = set.toArray();
  for (let i = 1; i < ranges.length; i++) assert.ok(ranges[i][0] > ranges[i - 1][1]);
});

Deno.test("ReplayWindow accepts each number once and refuses numbers below the window", () => {
  const w = new ReplayWindow(64);
  for (const pn of [0, 5, 3, 100]) {
    assert.ok(w.isFresh(pn));
    w.mark(pn);
    assert.ok(!w.isFresh(pn));
  }
  assert.ok(w.isFresh(99));
  assert.ok(!w.isFresh(36), "older than the window");
  assert.ok(w.isFresh(37));
  w.mark(1000);
  assert.ok(w.isFresh(999) && !w.isFresh(100) && !w.isFresh(1000));
});

Deno.test("RangeSet.forEachDescending() puts the ranges holding `first` values first", () => {
  const set = new RangeSet();
  for (const [s, e] of [[1, 2], [3, 5], [7, 8], [10, 12], [20, 21]]) set.add(s, e);
  const visit = (limit: number, first?: number[]) => {
    const out: number[][] = [];
    set.forEachDescending(limit, (s, e) => out.push([s, e]), first);
    return out;
  };
  assert.deepEqual(visit(3), [[20, 21], [10, 12], [7, 8]]);
  // 4 and 3 share a range (reported once); 6 is in none; the rest from the top, skipping it.
  assert.deepEqual(visit(3, [4, 6, 3]), [[3, 5], [20, 21], [10, 12]]);
  assert.deepEqual(visit(2, [1, 11, 20]), [[1, 2], [10, 12]]);
  assert.deepEqual(visit(9, [7]), [[7, 8], [20, 21], [10, 12], [3, 5], [1, 2]]);
});

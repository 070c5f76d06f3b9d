/**
 * A small seeded PRNG: the tests, the simulator and the path emulator use it so runs are
 * repeatable and a failure can be replayed from its seed; the transfer sender seeds its
 * congestion controller's random choices with it.
 *
 * @module
 */

/** mulberry32: a small, fast 32-bit seeded generator returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

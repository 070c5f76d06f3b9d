/**
 * Congestion control for the sender: the {@linkcode CongestionController} interface,
 * its two implementations (BBR-style, the default; NewReno) and the pacer.
 *
 * @module
 */

import { Bbr } from "./bbr.ts";
import type { CongestionController, CongestionControlName } from "./controller.ts";
import { NewReno } from "./new_reno.ts";

export * from "./controller.ts";
export { Bbr, type BbrOptions } from "./bbr.ts";
export { NewReno } from "./new_reno.ts";
export { Pacer } from "./pacer.ts";

/**
 * A new controller of kind `name` for datagrams of up to `packetSize` bytes; `random`
 * seeds the choices a controller makes at random (BBR's first ProbeBW phase).
 * @throws {TypeError} on an unknown name.
 */
export function createController(
  name: CongestionControlName,
  packetSize: number,
  random?: () => number,
): CongestionController {
  switch (name) {
    case "bbr":
      return new Bbr(packetSize, { random });
    case "newreno":
      return new NewReno(packetSize);
    default:
      throw new TypeError(`Cannot create congestion controller: unknown name "${name}"`);
  }
}

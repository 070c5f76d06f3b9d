/**
 * The interface between the sender's loss recovery and a congestion controller, modelled
 * on quinn's `congestion::Controller`: recovery reports every packet sent, acknowledged
 * or declared lost, and the controller answers how many bytes may be in flight and how
 * fast they may leave.
 *
 * ```ts
 * import { createController } from "./mod.ts";
 * import { RttEstimator } from "../rtt.ts";
 * declare const now: number, pn: number, bytes: number, bytesInFlight: number;
 * declare function send(): void;
 * const cc = createController("bbr", 1200);
 * const rtt = new RttEstimator();
 * cc.onSent(now, pn, bytes, bytesInFlight);
 * // per ACK frame: onAck() for each packet it newly acknowledges, then onAckEnd()
 * cc.onAckEnd(now, bytesInFlight, rtt);
 * if (bytesInFlight + bytes <= cc.window) send(); // paced at cc.pacingRate(rtt)
 * ```
 *
 * All sizes are bytes, times ms, rates bytes per ms.
 *
 * @module
 */

import type { RttEstimator } from "../rtt.ts";

/** Names of the controllers {@linkcode createController} builds. */
export type CongestionControlName = "bbr" | "newreno";

/** Every controller name, the default first. */
export const CONGESTION_CONTROLS: readonly CongestionControlName[] = ["bbr", "newreno"];

/** The controller a sender uses unless told otherwise. */
export const DEFAULT_CONGESTION_CONTROL: CongestionControlName = "bbr";

/** What the sender's recovery tells a controller, and what it asks. */
export interface CongestionController {
  /** Which algorithm this is. */
  readonly name: CongestionControlName;
  /** Bytes that may be in flight. */
  readonly window: number;
  /** Whether the controller is still growing exponentially towards the path's capacity. */
  readonly inSlowStart: boolean;
  /** A short name of the controller's state, for stats and traces. */
  readonly state: string;
  /** Pacing rate (bytes per ms) given the path's RTT. */
  pacingRate(rtt: RttEstimator): number;
  /**
   * A packet that counts towards the window left at `now`; `bytesInFlight` includes it.
   */
  onSent(now: number, pn: number, bytes: number, bytesInFlight: number): void;
  /**
   * The sender had window to spare but nothing it may send (no data read yet, the
   * receiver's window closed, everything sent): rate samples from now on understate the
   * path until what is in flight now is acknowledged.
   */
  onAppLimited(bytesInFlight: number): void;
  /**
   * A packet sent at `sentTime` was acknowledged for the first time; `priorInFlight` is
   * what was in flight before the ACK frame carrying it arrived.
   */
  onAck(now: number, pn: number, bytes: number, sentTime: number, priorInFlight: number): void;
  /** The ACK frame has been processed; `rtt` holds its sample, if it gave one. */
  onAckEnd(now: number, bytesInFlight: number, rtt: RttEstimator): void;
  /** A packet sent at `sentTime` was declared lost at `now`. */
  onLost(now: number, pn: number, bytes: number, sentTime: number): void;
  /** A packet declared lost was acknowledged after all: it was reordered, not lost. */
  onSpuriousLoss(now: number, pn: number, bytes: number): void;
  /** The retransmission timer expired: everything in flight was declared lost. */
  onTimeout(now: number): void;
}

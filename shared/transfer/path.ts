/**
 * A network path of one transfer: where its datagrams go and whether the peer was heard
 * on it (an authentic packet came from there: the path's validation state). Pure
 * bookkeeping (quinn's `PathData` is the model); the endpoint probes paths and decides
 * which one a transfer uses.
 *
 * @module
 */

import { type Address, addressKey, normalizeAddress } from "../address.ts";

/** How a path reaches the peer: straight to one of its addresses, or through the server's relay. */
export type PathKind = "direct" | "relay";

/** One path to the peer. */
export class Path {
  /** Where datagrams on this path go (normalised). */
  readonly address: Address;
  /** `addressKey(address)`, for lookups. */
  readonly key: string;
  readonly kind: PathKind;
  /** Whether the peer was heard on this path (an authentic datagram from `address`). */
  heard = false;
  /** When the peer was last heard on this path (ms), -Infinity if never. */
  lastHeard = -Infinity;

  constructor(address: Address, kind: PathKind = "direct") {
    this.address = normalizeAddress(address);
    this.key = addressKey(this.address);
    this.kind = kind;
  }

  /** Records an authentic datagram from the peer on this path. */
  hear(now: number): void {
    this.heard = true;
    if (now > this.lastHeard) this.lastHeard = now;
  }
}

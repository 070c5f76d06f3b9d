/**
 * The error a cluster's ports throw when an engine they need cannot be
 * reached: the request fails with a clear line, nothing was changed, and the
 * next request tries again (the drivers reconnect by themselves).
 *
 * @module
 */

/** An engine of the cluster is out of reach. */
export class UnavailableError extends Error {
  constructor(
    /** Which one: the durable store (PostgreSQL) or the shared state (Redis). */
    readonly engine: "database" | "redis",
    cause?: unknown,
  ) {
    super(
      engine === "database"
        ? "The server cannot reach its database right now. Please try again in a moment."
        : "The server cannot reach its presence service right now. Please try again in a moment.",
      { cause },
    );
    this.name = "UnavailableError";
  }
}

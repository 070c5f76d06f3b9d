/**
 * Progress display for transfers: a rate meter fed with (time, bytes) samples and a
 * formatter for one status line.
 *
 * @module
 */

/** What a progress line shows. */
export interface ProgressInfo {
  /** File name shown first, if any. */
  name?: string;
  /** Bytes done. */
  bytes: number;
  /** Bytes in total. */
  total: number;
  /** Current rate in bytes per second. */
  rateBps: number;
  /** Estimated seconds left, undefined when unknown. */
  etaSec: number | undefined;
  /** How the bytes go, shown last: straight to the peer, or through the server's relay. */
  path?: "direct" | "relay";
  /** Why the relay holds the transfer back, if it said (shown after `via relay`). */
  relayLimit?: string;
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];
/** How far back the rate meter looks (ms). */
const RATE_WINDOW_MS = 2000;

/**
 * Formats a byte count with binary units: `512 B`, `12.3 MiB`.
 *
 * @example formatBytes(1536) // "1.5 KiB"
 */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

/** Formats seconds as `42s`, `3m05s` or `2h04m`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, "0")}m`;
}

/**
 * One progress line, e.g. `video.mp4: 12.3 MiB / 100.0 MiB  48.1 MiB/s  ETA 2s  via relay`.
 *
 * @example formatProgress({ name: "a.mp4", bytes: 0, total: 1024, rateBps: 0, etaSec: undefined })
 * // "a.mp4: 0 B / 1.0 KiB  0 B/s  ETA --"
 */
export function formatProgress(info: ProgressInfo): string {
  const prefix = info.name === undefined ? "" : `${info.name}: `;
  const eta = info.etaSec === undefined || !Number.isFinite(info.etaSec)
    ? "--"
    : formatDuration(info.etaSec);
  const limit = info.relayLimit === undefined ? "" : ` (${info.relayLimit})`;
  const path = info.path === undefined
    ? ""
    : info.path === "relay"
    ? `  via relay${limit}`
    : "  direct";
  return `${prefix}${formatBytes(info.bytes)} / ${formatBytes(info.total)}  ` +
    `${formatBytes(info.rateBps)}/s  ETA ${eta}${path}`;
}

/** Rate over the last two seconds of (time, bytes) samples; time is injected. */
export class RateMeter {
  #samples: Array<[number, number]> = [];

  /** Records that `bytes` in total were done at time `now` (ms). */
  record(now: number, bytes: number): void {
    const last = this.#samples[this.#samples.length - 1];
    if (last !== undefined && now <= last[0]) {
      last[1] = bytes;
      return;
    }
    this.#samples.push([now, bytes]);
    while (this.#samples.length > 2 && now - this.#samples[1][0] >= RATE_WINDOW_MS) {
      this.#samples.shift();
    }
  }

  /** Bytes per second over the window, 0 until two samples exist. */
  rate(): number {
    if (this.#samples.length < 2) return 0;
    const [t0, b0] = this.#samples[0];
    const [t1, b1] = this.#samples[this.#samples.length - 1];
    return t1 > t0 ? (b1 - b0) * 1000 / (t1 - t0) : 0;
  }

  /** Seconds to finish `total`, undefined while the rate is 0. */
  eta(bytes: number, total: number): number | undefined {
    if (bytes >= total) return 0;
    const rate = this.rate();
    return rate > 0 ? (total - bytes) / rate : undefined;
  }
}

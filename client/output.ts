/**
 * Where the client's events go: formatted as text (coloured or not) or as
 * JSON lines, onto a {@link ClientIO}. Rendering only: what the client learns
 * from events (the names completion offers) is the {@link Roster}'s, fed by
 * the app.
 *
 * @module
 */

import type { ClientEvent } from "./events.ts";
import { formatEvent } from "./format.ts";
import type { ClientIO } from "./io.ts";
import { formatJsonEvent } from "./json_output.ts";
import { plainStyle, type Style } from "./style.ts";
import { type Clock, formatTimestamp, systemClock } from "../shared/time.ts";

/** Settings of a {@link ClientOutput}. */
export interface OutputOptions {
  /** One JSON object per event instead of text. Default false. */
  json?: boolean;
  /** How text lines are coloured. Default {@link plainStyle}. */
  style?: Style;
  /**
   * Show timestamps of today as `HH:MM` (on a terminal; pipes keep the
   * server's full timestamps). Default false.
   */
  shortTimes?: boolean;
  /** What "today" is. Default the system clock. */
  clock?: Clock;
}

/** Shows client events on an IO. */
export class ClientOutput {
  readonly #io: ClientIO;
  readonly #json: boolean;
  readonly #style: Style;
  readonly #shortTimes: boolean;
  readonly #clock: Clock;
  /** The logged-in user, once known: mentions of this name are highlighted. */
  user: string | undefined;

  constructor(io: ClientIO, options: OutputOptions = {}) {
    this.#io = io;
    this.#json = options.json ?? false;
    this.#style = options.style ?? plainStyle;
    this.#shortTimes = options.shortTimes ?? false;
    this.#clock = options.clock ?? systemClock;
  }

  /** True in `--json` mode. */
  get json(): boolean {
    return this.#json;
  }

  /** Shows one event. */
  emit(event: ClientEvent): void {
    if (this.#json) {
      this.#io.print(formatJsonEvent(event));
      return;
    }
    const today = this.#shortTimes ? formatTimestamp(this.#clock()).slice(0, 11) : undefined;
    for (const line of formatEvent(event, { style: this.#style, self: this.user, today })) {
      if (line.error) this.#io.error(line.text);
      else this.#io.print(line.text);
    }
  }
}

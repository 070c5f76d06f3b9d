/**
 * Where the client's events go: formatted as text (coloured or not) or as
 * JSON lines, onto a {@link ClientIO}. Every event also teaches the
 * {@link Roster} the names completion offers.
 *
 * @module
 */

import type { ClientEvent } from "./events.ts";
import { formatEvent } from "./format.ts";
import type { ClientIO } from "./io.ts";
import { formatJsonEvent } from "./json_output.ts";
import { Roster } from "./roster.ts";
import { plainStyle, type Style } from "./style.ts";

/** Settings of a {@link ClientOutput}. */
export interface OutputOptions {
  /** One JSON object per event instead of text. Default false. */
  json?: boolean;
  /** How text lines are coloured. Default {@link plainStyle}. */
  style?: Style;
  /** Names seen so far; one is made when not given. */
  roster?: Roster;
}

/** Shows client events on an IO. */
export class ClientOutput {
  readonly #io: ClientIO;
  readonly #json: boolean;
  readonly #style: Style;
  readonly roster: Roster;

  constructor(io: ClientIO, options: OutputOptions = {}) {
    this.#io = io;
    this.#json = options.json ?? false;
    this.#style = options.style ?? plainStyle;
    this.roster = options.roster ?? new Roster();
  }

  /** True in `--json` mode. */
  get json(): boolean {
    return this.#json;
  }

  /** Shows one event. */
  emit(event: ClientEvent): void {
    this.roster.learn(event);
    if (this.#json) {
      this.#io.print(formatJsonEvent(event));
      return;
    }
    for (const line of formatEvent(event, { style: this.#style })) {
      if (line.error) this.#io.error(line.text);
      else this.#io.print(line.text);
    }
  }
}

/**
 * Summaries of repeated runs (min / median / max), Markdown tables, and the
 * hand-written SVG chart of fan-out throughput and p99 latency.
 *
 * @module
 */

/** Min, median and max of the runs of one figure. */
export interface Spread {
  min: number;
  median: number;
  max: number;
}

/** Summarises run values; NaN fields when there are none. */
export function spread(values: number[]): Spread {
  const s = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (s.length === 0) return { min: NaN, median: NaN, max: NaN };
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { min: s[0], median, max: s[s.length - 1] };
}

/** A count or rate in a short human form: 1.23M, 456k, 78.9. */
export function short(v: number): string {
  if (Number.isNaN(v)) return "–";
  const a = Math.abs(v);
  if (a >= 1e6) return `${(v / 1e6).toFixed(2)}M`;
  if (a >= 1e4) return `${Math.round(v / 1e3)}k`;
  if (a >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

/** `min / median / max` in {@link short} form. */
export function cell(s: Spread, format: (v: number) => string = short): string {
  if (Number.isNaN(s.median)) return "–";
  return `${format(s.min)} / ${format(s.median)} / ${format(s.max)}`;
}

/** A Markdown table. */
export function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

/** One bar group of the chart: a case (e.g. N=50) and each server's spread. */
export interface ChartSeries {
  label: string;
  values: { server: string; spread: Spread }[];
}

const COLORS: Record<string, string> = {
  tessenger: "#2b6cb0",
  "tessenger-irc": "#63b3ed",
  ngircd: "#c05621",
  inspircd: "#2f855a",
};

function escapeXml(s: string): string {
  return s.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** One panel of bars with min–max whiskers. */
function panel(
  x0: number,
  title: string,
  series: ChartSeries[],
  format: (v: number) => string,
): string {
  const width = 380;
  const height = 220;
  const top = 40;
  const bottom = top + height;
  const max = Math.max(
    1e-9,
    ...series.flatMap((s) => s.values.map((v) => v.spread.max).filter((v) => !Number.isNaN(v))),
  );
  const parts: string[] = [
    `<text x="${x0 + width / 2}" y="22" text-anchor="middle" font-weight="bold">${
      escapeXml(title)
    }</text>`,
    `<line x1="${x0}" y1="${bottom}" x2="${x0 + width}" y2="${bottom}" stroke="#333"/>`,
  ];
  const groupWidth = width / Math.max(1, series.length);
  series.forEach((s, g) => {
    const gx = x0 + g * groupWidth;
    const barWidth = (groupWidth - 30) / Math.max(1, s.values.length);
    parts.push(
      `<text x="${gx + groupWidth / 2}" y="${bottom + 18}" text-anchor="middle">${
        escapeXml(s.label)
      }</text>`,
    );
    s.values.forEach((v, i) => {
      if (Number.isNaN(v.spread.median)) return;
      const bx = gx + 15 + i * barWidth;
      const h = (v.spread.median / max) * height;
      const color = COLORS[v.server] ?? "#718096";
      parts.push(
        `<rect x="${bx.toFixed(1)}" y="${(bottom - h).toFixed(1)}" width="${
          (barWidth - 4).toFixed(1)
        }" height="${h.toFixed(1)}" fill="${color}"><title>${escapeXml(v.server)} ${
          escapeXml(s.label)
        }: ${format(v.spread.min)} / ${format(v.spread.median)} / ${
          format(v.spread.max)
        }</title></rect>`,
      );
      const cx = bx + (barWidth - 4) / 2;
      const yMin = bottom - (v.spread.min / max) * height;
      const yMax = bottom - (v.spread.max / max) * height;
      parts.push(
        `<line x1="${cx.toFixed(1)}" y1="${yMin.toFixed(1)}" x2="${cx.toFixed(1)}" y2="${
          yMax.toFixed(1)
        }" stroke="#111"/>`,
        `<text x="${cx.toFixed(1)}" y="${(yMax - 4).toFixed(1)}" text-anchor="middle" ` +
          `font-size="10">${escapeXml(format(v.spread.median))}</text>`,
      );
    });
  });
  return parts.join("\n");
}

/**
 * An SVG of two panels: fan-out deliveries/s and p99 latency, one bar per
 * server and case (median; the whisker spans min to max).
 */
export function fanoutChart(
  throughput: ChartSeries[],
  p99: ChartSeries[],
  caption: string,
): string {
  const servers = [...new Set(throughput.flatMap((s) => s.values.map((v) => v.server)))];
  const legend = servers.map((s, i) =>
    `<rect x="${20 + i * 130}" y="300" width="12" height="12" fill="${COLORS[s] ?? "#718096"}"/>` +
    `<text x="${36 + i * 130}" y="311">${escapeXml(s)}</text>`
  ).join("\n");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="840" height="350" ` +
    `viewBox="0 0 840 350" font-family="sans-serif" font-size="12">
<rect width="840" height="350" fill="#fff"/>
${panel(20, "Fan-out deliveries/s (higher is better)", throughput, short)}
${panel(440, "Fan-out p99 latency, ms (lower is better)", p99, (v) => v.toFixed(1))}
${legend}
<text x="20" y="338" font-size="10" fill="#555">${escapeXml(caption)}</text>
</svg>
`;
}

// Minimal SVG line charts for the benchmark report (no plotting dependency): linear or log axes, one polyline per
// series, a legend, and a percentile axis on the "nines" scale for latency spectra.

const WIDTH = 980;
const HEIGHT = 480;
const MARGIN = { left: 70, right: 330, top: 40, bottom: 55 };
/** The series palette; callers that pair lines (a system's p50 and p99) pick from it themselves. */
export const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf', '#000000'];

const escape = (text) => String(text).replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' }[c]));

/** Position of percentile q (0–100) on the nines scale: 90 → 1, 99 → 2, 99.9 → 3; 100 (the max) sits at `maxAt`. */
export function ninesOf(q, maxAt = 5) {
  return q >= 100 ? maxAt : -Math.log10(1 - q / 100);
}

function ticksFor(min, max, log) {
  if (log) {
    const ticks = [];
    for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) {
      for (const m of [1, 2, 5]) {
        const v = m * 10 ** e;
        if (v >= min * 0.999 && v <= max * 1.001) ticks.push(v);
      }
    }
    return ticks;
  }
  const span = max - min || 1;
  const step = 10 ** Math.floor(Math.log10(span / 5));
  const nice = [1, 2, 5, 10].map((m) => m * step).find((s) => span / s <= 8) ?? step * 10;
  const ticks = [];
  for (let v = Math.ceil(min / nice) * nice; v <= max + 1e-9; v += nice) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

const formatTick = (v) => (Math.abs(v) >= 1000 ? `${v / 1000}k` : Math.abs(v) < 0.01 && v !== 0 ? v.toExponential(0) : String(Number(v.toPrecision(3))));

/**
 * @param {{title: string, xLabel: string, yLabel: string, xLog?: boolean, yLog?: boolean,
 *          xTicks?: Array<[number, string]>, hLine?: {y: number, label: string}, series: Array<{name: string, points: Array<[number, number]>, dashed?: boolean, color?: string}>}} chart
 * @returns {string} an SVG document
 */
export function lineChart(chart) {
  const points = chart.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!chart.yLog || y > 0));
  if (points.length === 0) return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="80"><text x="10" y="40">${escape(chart.title)}: no data</text></svg>\n`;
  let [xMin, xMax] = [Math.min(...points.map((p) => p[0])), Math.max(...points.map((p) => p[0]))];
  let [yMin, yMax] = [Math.min(...points.map((p) => p[1])), Math.max(...points.map((p) => p[1]))];
  if (chart.yLog) [yMin, yMax] = [10 ** Math.floor(Math.log10(yMin)), 10 ** Math.ceil(Math.log10(yMax))];
  else [yMin, yMax] = [Math.min(0, yMin), yMax * 1.05 || 1];
  if (xMin === xMax) [xMin, xMax] = [xMin - 1, xMax + 1];
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const sx = (x) => MARGIN.left + (chart.xLog ? (Math.log10(x) - Math.log10(xMin)) / (Math.log10(xMax) - Math.log10(xMin)) : (x - xMin) / (xMax - xMin)) * plotW;
  const sy = (y) => MARGIN.top + plotH - (chart.yLog ? (Math.log10(y) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin)) : (y - yMin) / (yMax - yMin)) * plotH;
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="100%" height="100%" fill="white"/>`);
  out.push(`<text x="${MARGIN.left}" y="22" font-size="15" font-weight="bold">${escape(chart.title)}</text>`);
  const xTicks = chart.xTicks ?? ticksFor(xMin, xMax, chart.xLog).map((v) => [v, formatTick(v)]);
  for (const [v, label] of xTicks) {
    const x = sx(v);
    out.push(`<line x1="${x}" y1="${MARGIN.top}" x2="${x}" y2="${MARGIN.top + plotH}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${x}" y="${MARGIN.top + plotH + 16}" text-anchor="middle">${escape(label)}</text>`);
  }
  for (const v of ticksFor(yMin, yMax, chart.yLog)) {
    const y = sy(v);
    out.push(`<line x1="${MARGIN.left}" y1="${y}" x2="${MARGIN.left + plotW}" y2="${y}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${MARGIN.left - 6}" y="${y + 4}" text-anchor="end">${formatTick(v)}</text>`);
  }
  out.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`);
  if (chart.hLine && chart.hLine.y >= yMin && chart.hLine.y <= yMax) {
    const y = sy(chart.hLine.y);
    out.push(`<line x1="${MARGIN.left}" y1="${y}" x2="${MARGIN.left + plotW}" y2="${y}" stroke="#999" stroke-width="1.5" stroke-dasharray="2 3"/>`);
    out.push(`<text x="${MARGIN.left + 4}" y="${y - 4}" fill="#666">${escape(chart.hLine.label)}</text>`);
  }
  out.push(`<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 14}" text-anchor="middle">${escape(chart.xLabel)}</text>`);
  out.push(`<text transform="translate(16 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escape(chart.yLabel)}</text>`);
  chart.series.forEach((series, i) => {
    const color = series.color ?? COLORS[i % COLORS.length];
    const valid = series.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!chart.yLog || y > 0));
    if (valid.length > 0) {
      const path = valid.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
      out.push(`<polyline points="${path}" fill="none" stroke="${color}" stroke-width="1.8"${series.dashed ? ' stroke-dasharray="5 4"' : ''}/>`);
      for (const [x, y] of valid) out.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="2.5" fill="${color}"/>`);
    }
    const ly = MARGIN.top + 10 + i * 18;
    const lx = MARGIN.left + plotW + 14;
    out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 24}" y2="${ly}" stroke="${color}" stroke-width="2"${series.dashed ? ' stroke-dasharray="5 4"' : ''}/>`);
    out.push(`<text x="${lx + 30}" y="${ly + 4}">${escape(series.name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

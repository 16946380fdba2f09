// Prometheus text exposition format (version 0.0.4): series of counters, gauges and histograms rendered as lines.

export type Labels = Record<string, string>;

export interface Series {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  samples: Array<{ labels: Labels; value: number }>;
}

/** A histogram family: per label set, cumulative counts at each bound (then +Inf), and the sum. */
export interface HistogramSeries {
  name: string;
  help: string;
  type: 'histogram';
  bounds: readonly number[];
  samples: Array<{ labels: Labels; cumulative: readonly number[]; sum: number }>;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labelText(labels: Labels): string {
  return Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',');
}

/** Renders every family (HELP, TYPE, then one line per sample; a histogram's _bucket, _sum and _count lines). */
export function render(series: Array<Series | HistogramSeries>): string {
  const lines: string[] = [];
  for (const s of series) {
    lines.push(`# HELP ${s.name} ${s.help}`, `# TYPE ${s.name} ${s.type}`);
    if (s.type !== 'histogram') {
      for (const sample of s.samples) {
        const labels = labelText(sample.labels);
        lines.push(labels === '' ? `${s.name} ${sample.value}` : `${s.name}{${labels}} ${sample.value}`);
      }
      continue;
    }
    for (const sample of s.samples) {
      const labels = labelText(sample.labels);
      sample.cumulative.forEach((n, i) => {
        const le = i < s.bounds.length ? String(s.bounds[i]) : '+Inf';
        lines.push(`${s.name}_bucket{${labels},le="${le}"} ${n}`);
      });
      lines.push(`${s.name}_sum{${labels}} ${sample.sum}`, `${s.name}_count{${labels}} ${sample.cumulative[sample.cumulative.length - 1] ?? 0}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

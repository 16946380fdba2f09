// A strict reader of the Prometheus text format (0.0.4) for tests: every line must be HELP, TYPE, a sample of the
// family its TYPE opened, or empty; labelled histograms are kept per label set (the npm parser
// parse-prometheus-text-format@1.1.1 merges every label set of a histogram into one, dropping the labels).

export type Labels = Record<string, string>;

export interface Sample {
  labels: Labels;
  value: number;
}

export interface Histogram {
  labels: Labels;
  /** `le` bound (as written) → cumulative count. */
  buckets: Map<string, number>;
  sum: number;
  count: number;
}

export interface Family {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  samples: Sample[];
  histograms: Histogram[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

/** A value as Prometheus reads it (Go's ParseFloat: Inf and NaN in any case, e.g. prom-client's "Nan"). */
function parseValue(text: string, line: string): number {
  if (/^\+?inf(inity)?$/i.test(text)) return Infinity;
  if (/^-inf(inity)?$/i.test(text)) return -Infinity;
  if (/^nan$/i.test(text)) return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`bad value '${text}' in: ${line}`);
  return Number(text);
}

/** Parses one sample line: name, labels (escapes \\, \", \n), value, optional timestamp. */
function parseSample(line: string): { name: string; labels: Labels; value: number } {
  const name = NAME.exec(line)?.[0];
  if (name === undefined) throw new Error(`no metric name in: ${line}`);
  let i = name.length;
  const labels: Labels = {};
  if (line[i] === '{') {
    i++;
    while (line[i] !== '}') {
      const label = LABEL_NAME.exec(line.slice(i))?.[0];
      if (label === undefined || line[i + label.length] !== '=' || line[i + label.length + 1] !== '"') throw new Error(`bad label at ${i} in: ${line}`);
      i += label.length + 2;
      let value = '';
      for (;;) {
        const ch = line[i++];
        if (ch === undefined) throw new Error(`unterminated label value in: ${line}`);
        if (ch === '"') break;
        if (ch === '\\') {
          const next = line[i++];
          if (next === 'n') value += '\n';
          else if (next === '\\' || next === '"') value += next;
          else throw new Error(`bad escape \\${next} in: ${line}`);
        } else {
          value += ch;
        }
      }
      if (label in labels) throw new Error(`label ${label} twice in: ${line}`);
      labels[label] = value;
      if (line[i] === ',') i++;
      else if (line[i] !== '}') throw new Error(`expected , or } at ${i} in: ${line}`);
    }
    i++;
  }
  const rest = line.slice(i).trim().split(/\s+/);
  if (line[i] !== ' ' || rest.length < 1 || rest.length > 2) throw new Error(`expected ' value [timestamp]' in: ${line}`);
  return { name, labels, value: parseValue(rest[0]!, line) };
}

const key = (labels: Labels) => JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));

/** Parses a whole page; throws naming the line on anything the format does not allow. */
export function parsePrometheusText(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  let current: Family | undefined;
  const seen = new Set<string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# HELP ')) continue;
    if (line.startsWith('# TYPE ')) {
      const [name, type] = line.slice(7).split(' ');
      if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(type ?? '')) throw new Error(`bad TYPE: ${line}`);
      if (families.has(name!)) throw new Error(`family ${name} declared twice`);
      current = { name: name!, type: type as Family['type'], samples: [], histograms: [] };
      families.set(name!, current);
      continue;
    }
    if (line.startsWith('#')) continue;
    const s = parseSample(line);
    if (current === undefined) throw new Error(`sample before any TYPE: ${line}`);
    const series = `${s.name}${key(s.labels)}`;
    if (seen.has(series)) throw new Error(`series twice: ${line}`);
    seen.add(series);
    if (current.type !== 'histogram' && current.type !== 'summary') {
      if (s.name !== current.name) throw new Error(`sample ${s.name} inside family ${current.name}`);
      current.samples.push({ labels: s.labels, value: s.value });
      continue;
    }
    const suffix = s.name.slice(current.name.length);
    if (!s.name.startsWith(current.name) || !['_bucket', '_sum', '_count', ''].includes(suffix)) throw new Error(`sample ${s.name} inside family ${current.name}`);
    if (current.type === 'summary') continue;
    const { le, ...labels } = s.labels;
    let h = current.histograms.find((x) => key(x.labels) === key(labels));
    if (h === undefined) {
      h = { labels, buckets: new Map(), sum: NaN, count: NaN };
      current.histograms.push(h);
    }
    if (suffix === '_bucket') {
      if (le === undefined) throw new Error(`bucket without le: ${line}`);
      h.buckets.set(le, s.value);
    } else if (suffix === '_sum') {
      h.sum = s.value;
    } else if (suffix === '_count') {
      h.count = s.value;
    } else {
      throw new Error(`histogram sample without a suffix: ${line}`);
    }
  }
  for (const f of families.values()) {
    for (const h of f.histograms) {
      const bounds = [...h.buckets.entries()].map(([le, n]) => [parseValue(le, le), n] as const).sort((a, b) => a[0] - b[0]);
      for (let i = 1; i < bounds.length; i++) {
        if (bounds[i]![1] < bounds[i - 1]![1]) throw new Error(`${f.name}${key(h.labels)}: buckets are not cumulative`);
      }
      if (h.buckets.get('+Inf') !== h.count) throw new Error(`${f.name}${key(h.labels)}: +Inf bucket ${h.buckets.get('+Inf')} != count ${h.count}`);
      if (Number.isNaN(h.sum)) throw new Error(`${f.name}${key(h.labels)}: no _sum`);
    }
  }
  return families;
}

// Runs a baseline and a candidate side by side with tinybench, several rounds alternating, and prints the ratio
// of their median latencies per round plus its spread — so machine noise is visible next to the number.
import { Bench } from 'tinybench';

/**
 * @param {string} question what this comparison answers (printed first)
 * @param {{name: string, fn: () => unknown | Promise<unknown>}} baseline
 * @param {{name: string, fn: () => unknown | Promise<unknown>}} candidate
 * @param {{rounds?: number, timeMs?: number, minSamples?: number}} [options]
 */
export async function compare(question, baseline, candidate, { rounds = 5, timeMs = 400, minSamples = 64 } = {}) {
  console.log(`\n## ${question}`);
  const ratios = [];
  const medians = { [baseline.name]: [], [candidate.name]: [] };
  for (let round = 0; round < rounds; round++) {
    // Alternate the order each round so drift (thermal, the other core's load) hits both sides alike.
    const order = round % 2 === 0 ? [baseline, candidate] : [candidate, baseline];
    // tinybench runs at least `iterations` samples whatever `time` says: slow tasks (tens of ms) pass a smaller minimum.
    const bench = new Bench({ time: timeMs, warmupTime: 100, iterations: minSamples, warmupIterations: Math.min(16, minSamples) });
    for (const task of order) bench.add(task.name, task.fn);
    await bench.run();
    const p50 = (name) => {
      const result = bench.getTask(name).result;
      if (result.state !== 'completed') throw new Error(`${name}: ${result.state} ${result.error ?? ''}`);
      return result.latency.p50;
    };
    const b = p50(baseline.name);
    const c = p50(candidate.name);
    medians[baseline.name].push(b);
    medians[candidate.name].push(c);
    ratios.push(b / c);
  }
  const fmt = (ms) => (ms >= 1 ? `${ms.toFixed(3)} ms` : `${(ms * 1000).toFixed(2)} µs`);
  const middle = (list) => [...list].sort((x, y) => x - y)[Math.floor(list.length / 2)];
  // The outcome as one flat record (latencies in ms, ratios as speed-ups of the candidate), for bench/run.mjs's report.
  const record = {
    question,
    baseline: baseline.name,
    candidate: candidate.name,
    medianBaseline: middle(medians[baseline.name]),
    medianCandidate: middle(medians[candidate.name]),
    ratioMedian: middle(ratios),
    ratioMin: Math.min(...ratios),
    ratioMax: Math.max(...ratios),
  };
  console.log(`- ${baseline.name}: median latency ${fmt(record.medianBaseline)} (rounds: ${medians[baseline.name].map(fmt).join(', ')})`);
  console.log(`- ${candidate.name}: median latency ${fmt(record.medianCandidate)} (rounds: ${medians[candidate.name].map(fmt).join(', ')})`);
  console.log(`- speed-up of ${candidate.name} over ${baseline.name}: ${record.ratioMedian.toFixed(2)}× ` +
    `(min ${record.ratioMin.toFixed(2)}×, max ${record.ratioMax.toFixed(2)}× over ${rounds} rounds)`);
  return { ratios, medians, record };
}

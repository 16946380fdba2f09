// The fuzz loop: mutate a kept input, run the target, and judge the outcome against the contract (fuzz/target.ts).
//
// Rules, in the order they are checked for each input:
//   - a throw that is not an OrtServeError with a known code, or is ERR_INTERNAL: a 'crash' finding;
//   - a returned tensor whose data does not hold what its shape says: a 'defect' finding;
//   - an input slower than the per-input budget on three runs in a row (so a GC pause is not a finding): 'slow';
//   - heap plus array buffers above the cap after a GC-friendly pause: 'memory' (blamed on the input that was running).
// A hang that never returns cannot be judged in-process; fuzz/cli.ts runs this loop in a worker and watches it.
// Inputs whose outcome (code and message with numbers and quoted text blanked) was not seen before are kept and
// mutated further: the error messages name the check that refused, so a new message is a new path through the decoder.

import { Rng, mutate } from './mutator.js';
import { contractBreach, tensorDefect, type FuzzTarget } from './target.js';
import type { Tensor } from '../src/engine/tensor.js';
import { OrtServeError } from '../src/errors.js';

export type FindingKind = 'crash' | 'defect' | 'slow' | 'memory' | 'hang';

export interface Finding {
  target: string;
  seed: number;
  /** Index of the input in the run (0-based); the run from `seed` reaches the same input at the same index. */
  iteration: number;
  kind: FindingKind;
  message: string;
  input: Uint8Array;
  /** Slowest of the tries, for 'slow'. */
  ms?: number;
}

export interface FuzzOptions {
  seed: number;
  /** Stop after this many mutated inputs, or after `seconds`, whichever comes first (at least one must be set). */
  iterations?: number;
  seconds?: number;
  /** Longest one input may take (ms). */
  budgetMs: number;
  /** Most heap + array buffer bytes the process may hold between inputs. */
  heapCapBytes: number;
  /** Reported once per distinct problem (kind + blanked message); repeats are only counted. */
  onFinding(finding: Finding): void;
  /** Called with each input just before it runs (the watchdog keeps a copy, to save it if the run never returns). */
  beforeRun?(input: Uint8Array, iteration: number): void;
}

export interface FuzzStats {
  target: string;
  seed: number;
  iterations: number;
  ms: number;
  /** Inputs kept for further mutation (seeds included). */
  corpus: number;
  /** Distinct outcomes seen: accepted shapes and refusal messages. */
  outcomes: number;
  /** Distinct findings, and every input that hit one of them. */
  findings: number;
  findingHits: number;
}

const MAX_CORPUS = 2000;

/**
 * The message with quoted text, names in parentheses, field paths (words with '_', '.' or '[') and numbers blanked,
 * so that it names the check that produced it and not the values that reached it.
 */
export function outcomeKey(message: string): string {
  return message
    .replace(/'[^']*'|"[^"]*"|\([^()\s]*\)/g, 'S')
    .replace(/[A-Za-z_][\w.[\]]*[_.[][\w.[\]]*/g, 'F')
    .replace(/-?\d+(\.\d+)?(e[-+]?\d+)?/gi, 'N')
    .slice(0, 160);
}

/** Accepted (with the refusals a target noted on the way), or thrown. */
type Outcome = { tensors: Tensor[]; refusals: OrtServeError[] } | { error: unknown };

function runOnce(target: FuzzTarget, input: Uint8Array): { outcome: Outcome; ms: number } {
  const start = performance.now();
  const refusals: OrtServeError[] = [];
  let outcome: Outcome;
  try {
    outcome = { tensors: target.run(input, (r) => refusals.push(r)), refusals };
  } catch (error) {
    outcome = { error };
  }
  return { outcome, ms: performance.now() - start };
}

/** The problem with one outcome, as [kind, message], or undefined when the contract holds. */
function judge(outcome: Outcome): [FindingKind, string] | undefined {
  if ('error' in outcome) {
    const breach = contractBreach(outcome.error);
    return breach === undefined ? undefined : ['crash', breach];
  }
  for (const [i, t] of outcome.tensors.entries()) {
    const defect = tensorDefect(t, `tensor ${i}`);
    if (defect !== undefined) return ['defect', defect];
  }
  return undefined;
}

function describeOutcome(outcome: Outcome): string {
  if ('error' in outcome) {
    const e = outcome.error;
    return e instanceof OrtServeError ? `${e.code} ${outcomeKey(e.message)}` : `!${String(e)}`.slice(0, 160);
  }
  const refused = outcome.refusals.map((e) => `${e.code} ${outcomeKey(e.message)}`).join(' | ');
  return `ok ${outcome.tensors.map((t) => `${t.dtype}/${t.shape.length}`).join(',')} ${refused}`;
}

function memoryInUse(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** Checks every seed decodes cleanly: a seed the decoder refuses would make the whole run mutate garbage. */
export function checkSeeds(target: FuzzTarget): void {
  target.seeds().forEach((seed, i) => {
    const { outcome } = runOnce(target, seed);
    if ('error' in outcome) throw new Error(`${target.name}: seed ${i} does not decode: ${String((outcome.error as Error).message ?? outcome.error)}`);
    const problem = judge(outcome);
    if (problem) throw new Error(`${target.name}: seed ${i}: ${problem[1]}`);
  });
}

/** Fuzzes `target` from `options.seed`; deterministic in the inputs it tries (not in timing findings). */
export function fuzz(target: FuzzTarget, options: FuzzOptions): FuzzStats {
  if (options.iterations === undefined && options.seconds === undefined) throw new Error('fuzz: set iterations or seconds');
  const rng = new Rng(options.seed);
  const corpus = target.seeds();
  const seen = new Set<string>();
  const reported = new Set<string>();
  let findings = 0;
  let hits = 0;
  const started = performance.now();
  const deadline = options.seconds === undefined ? Infinity : started + options.seconds * 1000;
  const maxIterations = options.iterations ?? Infinity;
  let i = 0;

  const report = (kind: FindingKind, message: string, input: Uint8Array, ms?: number) => {
    hits++;
    const key = `${kind} ${outcomeKey(message)}`;
    if (reported.has(key)) return;
    reported.add(key);
    findings++;
    options.onFinding({ target: target.name, seed: options.seed, iteration: i, kind, message, input: input.slice(), ...(ms === undefined ? {} : { ms }) });
  };

  for (; i < maxIterations; i++) {
    if ((i & 63) === 0 && performance.now() > deadline) break;
    // Recent inputs are picked more often than old ones: they are where new outcomes were last found.
    const parent = rng.chance(0.5) ? corpus[corpus.length - 1 - rng.below(Math.min(corpus.length, 32))]! : rng.pick(corpus);
    const input = mutate(parent, rng, corpus);
    options.beforeRun?.(input, i);
    let { outcome, ms } = runOnce(target, input);
    const problem = judge(outcome);
    if (problem) report(problem[0], problem[1], input);
    if (ms > options.budgetMs) {
      // Three slow runs in a row, so a GC pause or a busy neighbour is not reported.
      const retries = [runOnce(target, input).ms, runOnce(target, input).ms];
      const fastest = Math.min(ms, ...retries);
      if (fastest > options.budgetMs) {
        report('slow', `took ${fastest.toFixed(0)} ms (budget ${options.budgetMs} ms); outcome: ${describeOutcome(outcome)}`, input, Math.max(ms, ...retries));
      }
    }
    const key = describeOutcome(outcome);
    if (!seen.has(key)) {
      seen.add(key);
      if (corpus.length < MAX_CORPUS) corpus.push(input);
      else corpus[rng.below(corpus.length)] = input;
    }
    outcome = { tensors: [], refusals: [] }; // drop the decoded tensors before the memory check
    if ((i & 255) === 255 && memoryInUse() > options.heapCapBytes) {
      (globalThis as { gc?: () => void }).gc?.();
      const inUse = memoryInUse();
      if (inUse > options.heapCapBytes) {
        report('memory', `heap + array buffers hold ${(inUse / 2 ** 20).toFixed(0)} MiB, above the cap of ${(options.heapCapBytes / 2 ** 20).toFixed(0)} MiB`, input);
      }
    }
  }
  return {
    target: target.name, seed: options.seed, iterations: i, ms: performance.now() - started,
    corpus: corpus.length, outcomes: seen.size, findings, findingHits: hits,
  };
}

// A bounded, seeded fuzz pass over every decoder (the CI part of `npm run fuzz`): zero findings, same inputs every run.

import { describe, expect, it } from 'vitest';
import { checkSeeds, fuzz, type Finding } from '../fuzz/engine.js';
import { Rng, mutate } from '../fuzz/mutator.js';
import { TARGETS } from '../fuzz/targets/index.js';
import { preview, reproduceCommand } from '../fuzz/findings.js';
import { OrtServeError } from '../src/errors.js';

/** Fixed, so a CI failure replays locally with the same inputs: `npm run fuzz -- --target=<t> --seed=17`. */
const SEED = 17;
/** Inputs per target: about 1 s of CPU each, 10 s in all (the YAML reader is the slow one, hence its small count). */
const ITERATIONS: Record<string, number> = {
  'tf-json': 10_000, 'json-native': 4_000, 'kserve-json': 4_000, 'kserve-binary': 8_000, 'kserve-grpc': 8_000, 'tf-grpc': 6_000, 'kserve-grpc-wire': 8_000, 'tf-grpc-wire': 6_000,
  flatbuffers: 8_000, 'config-pbtxt': 8_000, 'config-yaml': 600, 'batching-params': 1_000,
};
// Generous next to `npm run fuzz`'s 200 ms: vitest runs two files at once here, and a slow input must be slow three
// times in a row to count, so this catches blowups without failing on a busy machine.
const BUDGET_MS = 1000;

describe('fuzz smoke (seeded)', () => {
  it('has a pass size for every target', () => {
    expect(TARGETS.map((t) => t.name).sort()).toEqual(Object.keys(ITERATIONS).sort());
  });

  for (const target of TARGETS) {
    it(`${target.name}: every seed decodes, and ${ITERATIONS[target.name]} mutated inputs find nothing`, () => {
      checkSeeds(target);
      const findings: Finding[] = [];
      const stats = fuzz(target, {
        seed: SEED, iterations: ITERATIONS[target.name]!, budgetMs: BUDGET_MS, heapCapBytes: 2 ** 30,
        onFinding: (f) => findings.push(f),
      });
      expect(stats.iterations).toBe(ITERATIONS[target.name]);
      const shown = findings.map((f) => `${f.kind} at input #${f.iteration}: ${f.message}\n  input: ${preview(f.input)}\n`
        + `  replay: save the input and run ${reproduceCommand(f.target, '<file>')}`);
      expect(shown).toEqual([]);
    });
  }
});

describe('the harness itself', () => {
  it('mutates deterministically from a seed', () => {
    const seeds = [new TextEncoder().encode('{"inputs": [{"shape": [1, 2]}]}')];
    const run = () => {
      const rng = new Rng(99);
      return Array.from({ length: 200 }, () => Buffer.from(mutate(seeds[0]!, rng, seeds)).toString('hex'));
    };
    expect(run()).toEqual(run());
  });

  it('reports a TypeError, an ERR_INTERNAL and a tensor that lies about its shape, each once; a client error is no finding', () => {
    const findings: Finding[] = [];
    let calls = 0;
    fuzz({
      name: 'broken',
      description: 'a decoder with every kind of bug, one per input in turn',
      seeds: () => [new Uint8Array([1, 2, 3])],
      run: () => {
        calls++;
        switch (calls % 4) {
          case 0: throw new TypeError('x is undefined');
          case 1: throw new OrtServeError('ERR_INTERNAL', 'oops');
          case 2: return [{ dtype: 'float32', shape: [2, 2], data: new Float32Array(3) }];
          default: throw new OrtServeError('ERR_SHAPE', 'a client error is fine');
        }
      },
    }, { seed: 1, iterations: 40, budgetMs: 5, heapCapBytes: 2 ** 40, onFinding: (f) => findings.push(f) });
    const kinds = findings.map((f) => f.kind).sort();
    expect(kinds).toEqual(['crash', 'crash', 'defect']);
    expect(findings.map((f) => f.message).join('\n')).toMatch(/TypeError: x is undefined[\s\S]*ERR_INTERNAL|ERR_INTERNAL[\s\S]*TypeError/);
  });

  it('reports an input that is slower than the budget three times in a row', () => {
    const findings: Finding[] = [];
    const slow = {
      name: 'slow', description: 'takes 10 ms for every input', seeds: () => [new Uint8Array(1)],
      run: () => {
        const until = performance.now() + 10;
        while (performance.now() < until);
        return [];
      },
    };
    fuzz(slow, { seed: 1, iterations: 3, budgetMs: 5, heapCapBytes: 2 ** 40, onFinding: (f) => findings.push(f) });
    expect(findings.map((f) => f.kind)).toEqual(['slow']);
    expect(findings[0]!.ms).toBeGreaterThanOrEqual(10);
  });
});

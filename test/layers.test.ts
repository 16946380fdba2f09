// The import direction of src/: each layer imports only the layers below it (ARCHITECTURE.md), so nothing points up.

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.join(import.meta.dirname, '..', 'src');

/**
 * What each folder of src/ may import (besides itself and packages). errors.ts is below everything; the composition
 * files at the top (server.ts, index.ts, cli.ts) may import anything.
 */
const MAY_IMPORT: Record<string, readonly string[]> = {
  engine: ['errors.ts'],
  protocol: ['errors.ts', 'engine'],
  config: ['errors.ts', 'engine'],
  registry: ['errors.ts', 'engine', 'protocol', 'config'],
  inference: ['errors.ts', 'engine', 'protocol', 'registry'],
  frontends: ['errors.ts', 'engine', 'protocol', 'config', 'registry', 'inference'],
  client: ['errors.ts', 'engine', 'protocol'],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(full);
    return e.name.endsWith('.ts') ? [full] : [];
  });
}

interface SourceFile {
  /** Absolute path under src/. */
  file: string;
  text: string;
}

/** The relative imports of a file (static, dynamic and `export ... from`), resolved to src/-relative paths. */
function relativeImports({ file, text }: SourceFile): string[] {
  const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)].map((m) => m[1]!);
  return specifiers.map((s) => path.relative(SRC, path.resolve(path.dirname(file), s)));
}

/** The layer a src/-relative path belongs to: its top folder, or the file name for files at the top. */
const layerOf = (relative: string): string => relative.split(path.sep)[0]!.replace(/\.js$/, '.ts');

/** Every import that points up or sideways across the layers, as 'from -> to'. */
function layerViolations(sources: readonly SourceFile[]): string[] {
  const violations: string[] = [];
  for (const source of sources) {
    const from = path.relative(SRC, source.file);
    const allowed = MAY_IMPORT[layerOf(from)];
    if (allowed === undefined) continue;   // a composition file at the top of src/
    for (const target of relativeImports(source)) {
      const layer = layerOf(target);
      if (layer !== layerOf(from) && !allowed.includes(layer)) violations.push(`${from} -> ${target}`);
    }
  }
  return violations;
}

describe('layers', () => {
  const sources = sourceFiles(SRC).map((file) => ({ file, text: readFileSync(file, 'utf8') }));

  it('reads every layer (a search that found nothing would pass vacuously)', () => {
    for (const layer of Object.keys(MAY_IMPORT)) {
      expect(sources.some((s) => layerOf(path.relative(SRC, s.file)) === layer), layer).toBe(true);
    }
  });

  it('no import points up the layers', () => {
    expect(layerViolations(sources)).toEqual([]);
  });

  it('finds an upward import: the registry importing a front end (as warmup.ts once did), or the engine the registry', () => {
    const fakes: SourceFile[] = [
      { file: path.join(SRC, 'registry', 'fake.ts'), text: "import { parseJson } from '../frontends/json/json-parser.js';\n" },
      { file: path.join(SRC, 'engine', 'fake.ts'), text: "export type { VersionState } from '../registry/model-version.js';\n" },
      { file: path.join(SRC, 'protocol', 'x', 'fake.ts'), text: "const m = await import('../../inference/run-inference.js');\n" },
    ];
    expect(layerViolations(fakes)).toEqual([
      `registry/fake.ts -> ${path.join('frontends', 'json', 'json-parser.js')}`,
      `engine/fake.ts -> ${path.join('registry', 'model-version.js')}`,
      `protocol/x/fake.ts -> ${path.join('inference', 'run-inference.js')}`,
    ]);
  });
});

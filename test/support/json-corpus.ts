// JSON texts of the repository's own test files: every JSON literal in test/*.ts, for differential JSON tests.

import { readdirSync, readFileSync } from 'node:fs';

/** JSON string literals in the repository's own test files: every body the suite sends, roughly. */
export function corpusFromTests(): string[] {
  const out = new Set<string>();
  for (const file of readdirSync('test')) {
    if (!file.endsWith('.ts')) continue;
    const src = readFileSync(`test/${file}`, 'utf8');
    for (const m of src.matchAll(/'([[{][^'\n]*)'/g)) out.add(m[1]!);
    for (const m of src.matchAll(/`([[{][^`$\n]*)`/g)) out.add(m[1]!);
  }
  return [...out];
}

// Findings on disk: each one's input bytes and a JSON note (target, seed, kind, message), named by content hash.

import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Finding } from './engine.js';

/** Where findings go unless --findings= says otherwise (ignored by git: a finding becomes a test, not a file). */
export const DEFAULT_FINDINGS_DIR = 'fuzz/findings';

/** Writes `<dir>/<target>-<kind>-<hash>.bin` and `.json`; returns the .bin path. */
export function saveFinding(dir: string, finding: Finding): string {
  mkdirSync(dir, { recursive: true });
  const hash = createHash('sha256').update(finding.input).digest('hex').slice(0, 12);
  const base = path.join(dir, `${finding.target}-${finding.kind}-${hash}`);
  writeFileSync(`${base}.bin`, finding.input);
  const { input, ...note } = finding;
  writeFileSync(`${base}.json`, `${JSON.stringify({ ...note, bytes: input.length, reproduce: reproduceCommand(finding.target, `${base}.bin`) }, null, 2)}\n`);
  return `${base}.bin`;
}

export function reproduceCommand(target: string, file: string): string {
  return `npm run fuzz -- --target=${target} --repro=${file}`;
}

/** A short printable view of an input: text when it is mostly printable, else hex. */
export function preview(input: Uint8Array, max = 160): string {
  const head = input.subarray(0, max);
  const printable = head.filter((b) => (b >= 0x20 && b < 0x7f) || b === 0x0a || b === 0x09).length;
  const shown = printable >= head.length * 0.9 ? JSON.stringify(Buffer.from(head).toString('latin1')) : Buffer.from(head).toString('hex');
  return input.length > max ? `${shown}... (${input.length} bytes)` : shown;
}

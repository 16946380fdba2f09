// Renders KNOBS as the README's Markdown flag table (scripts/knob-table.mjs prints it; a test keeps the README equal).
import { KNOBS } from './knobs.js';

export function knobTable(): string {
  const rows = ['| flag | also accepted | default | what it does |', '|---|---|---|---|'];
  for (const k of KNOBS) {
    const aliases = (k.aliases ?? []).map((a) => `\`--${a}\``).join(', ');
    rows.push(`| \`--${k.flag}\` | ${aliases} | \`${JSON.stringify(k.default)}\` | ${k.doc} |`);
  }
  return rows.join('\n');
}

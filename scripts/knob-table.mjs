// Prints the README's flag table (from the compiled src/config/knob-table.ts; run `npm run prepare` first).
import { knobTable } from '../dist/src/config/knob-table.js';

console.log(knobTable());

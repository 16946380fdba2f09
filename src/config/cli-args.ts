// Parses TF Serving-style command-line flags (--name=value or --name value) into ServerOptions, naming any bad flag.

import { KNOBS, defaultOptions, type Knob, type ServerOptions } from './knobs.js';
import { OrtServeError } from '../errors.js';

export type CliResult = { help: true } | { help: false; options: ServerOptions };

const byFlag = new Map<string, Knob>();
for (const knob of KNOBS) {
  byFlag.set(knob.flag, knob);
  for (const alias of knob.aliases ?? []) byFlag.set(alias, knob);
}

/** Checks and converts one flag value; throws ERR_CONFIG naming the flag. */
export function parseKnobValue(knob: Knob, raw: string, shownAs = `--${knob.flag}`): string | number | boolean {
  switch (knob.kind) {
    case 'string':
      return raw;
    case 'boolean':
      if (raw === 'true' || raw === '1') return true;
      if (raw === 'false' || raw === '0') return false;
      throw new OrtServeError('ERR_CONFIG', `${shownAs}: '${raw}' is not true or false`);
    case 'enum':
      if (!knob.values!.includes(raw)) throw new OrtServeError('ERR_CONFIG', `${shownAs}: '${raw}' is not one of ${knob.values!.join(', ')}`);
      return raw;
    case 'integer':
    case 'number': {
      if (knob.kind === 'integer' && !/^-?\d+$/.test(raw)) throw new OrtServeError('ERR_CONFIG', `${shownAs}: '${raw}' is not an integer`);
      if (knob.kind === 'number' && !/^-?(\d+\.?\d*|\.\d+)$/.test(raw)) throw new OrtServeError('ERR_CONFIG', `${shownAs}: '${raw}' is not a number`);
      const value = Number(raw);
      if ((knob.min !== undefined && value < knob.min) || (knob.max !== undefined && value > knob.max)) {
        throw new OrtServeError('ERR_CONFIG', `${shownAs}: ${value} is outside ${knob.min}..${knob.max}`);
      }
      return value;
    }
  }
}

export function parseCliArgs(argv: readonly string[]): CliResult {
  const options = defaultOptions() as unknown as Record<string, string | number | boolean>;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return { help: true };
    if (!arg.startsWith('--')) throw new OrtServeError('ERR_CONFIG', `unexpected argument '${arg}' (flags look like --name=value)`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const knob = byFlag.get(name);
    if (knob === undefined) throw new OrtServeError('ERR_CONFIG', `unknown flag --${name} (see --help)`);
    let raw: string;
    if (eq >= 0) {
      raw = arg.slice(eq + 1);
    } else if (knob.kind === 'boolean') {
      raw = 'true';   // a bare boolean flag (--enable_batching) turns it on, as in TF Serving
    } else {
      const next = argv[i + 1];
      if (next === undefined) throw new OrtServeError('ERR_CONFIG', `--${name} needs a value`);
      raw = next;
      i++;
    }
    options[knob.key] = parseKnobValue(knob, raw, `--${name}`);
  }
  return { help: false, options: options as unknown as ServerOptions };
}

/** --help text: usage and one line per flag with its default. */
export function helpText(): string {
  const lines = ['Usage: ortserve --model_base_path=DIR [--model_name=NAME] [flags]', '', 'Flags:'];
  for (const knob of KNOBS) {
    const aliases = knob.aliases?.length ? ` (also --${knob.aliases.join(', --')})` : '';
    lines.push(`  --${knob.flag}=${JSON.stringify(knob.default)}${aliases}`);
    lines.push(`      ${knob.doc}`);
  }
  return lines.join('\n');
}

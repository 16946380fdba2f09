// The one parser of execution provider lists ("tensorrt:0,cuda:1"), for the --execution_providers flag and model configs.

import { OrtServeError } from '../errors.js';
import { EXECUTION_PROVIDERS, type ExecutionProviderName } from '../engine/native-binding.js';

export interface ExecutionProviderRequest {
  name: ExecutionProviderName;
  deviceId: number;
}

/** A malformed entry of a provider list: `index` is its place in the comma-separated list. */
export class ProviderEntryError extends Error {
  constructor(readonly index: number, message: string) {
    super(message);
  }
}

/**
 * Parses "name[:device],..." (names: tensorrt, cuda, cpu; device a non-negative integer, default 0). Blank entries
 * are skipped. Throws ProviderEntryError saying what is wrong with the entry; callers add their field's name.
 */
export function parseExecutionProviderList(text: string): ExecutionProviderRequest[] {
  const out: ExecutionProviderRequest[] = [];
  text.split(',').forEach((raw, i) => {
    const part = raw.trim();
    if (part === '') return;
    const [name = '', device = '0', ...extra] = part.split(':');
    if (!(EXECUTION_PROVIDERS as readonly string[]).includes(name)) {
      throw new ProviderEntryError(i, `'${name}' is not one of ${EXECUTION_PROVIDERS.join(', ')}`);
    }
    if (extra.length > 0 || !/^\d{1,4}$/.test(device)) {
      throw new ProviderEntryError(i, `'${part}': the device id must be a non-negative integer of at most four digits (name or name:device)`);
    }
    out.push({ name: name as ExecutionProviderName, deviceId: Number(device) });
  });
  return out;
}

/** The --execution_providers flag's list; throws ERR_CONFIG naming the flag and the entry. */
export function parseExecutionProviders(text: string): ExecutionProviderRequest[] {
  try {
    return parseExecutionProviderList(text);
  } catch (err) {
    if (!(err instanceof ProviderEntryError)) throw err;
    throw new OrtServeError('ERR_CONFIG', `--execution_providers[${err.index}]: ${err.message}`);
  }
}

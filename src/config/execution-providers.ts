// The one parser of execution provider lists ("tensorrt:0,cuda:1"), for the --execution_providers flag and model configs.

import { OrtServeError } from '../errors.js';
import { EXECUTION_PROVIDERS, type ExecutionProviderName } from '../engine/native-binding.js';

export interface ExecutionProviderRequest {
  name: ExecutionProviderName;
  deviceId: number;
  /** ONNX Runtime's own option keys and values for the provider's options struct (checked by ortProviderOptions). */
  options?: Record<string, string>;
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

/**
 * ONNX Runtime's own option keys of each provider's options struct that ortserve passes on (device_id is set from the
 * device id). Written from ORT's documented CUDA and TensorRT provider options.
 */
export const ORT_PROVIDER_KEYS: Record<'cuda' | 'tensorrt', readonly string[]> = {
  cuda: ['gpu_mem_limit', 'arena_extend_strategy', 'cudnn_conv_algo_search', 'do_copy_in_default_stream', 'cudnn_conv_use_max_workspace', 'enable_cuda_graph'],
  tensorrt: [
    'trt_max_workspace_size', 'trt_fp16_enable', 'trt_int8_enable', 'trt_int8_calibration_table_name', 'trt_engine_cache_enable',
    'trt_engine_cache_path', 'trt_timing_cache_enable', 'trt_timing_cache_path', 'trt_max_partition_iterations', 'trt_min_subgraph_size',
    'trt_dla_enable', 'trt_dla_core', 'trt_cuda_graph_enable',
  ],
};

/** A provider option ortserve cannot pass on: the key as given and why. */
export interface ProviderOptionProblem {
  key: string;
  problem: string;
}

const FLAG = /^(1|0|true|false)$/i;
const COUNT = /^\d{1,19}$/;
const flag = (v: string) => (/^(1|true)$/i.test(v) ? '1' : '0');

/** Checks a value for an ORT provider key: flags are 0/1/true/false, sizes and counts decimal integers. */
function ortValue(provider: 'cuda' | 'tensorrt', key: string, value: string): string | ProviderOptionProblem {
  if (/^enable_|_enable$|do_copy_in_default_stream|cudnn_conv_use_max_workspace/.test(key)) return FLAG.test(value) ? flag(value) : { key, problem: `'${value}' is not 0, 1, true or false` };
  if (/size|limit|iterations|core/.test(key)) return COUNT.test(value) ? value : { key, problem: `'${value}' is not a non-negative integer` };
  if (key === 'cudnn_conv_algo_search') {
    // Triton's ONNX Runtime backend writes it as 0 (exhaustive), 1 (heuristic), 2 (default); ORT takes the names.
    const names: Record<string, string> = { 0: 'EXHAUSTIVE', 1: 'HEURISTIC', 2: 'DEFAULT', exhaustive: 'EXHAUSTIVE', heuristic: 'HEURISTIC', default: 'DEFAULT' };
    return names[value.toLowerCase()] ?? { key, problem: `'${value}' is not EXHAUSTIVE, HEURISTIC or DEFAULT (or 0, 1, 2)` };
  }
  if (key === 'arena_extend_strategy') {
    const names: Record<string, string> = { 0: 'kNextPowerOfTwo', 1: 'kSameAsRequested', knextpoweroftwo: 'kNextPowerOfTwo', ksameasrequested: 'kSameAsRequested' };
    return names[value.toLowerCase()] ?? { key, problem: `'${value}' is not kNextPowerOfTwo or kSameAsRequested (or 0, 1)` };
  }
  void provider;
  return value;
}

/**
 * ORT provider options from ORT's own keys (a TF-style config's provider_options). Returns the options and the keys
 * refused (unknown to ortserve, or a bad value).
 */
export function ortProviderOptions(provider: 'cuda' | 'tensorrt', given: Record<string, string>): { options: Record<string, string>; problems: ProviderOptionProblem[] } {
  const options: Record<string, string> = {};
  const problems: ProviderOptionProblem[] = [];
  for (const [key, value] of Object.entries(given)) {
    if (!ORT_PROVIDER_KEYS[provider].includes(key)) {
      problems.push({ key, problem: `not a ${provider} provider option ortserve passes on (${ORT_PROVIDER_KEYS[provider].join(', ')})` });
      continue;
    }
    const checked = ortValue(provider, key, value);
    if (typeof checked === 'string') options[key] = checked;
    else problems.push(checked);
  }
  return { options, problems };
}

/**
 * ORT provider options from Triton's names: the tensorrt accelerator's parameters (precision_mode FP32/FP16/INT8,
 * max_workspace_size_bytes, and the trt_* keys ORT knows), the cuda accelerator's and the backend's CUDA parameters
 * (ORT's own names). Returns the options and the parameters refused.
 */
export function tritonProviderOptions(provider: 'cuda' | 'tensorrt', parameters: Record<string, string>): { options: Record<string, string>; problems: ProviderOptionProblem[] } {
  const renamed: Record<string, string> = {};
  const problems: ProviderOptionProblem[] = [];
  for (const [key, value] of Object.entries(parameters)) {
    if (provider === 'tensorrt' && key === 'precision_mode') {
      const mode = value.toUpperCase();
      if (mode === 'FP16') renamed['trt_fp16_enable'] = '1';
      else if (mode === 'INT8') renamed['trt_int8_enable'] = '1';
      else if (mode !== 'FP32') problems.push({ key, problem: `'${value}' is not FP32, FP16 or INT8` });
    } else if (provider === 'tensorrt' && key === 'max_workspace_size_bytes') {
      renamed['trt_max_workspace_size'] = value;
    } else {
      renamed[key] = value;
    }
  }
  const checked = ortProviderOptions(provider, renamed);
  return { options: checked.options, problems: [...problems, ...checked.problems] };
}

// Fuzz targets for the model config readers: TF Serving text format and YAML/JSON, whole configs and batching files.

import { parseBatchingParameters, parseModelServerConfig, type ConfigFormat } from '../../src/config/model-config.js';
import type { FuzzTarget } from '../target.js';

// fatal: false, as Buffer#toString('utf8') (how the server reads files and request bodies) replaces bad bytes.
const utf8 = new TextDecoder('utf-8');
const text = (s: string) => new TextEncoder().encode(s);

const PBTXT = `
# Two models, most fields ortserve reads.
model_config_list {
  config {
    name: 'mlp'
    base_path: "/models/mlp"
    model_platform: "onnx"
    model_version_policy { specific { versions: 1 versions: 2 } }
    version_labels { key: 'stable' value: 1 }
    version_labels { key: 'canary' value: 2 }
    batching {
      max_batch_size { value: 8 }
      batch_timeout_micros: 500
      max_enqueued_batches: 4
      num_batch_threads: 2
      allowed_batch_sizes: [2, 4, 8]
      preferred_batch_sizes: 4
      pad_variable_length_inputs: true
    }
    execution_providers: "cuda:0"
    execution_providers: "cpu"
    intra_op_threads: 2
    inter_op_threads: 1
    graph_optimization_level: EXTENDED
    version_swap_policy: RESOURCE_PRESERVING
    warmup_iterations: 3
  },
  config: < name: "b" base_path: "rel/b" model_version_policy: { latest: { num_versions: 2 } } >;
  config { name: "c\\x41" base_path: "/c" model_version_policy { all {} } }
}
`;

const YAML = `
model_config_list:
  config:
    - name: mlp
      base_path: /models/mlp
      model_platform: onnx
      model_version_policy: { specific: { versions: [1, 2] } }
      version_labels: { stable: 1, canary: 2 }
      batching: &batching
        max_batch_size: 8
        batch_timeout_micros: 500
        allowed_batch_sizes: [2, 4, 8]
        preferred_batch_sizes: [4]
        pad_variable_length_inputs: true
      execution_providers: "cuda:0,cpu"
      graph_optimization_level: extended
      version_swap_policy: resource_preserving
      warmup_iterations: 3
    - name: b
      base_path: rel/b
      batching: *batching
      model_version_policy:
        latest:
          num_versions: 2
    - { name: c, base_path: /c, model_version_policy: { all: } }
`;

const JSON_CONFIG = JSON.stringify({
  model_config_list: { config: [{ name: 'j', base_path: '/j', version_labels: [{ key: 'a', value: 1 }], intra_op_threads: 0 }] },
});

function configTarget(name: string, format: ConfigFormat, seeds: string[]): FuzzTarget {
  return {
    name,
    description: `--model_config_file / config:reload body in ${format === 'pbtxt' ? 'TF Serving text format' : 'YAML/JSON'}: parseModelServerConfig`,
    seeds: () => seeds.map(text),
    run: (input) => {
      parseModelServerConfig(utf8.decode(input), { format, source: 'models.config', baseDir: '/etc/ortserve' });
      return [];
    },
  };
}

export const configPbtxt = configTarget('config-pbtxt', 'pbtxt', [PBTXT, 'model_config_list {}', 'model_config_list { config { name: "x" base_path: "/x" } }']);
export const configYaml = configTarget('config-yaml', 'yaml', [YAML, JSON_CONFIG, 'model_config_list: {config: []}']);

export const batchingParameters: FuzzTarget = {
  name: 'batching-params',
  description: '--batching_parameters_file: parseBatchingParameters; the format is YAML when the input starts with "{" or "%", else text format',
  seeds: () => [
    'max_batch_size { value: 128 }\nbatch_timeout_micros { value: 0 }\nmax_enqueued_batches { value: 1000000 }\n'
      + 'num_batch_threads { value: 8 }\nallowed_batch_sizes: 32\nallowed_batch_sizes: 128\npad_variable_length_inputs: true\n',
    '{max_batch_size: 8, batch_timeout_micros: 100, preferred_batch_sizes: [2, 4], allowed_batch_sizes: [4, 8]}',
    '%YAML 1.2\n---\nmax_batch_size: {value: 16}\nnum_batch_threads: 2\n',
  ].map(text),
  run: (input) => {
    const source = utf8.decode(input);
    const format: ConfigFormat = /^[{%]/.test(source) ? 'yaml' : 'pbtxt';
    parseBatchingParameters(source, { format, source: 'batching.config' });
    return [];
  },
};

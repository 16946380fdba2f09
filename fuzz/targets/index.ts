// Every fuzz target, by name: one per decoder that reads bytes a client or an operator controls.

import type { FuzzTarget } from '../target.js';
import { batchingParameters, configPbtxt, configYaml } from './config-targets.js';
import { flatbuffers } from './flatbuffers-target.js';
import { kserveGrpc, kserveGrpcWire, tfGrpc, tfGrpcWire } from './grpc-targets.js';
import { jsonNative } from './json-native-target.js';
import { kserveBinary, kserveJson, tfJson } from './rest-targets.js';

export const TARGETS: readonly FuzzTarget[] = [
  tfJson, jsonNative, kserveJson, kserveBinary, kserveGrpc, tfGrpc, kserveGrpcWire, tfGrpcWire, flatbuffers, configPbtxt, configYaml, batchingParameters,
];

export function targetNamed(name: string): FuzzTarget | undefined {
  return TARGETS.find((t) => t.name === name);
}

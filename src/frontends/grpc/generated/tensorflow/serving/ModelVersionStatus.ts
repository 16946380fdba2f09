// Generated from schemas/tensorflow_serving_apis.proto by `node scripts/gen-grpc-types.mjs` (proto-loader-gen-types --keepCase --longs=String --enums=String --defaults --oneofs): do not edit.

import type { StatusProto as _tensorflow_serving_StatusProto, StatusProto__Output as _tensorflow_serving_StatusProto__Output } from '../../tensorflow/serving/StatusProto.js';
import type { Long } from '@grpc/proto-loader';

// Original file: schemas/tensorflow_serving_apis.proto

export const _tensorflow_serving_ModelVersionStatus_State = {
  UNKNOWN: 'UNKNOWN',
  START: 'START',
  LOADING: 'LOADING',
  AVAILABLE: 'AVAILABLE',
  UNLOADING: 'UNLOADING',
  END: 'END',
} as const;

export type _tensorflow_serving_ModelVersionStatus_State =
  | 'UNKNOWN'
  | 0
  | 'START'
  | 10
  | 'LOADING'
  | 20
  | 'AVAILABLE'
  | 30
  | 'UNLOADING'
  | 40
  | 'END'
  | 50

export type _tensorflow_serving_ModelVersionStatus_State__Output = typeof _tensorflow_serving_ModelVersionStatus_State[keyof typeof _tensorflow_serving_ModelVersionStatus_State]

export interface ModelVersionStatus {
  'version'?: (number | string | Long);
  'state'?: (_tensorflow_serving_ModelVersionStatus_State);
  'status'?: (_tensorflow_serving_StatusProto | null);
}

export interface ModelVersionStatus__Output {
  'version': (string);
  'state': (_tensorflow_serving_ModelVersionStatus_State__Output);
  'status': (_tensorflow_serving_StatusProto__Output | null);
}

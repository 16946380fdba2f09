// Generated from schemas/kserve_grpc_inference.proto by `node scripts/gen-grpc-types.mjs` (proto-loader-gen-types --keepCase --longs=String --enums=String --defaults --oneofs): do not edit.

import type { ModelStatistics as _inference_ModelStatistics, ModelStatistics__Output as _inference_ModelStatistics__Output } from '../inference/ModelStatistics.js';

export interface ModelStatisticsResponse {
  'model_stats'?: (_inference_ModelStatistics)[];
}

export interface ModelStatisticsResponse__Output {
  'model_stats': (_inference_ModelStatistics__Output)[];
}

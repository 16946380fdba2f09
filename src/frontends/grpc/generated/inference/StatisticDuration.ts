// Generated from schemas/kserve_grpc_inference.proto by `node scripts/gen-grpc-types.mjs` (proto-loader-gen-types --keepCase --longs=String --enums=String --defaults --oneofs): do not edit.

import type { Long } from '@grpc/proto-loader';

export interface StatisticDuration {
  'count'?: (number | string | Long);
  'ns'?: (number | string | Long);
}

export interface StatisticDuration__Output {
  'count': (string);
  'ns': (string);
}

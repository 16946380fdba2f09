// Generated from null by `node scripts/gen-grpc-types.mjs` (proto-loader-gen-types --keepCase --longs=String --enums=String --defaults --oneofs): do not edit.


export interface DoubleValue {
  'value'?: (number | string);
}

export interface DoubleValue__Output {
  'value': (number);
}

// Generated from null by `node scripts/gen-grpc-types.mjs` (proto-loader-gen-types --keepCase --longs=String --enums=String --defaults --oneofs): do not edit.


export interface FloatValue {
  'value'?: (number | string);
}

export interface FloatValue__Output {
  'value': (number);
}

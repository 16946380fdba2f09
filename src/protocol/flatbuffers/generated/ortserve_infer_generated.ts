// Generated from schemas/ortserve_infer.fbs by scripts/gen-flatbuffers.mjs (flatc): do not edit.
/* eslint-disable */

export { DataType } from './ortserve/fb/data-type.js';
export { Error } from './ortserve/fb/error.js';
export { InferRequest } from './ortserve/fb/infer-request.js';
export { Tensor } from './ortserve/fb/tensor.js';

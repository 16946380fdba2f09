// The library API: embed ortserve in a Node application with createServer(options).start().
export { createServer, type CreateServerOptions, type DrainOptions, type DrainReport, type OrtServe, type ServerStatus } from './server.js';
export { KNOBS, defaultOptions, type ServerOptions } from './config/knobs.js';
export { ERRORS, OrtServeError, type ErrorCode } from './errors.js';
export { ModelSession, type ModelSignature, type TensorSpec, type SessionOptions } from './engine/model-session.js';
export type { DType, Tensor } from './engine/tensor.js';

// ortserve's TypeScript client (import from 'ortserve/client'): FlatBuffers over HTTP and over a WebSocket.
export { FlatBuffersHttpClient, type InferOptions, type InferResult } from './flatbuffers-http-client.js';
export { FlatBuffersWsClient, type WsClientOptions } from './flatbuffers-ws-client.js';
export { OrtServeClientError } from './client-errors.js';
export { asStrings, type ClientInput, type ClientTensor, type TypedArray } from './client-tensors.js';

// Runs one FlatBuffers InferRequest through the registry and returns the encoded InferResponse (or error response).

import { OrtServeError, toOrtServeError } from '../../errors.js';
import type { ModelRegistry } from '../../registry/model-registry.js';
import { decodeInferRequest, encodeErrorResponse, encodeInferResponse } from '../../protocol/flatbuffers/messages.js';

export interface FbInferResult {
  /** The encoded InferResponse (success or error). */
  bytes: Uint8Array;
  status: number;
  /** The request id, for matching on a WebSocket ('' when the request could not be decoded). */
  id: string;
}

/**
 * Decodes, runs and encodes. Never throws: every failure becomes an error response with the registry's code.
 * `serverTimeoutMs` (0 = none) bounds the request's own timeout_micros; `signal` drops it if it has not started.
 */
export async function runFlatBuffersInfer(
  registry: ModelRegistry,
  bytes: Uint8Array,
  serverTimeoutMs: number,
  signal?: AbortSignal,
): Promise<FbInferResult> {
  const receivedAt = Date.now();
  let id = '';
  let model = '';
  try {
    const request = decodeInferRequest(bytes);
    id = request.id;
    model = request.model;
    const limits = [serverTimeoutMs > 0 ? serverTimeoutMs : undefined, request.timeoutMicros > 0 ? request.timeoutMicros / 1000 : undefined]
      .filter((x): x is number => x !== undefined);
    const deadline = limits.length > 0 ? receivedAt + Math.min(...limits) : undefined;
    const selector = { ...(request.version !== undefined ? { version: request.version } : {}), ...(request.label ? { label: request.label } : {}) };
    const response = await registry.use(request.model, selector, async (v) => {
      const outputs = await v.session.run(request.inputs, request.outputs.length > 0 ? request.outputs : undefined, { deadline, signal });
      return encodeInferResponse(id, v.model, v.version, outputs);
    });
    return { bytes: response, status: 200, id };
  } catch (err) {
    const error = err instanceof OrtServeError ? err : toOrtServeError(err);
    return { bytes: encodeErrorResponse(id, model, error), status: error.httpStatus, id };
  }
}

// The gRPC methods that skip protobufjs objects: ModelInfer, ModelStreamInfer and Predict decode requests and encode
// replies with ortserve's own wire codec (src/protocol/protobuf/); metadata and management RPCs keep protobufjs.

import { DEFAULT_SIZE_LIMITS } from '../../engine/tensor-limits.js';
import type { DecodeLimits } from '../../protocol/protobuf/decode-counts.js';
import { decodeModelInferRequest, encodeModelInferResponse, encodeModelStreamInferResponse } from '../../protocol/protobuf/kserve-infer-wire.js';
import { decodePredictRequest, encodePredictResponse } from '../../protocol/protobuf/tf-predict-wire.js';
import type { WireCodec } from './proto-schemas.js';

/**
 * inference.GRPCInferenceService: tensor bytes stay views of the received message; replies are one Buffer each. A
 * message past `limits` (bytes_contents values, entries: DecodeCounts) is refused while it is decoded (ERR_TOO_LARGE).
 */
export function kserveWireCodecs(limits: DecodeLimits): Record<string, WireCodec<unknown, never>> {
  const decode = (bytes: Buffer) => decodeModelInferRequest(bytes, limits);
  return {
    ModelInfer: { decode, encode: encodeModelInferResponse },
    ModelStreamInfer: { decode, encode: encodeModelStreamInferResponse },
  };
}

/** tensorflow.serving.PredictionService: Predict only (GetModelMetadata keeps the generic path); counted likewise. */
export function predictionWireCodecs(limits: DecodeLimits): Record<string, WireCodec<unknown, never>> {
  return { Predict: { decode: (bytes: Buffer) => decodePredictRequest(bytes, limits), encode: encodePredictResponse } };
}

/** The codecs under the default limits (tests compare them with the generic path). */
export const KSERVE_WIRE_CODECS = kserveWireCodecs(DEFAULT_SIZE_LIMITS);
export const PREDICTION_WIRE_CODECS = predictionWireCodecs(DEFAULT_SIZE_LIMITS);

// The gRPC methods that skip protobufjs objects: ModelInfer, ModelStreamInfer and Predict decode requests and encode
// replies with ortserve's own wire codec (src/protocol/protobuf/); metadata and management RPCs keep protobufjs.

import { DEFAULT_SIZE_LIMITS } from '../../engine/tensor-limits.js';
import type { DecodeLimits } from '../../protocol/protobuf/decode-counts.js';
import {
  decodeModelInferRequest, encodeModelInferResponse, encodeModelStreamInferResponse, modelInferRequestHead, modelInferRequestSteps,
} from '../../protocol/protobuf/kserve-infer-wire.js';
import { decodePredictRequest, encodePredictResponse, predictRequestSteps } from '../../protocol/protobuf/tf-predict-wire.js';
import type { WireCodec } from './proto-schemas.js';
import type { InFlightBytes } from '../../inference/request-size.js';

/**
 * inference.GRPCInferenceService: tensor bytes stay views of the received message; replies are one Buffer each. A
 * message past `limits` (bytes_contents values, entries: DecodeCounts) is refused while it is decoded (ERR_TOO_LARGE);
 * one larger than limits.wireSliceBytes is decoded in slices by the handler (DeferredDecode).
 */
export function kserveWireCodecs(limits: DecodeLimits & { wireSliceBytes: number }, inFlight?: InFlightBytes): Record<string, WireCodec<unknown, never>> {
  const decode = (bytes: Buffer) => decodeModelInferRequest(bytes, limits);
  // A message over --wire_slice_bytes is decoded by the handler over several turns of the event loop, counted in
  // the server's bytes in flight meanwhile.
  const sliced = { steps: (bytes: Buffer) => modelInferRequestSteps(bytes, limits), sliceBytes: limits.wireSliceBytes, ...reserving(inFlight) };
  return {
    ModelInfer: { decode, encode: encodeModelInferResponse, sliced },
    // A stream's failure answers carry the request's id, read from the message when it was not decoded.
    ModelStreamInfer: { decode, encode: encodeModelStreamInferResponse, sliced, head: modelInferRequestHead },
  };
}

/** tensorflow.serving.PredictionService: Predict only (GetModelMetadata keeps the generic path); counted likewise. */
export function predictionWireCodecs(limits: DecodeLimits & { wireSliceBytes: number }, inFlight?: InFlightBytes): Record<string, WireCodec<unknown, never>> {
  return { Predict: {
    decode: (bytes: Buffer) => decodePredictRequest(bytes, limits),
    encode: encodePredictResponse,
    sliced: { steps: (bytes: Buffer) => predictRequestSteps(bytes, limits), sliceBytes: limits.wireSliceBytes, ...reserving(inFlight) },
  } };
}

/** The `reserve` of a sliced decoder: the message in `inFlight` while it is decoded; nothing without one. */
function reserving(inFlight: InFlightBytes | undefined): { reserve?: (bytes: number) => () => void } {
  return inFlight === undefined ? {} : { reserve: (bytes) => inFlight.reserve(bytes, 'the request message') };
}

/** The codecs under the default limits (tests compare them with the generic path). */
export const KSERVE_WIRE_CODECS = kserveWireCodecs(DEFAULT_SIZE_LIMITS);
export const PREDICTION_WIRE_CODECS = predictionWireCodecs(DEFAULT_SIZE_LIMITS);

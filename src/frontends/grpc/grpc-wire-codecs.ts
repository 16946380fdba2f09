// The gRPC methods that skip protobufjs objects: ModelInfer, ModelStreamInfer and Predict decode requests and encode
// replies with ortserve's own wire codec (src/protocol/protobuf/); metadata and management RPCs keep protobufjs.

import { decodeModelInferRequest, encodeModelInferResponse, encodeModelStreamInferResponse } from '../../protocol/protobuf/kserve-infer-wire.js';
import { decodePredictRequest, encodePredictResponse } from '../../protocol/protobuf/tf-predict-wire.js';
import type { WireCodec } from './proto-schemas.js';

/** inference.GRPCInferenceService: tensor bytes stay views of the received message; replies are one Buffer each. */
export const KSERVE_WIRE_CODECS: Record<string, WireCodec<unknown, never>> = {
  ModelInfer: { decode: decodeModelInferRequest, encode: encodeModelInferResponse },
  ModelStreamInfer: { decode: decodeModelInferRequest, encode: encodeModelStreamInferResponse },
};

/** tensorflow.serving.PredictionService: Predict only (GetModelMetadata keeps the generic path). */
export const PREDICTION_WIRE_CODECS: Record<string, WireCodec<unknown, never>> = {
  Predict: { decode: decodePredictRequest, encode: encodePredictResponse },
};

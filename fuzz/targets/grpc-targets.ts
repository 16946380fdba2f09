// Fuzz targets for the gRPC decoders: raw message bytes → a guarded protobuf deserializer → tensors; the server's own
// wire codecs (src/protocol/protobuf/) and the generic protobufjs path they are checked against.

import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import { defaultOptions } from '../../src/config/knobs.js';
import { DEFAULT_SIZE_LIMITS, RequestTally } from '../../src/engine/tensor-limits.js';
import { kserveWireCodecs, predictionWireCodecs } from '../../src/frontends/grpc/grpc-wire-codecs.js';
import { tensorProtoWireToTensor } from '../../src/frontends/grpc/tf-tensor-wire.js';
import type { ModelInferRequestWire } from '../../src/protocol/protobuf/kserve-infer-wire.js';
import type { PredictRequestWire } from '../../src/protocol/protobuf/tf-predict-wire.js';
import type { Tensor } from '../../src/engine/tensor.js';
import { checkUniqueNames } from '../../src/inference/infer-request.js';
import { decodeModelInfer } from '../../src/frontends/grpc/kserve-grpc-codec.js';
import { guardedService, loadSchemas, wellFormed, type MalformedMessage } from '../../src/frontends/grpc/proto-schemas.js';
import { tensorProtoToTensor } from '../../src/frontends/grpc/tf-tensor-proto.js';
import type { ModelInferRequest__Output } from '../../src/frontends/grpc/generated/inference/ModelInferRequest.js';
import type { ModelInferRequest } from '../../src/frontends/grpc/generated/inference/ModelInferRequest.js';
import type { PredictRequest, PredictRequest__Output } from '../../src/frontends/grpc/generated/tensorflow/serving/PredictRequest.js';
import type { FuzzTarget } from '../target.js';

/** The server's --grpc_max_receive_message_bytes default bounds every declared tensor size, as it does in the server. */
const MAX_RECEIVE_BYTES = defaultOptions().grpcMaxReceiveMessageBytes;

type Method = MethodDefinition<unknown, unknown>;

/** The method's generic request decoder (wire check, protobufjs, MalformedMessage). */
function guardedMethod(service: string, method: string): Method {
  return (guardedService(service) as ServiceDefinition)[method] as Method;
}

/** The decoders the server registers: its wire codecs under the default limits, guarded the same way. */
const WIRE = {
  infer: (guardedService('inference.GRPCInferenceService', kserveWireCodecs(DEFAULT_SIZE_LIMITS)) as ServiceDefinition)['ModelInfer'] as Method,
  predict: (guardedService('tensorflow.serving.PredictionService', predictionWireCodecs(DEFAULT_SIZE_LIMITS)) as ServiceDefinition)['Predict'] as Method,
};

/** The plain serializer of the schema's request type, for building seeds. */
function serializer(service: string, method: string): (value: object) => Uint8Array {
  const definition = (loadSchemas()[service] as ServiceDefinition)[method] as Method;
  return (value) => definition.requestSerialize(value);
}

const bytesOf = (view: ArrayBufferView) => Buffer.from(view.buffer, view.byteOffset, view.byteLength);

export const kserveGrpc: FuzzTarget = {
  name: 'kserve-grpc',
  description: 'KServe gRPC ModelInfer (and ModelStreamInfer) request bytes: guarded deserializer, wellFormed, decodeModelInfer',
  seeds: () => {
    const encode = serializer('inference.GRPCInferenceService', 'ModelInfer');
    const requests: ModelInferRequest[] = [
      {
        model_name: 'mlp', model_version: '1', id: 'typed',
        inputs: [
          { name: 'x', datatype: 'FP32', shape: [2, 2], contents: { fp32_contents: [1, 2, 3, 4] } },
          { name: 'i', datatype: 'INT64', shape: [2], contents: { int64_contents: ['-9223372036854775808', '9007199254740993'] } },
          { name: 's', datatype: 'BYTES', shape: [2], contents: { bytes_contents: [Buffer.from('a'), Buffer.alloc(0)] } },
          { name: 'b', datatype: 'BOOL', shape: [1], contents: { bool_contents: [true] } },
          { name: 'u8', datatype: 'UINT8', shape: [2], contents: { uint_contents: [0, 255] } },
          { name: 'q', datatype: 'UINT64', shape: [], contents: { uint64_contents: ['18446744073709551615'] } },
        ],
        outputs: [{ name: 'y' }, { name: 'z' }],
        parameters: { timeout: { int64_param: '1000' } },
      },
      {
        model_name: 'multi_io', id: 'raw',
        inputs: [
          { name: 'x', datatype: 'FP32', shape: [1, 4] },
          { name: 'h', datatype: 'FP16', shape: [2] },
          { name: 't', datatype: 'BYTES', shape: [2] },
          { name: 'e', datatype: 'INT32', shape: [0, 5] },
        ],
        raw_input_contents: [
          bytesOf(new Float32Array([1, 2, 3, 4])), bytesOf(new Uint16Array([0x3c00, 0x7bff])),
          Buffer.from([1, 0, 0, 0, 0x61, 0, 0, 0, 0]), Buffer.alloc(0),
        ],
      },
    ];
    return requests.map(encode);
  },
  run: (input) => {
    const message = guardedMethod('inference.GRPCInferenceService', 'ModelInfer').requestDeserialize(Buffer.from(input));
    const msg = wellFormed(message as ModelInferRequest__Output | MalformedMessage, 'ModelInfer');
    return [...decodeModelInfer(msg, MAX_RECEIVE_BYTES).inputs.values()];
  },
};

export const tfGrpc: FuzzTarget = {
  name: 'tf-grpc',
  description: 'TF Serving gRPC Predict request bytes: guarded deserializer, wellFormed, tensorProtoToTensor per input',
  seeds: () => {
    const encode = serializer('tensorflow.serving.PredictionService', 'Predict');
    const dims = (...sizes: number[]) => ({ dim: sizes.map((size) => ({ size })) });
    const requests: PredictRequest[] = [
      {
        model_spec: { name: 'mlp', signature_name: 'serving_default', version: { value: '1' } },
        inputs: {
          x: { dtype: 'DT_FLOAT', tensor_shape: dims(2, 2), float_val: [1, 2, 3, 4] },
          ids: { dtype: 'DT_INT64', tensor_shape: dims(2), int64_val: ['-1', '9007199254740993'] },
          text: { dtype: 'DT_STRING', tensor_shape: dims(2), string_val: [Buffer.from('hi'), Buffer.alloc(0)] },
          flag: { dtype: 'DT_BOOL', tensor_shape: dims(3), bool_val: [true] },
          small: { dtype: 'DT_INT8', tensor_shape: dims(2), int_val: [-128, 127] },
          half: { dtype: 'DT_HALF', tensor_shape: dims(1), half_val: [0x3c00] },
        },
        output_filter: ['y'],
      },
      {
        model_spec: { name: 'multi_io', version_label: 'stable' },
        inputs: {
          x: { dtype: 'DT_FLOAT', tensor_shape: dims(1, 4), tensor_content: bytesOf(new Float32Array([1, 2, 3, 4])) },
          d: { dtype: 'DT_DOUBLE', tensor_shape: dims(2), double_val: [0.5, -1e300] },
          u: { dtype: 'DT_UINT64', tensor_shape: dims(1), uint64_val: ['18446744073709551615'] },
          w: { dtype: 'DT_UINT32', tensor_shape: dims(2), uint32_val: [4294967295, 0] },
          e: { dtype: 'DT_INT32', tensor_shape: dims(0, 3) },
        },
      },
    ];
    return requests.map(encode);
  },
  run: (input) => {
    const message = guardedMethod('tensorflow.serving.PredictionService', 'Predict').requestDeserialize(Buffer.from(input));
    const req = wellFormed(message as PredictRequest__Output | MalformedMessage, 'Predict');
    const tensors: Tensor[] = Object.entries(req.inputs).map(([name, tp]) =>
      tensorProtoToTensor(tp, `inputs[${JSON.stringify(name)}]`, MAX_RECEIVE_BYTES));
    checkUniqueNames(req.output_filter, (i) => `output_filter[${i}]`, 'output');
    return tensors;
  },
};

export const kserveGrpcWire: FuzzTarget = {
  name: 'kserve-grpc-wire',
  description: 'KServe gRPC ModelInfer request bytes as the server decodes them: the wire codec (src/protocol/protobuf/) with its decode counts, wellFormed, decodeModelInfer',
  seeds: kserveGrpc.seeds,
  run: (input) => {
    const message = WIRE.infer.requestDeserialize(Buffer.from(input));
    const msg = wellFormed(message as ModelInferRequestWire | MalformedMessage, 'ModelInfer');
    return [...decodeModelInfer(msg, MAX_RECEIVE_BYTES, DEFAULT_SIZE_LIMITS).inputs.values()];
  },
};

export const tfGrpcWire: FuzzTarget = {
  name: 'tf-grpc-wire',
  description: 'TF Serving gRPC Predict request bytes as the server decodes them: the wire codec with its decode counts, wellFormed, tensorProtoWireToTensor per input under one tally',
  seeds: tfGrpc.seeds,
  run: (input) => {
    const message = WIRE.predict.requestDeserialize(Buffer.from(input));
    const req = wellFormed(message as PredictRequestWire | MalformedMessage, 'Predict');
    const tally = new RequestTally(DEFAULT_SIZE_LIMITS, MAX_RECEIVE_BYTES, '--grpc_max_receive_message_bytes');
    const tensors: Tensor[] = Object.entries(req.inputs).map(([name, tp]) =>
      tensorProtoWireToTensor(tp, `inputs[${JSON.stringify(name)}]`, MAX_RECEIVE_BYTES, tally));
    checkUniqueNames(req.output_filter, (i) => `output_filter[${i}]`, 'output');
    return tensors;
  },
};

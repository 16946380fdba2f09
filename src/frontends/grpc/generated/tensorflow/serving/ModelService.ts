// Generated from schemas/tensorflow_serving_apis.proto by `node scripts/gen-grpc-types.mjs` (proto-loader-gen-types --keepCase --longs=String --enums=String --defaults --oneofs): do not edit.

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { GetModelStatusRequest as _tensorflow_serving_GetModelStatusRequest, GetModelStatusRequest__Output as _tensorflow_serving_GetModelStatusRequest__Output } from '../../tensorflow/serving/GetModelStatusRequest.js';
import type { GetModelStatusResponse as _tensorflow_serving_GetModelStatusResponse, GetModelStatusResponse__Output as _tensorflow_serving_GetModelStatusResponse__Output } from '../../tensorflow/serving/GetModelStatusResponse.js';
import type { ReloadConfigRequest as _tensorflow_serving_ReloadConfigRequest, ReloadConfigRequest__Output as _tensorflow_serving_ReloadConfigRequest__Output } from '../../tensorflow/serving/ReloadConfigRequest.js';
import type { ReloadConfigResponse as _tensorflow_serving_ReloadConfigResponse, ReloadConfigResponse__Output as _tensorflow_serving_ReloadConfigResponse__Output } from '../../tensorflow/serving/ReloadConfigResponse.js';

export interface ModelServiceClient extends grpc.Client {
  GetModelStatus(argument: _tensorflow_serving_GetModelStatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tensorflow_serving_GetModelStatusResponse__Output>): grpc.ClientUnaryCall;
  GetModelStatus(argument: _tensorflow_serving_GetModelStatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tensorflow_serving_GetModelStatusResponse__Output>): grpc.ClientUnaryCall;
  GetModelStatus(argument: _tensorflow_serving_GetModelStatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tensorflow_serving_GetModelStatusResponse__Output>): grpc.ClientUnaryCall;
  GetModelStatus(argument: _tensorflow_serving_GetModelStatusRequest, callback: grpc.requestCallback<_tensorflow_serving_GetModelStatusResponse__Output>): grpc.ClientUnaryCall;
  getModelStatus(argument: _tensorflow_serving_GetModelStatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tensorflow_serving_GetModelStatusResponse__Output>): grpc.ClientUnaryCall;
  getModelStatus(argument: _tensorflow_serving_GetModelStatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tensorflow_serving_GetModelStatusResponse__Output>): grpc.ClientUnaryCall;
  getModelStatus(argument: _tensorflow_serving_GetModelStatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tensorflow_serving_GetModelStatusResponse__Output>): grpc.ClientUnaryCall;
  getModelStatus(argument: _tensorflow_serving_GetModelStatusRequest, callback: grpc.requestCallback<_tensorflow_serving_GetModelStatusResponse__Output>): grpc.ClientUnaryCall;
  
  HandleReloadConfigRequest(argument: _tensorflow_serving_ReloadConfigRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tensorflow_serving_ReloadConfigResponse__Output>): grpc.ClientUnaryCall;
  HandleReloadConfigRequest(argument: _tensorflow_serving_ReloadConfigRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tensorflow_serving_ReloadConfigResponse__Output>): grpc.ClientUnaryCall;
  HandleReloadConfigRequest(argument: _tensorflow_serving_ReloadConfigRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tensorflow_serving_ReloadConfigResponse__Output>): grpc.ClientUnaryCall;
  HandleReloadConfigRequest(argument: _tensorflow_serving_ReloadConfigRequest, callback: grpc.requestCallback<_tensorflow_serving_ReloadConfigResponse__Output>): grpc.ClientUnaryCall;
  handleReloadConfigRequest(argument: _tensorflow_serving_ReloadConfigRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tensorflow_serving_ReloadConfigResponse__Output>): grpc.ClientUnaryCall;
  handleReloadConfigRequest(argument: _tensorflow_serving_ReloadConfigRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tensorflow_serving_ReloadConfigResponse__Output>): grpc.ClientUnaryCall;
  handleReloadConfigRequest(argument: _tensorflow_serving_ReloadConfigRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tensorflow_serving_ReloadConfigResponse__Output>): grpc.ClientUnaryCall;
  handleReloadConfigRequest(argument: _tensorflow_serving_ReloadConfigRequest, callback: grpc.requestCallback<_tensorflow_serving_ReloadConfigResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface ModelServiceHandlers extends grpc.UntypedServiceImplementation {
  GetModelStatus: grpc.handleUnaryCall<_tensorflow_serving_GetModelStatusRequest__Output, _tensorflow_serving_GetModelStatusResponse>;
  
  HandleReloadConfigRequest: grpc.handleUnaryCall<_tensorflow_serving_ReloadConfigRequest__Output, _tensorflow_serving_ReloadConfigResponse>;
  
}

export interface ModelServiceDefinition extends grpc.ServiceDefinition {
  GetModelStatus: MethodDefinition<_tensorflow_serving_GetModelStatusRequest, _tensorflow_serving_GetModelStatusResponse, _tensorflow_serving_GetModelStatusRequest__Output, _tensorflow_serving_GetModelStatusResponse__Output>
  HandleReloadConfigRequest: MethodDefinition<_tensorflow_serving_ReloadConfigRequest, _tensorflow_serving_ReloadConfigResponse, _tensorflow_serving_ReloadConfigRequest__Output, _tensorflow_serving_ReloadConfigResponse__Output>
}

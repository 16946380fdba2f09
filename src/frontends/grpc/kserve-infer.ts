// One KServe ModelInferRequest end to end (decode, run under the call's limits, encode), for ModelInfer and ModelStreamInfer.

import { datatypeOf } from '../kserve/datatypes.js';
import {
  checkServable, earliest, expireIfPast, listedInputNames, runInference, timeoutDeadline, type CallLimits,
} from '../kserve/infer-request.js';
import { versionSelector } from '../kserve/model-info.js';
import type { GrpcContext } from './grpc-context.js';
import type { ModelInferRequest__Output } from './generated/inference/ModelInferRequest.js';
import type { ModelInferResponse } from './generated/inference/ModelInferResponse.js';
import { decodeModelInfer, encodeModelInfer } from './kserve-grpc-codec.js';

/** The call's limits, tightened by Triton's "timeout" parameter when it sets an earlier deadline. */
function withTimeout(limits: CallLimits, timeoutMicros: number | undefined, start: number): CallLimits {
  const deadline = earliest(limits.deadline, timeoutDeadline(start, timeoutMicros));
  return deadline === undefined ? limits : { ...limits, deadline };
}

/** One ModelInferRequest, decoded, run and encoded; shared by ModelInfer and ModelStreamInfer. */
export async function inferMessage(ctx: GrpcContext, msg: ModelInferRequest__Output, limits: CallLimits): Promise<ModelInferResponse> {
  const start = Date.now();
  expireIfPast(limits);
  if (msg.model_name !== '') checkServable(ctx.registry, msg.model_name, versionSelector(msg.model_name, msg.model_version));
  const decoded = decodeModelInfer(msg, ctx.maxReceiveMessageBytes);
  const response = await runInference(ctx.registry, {
    model: decoded.model, selector: decoded.selector, id: decoded.id, inputs: decoded.inputs, outputNames: decoded.outputNames,
    limits: withTimeout(limits, decoded.timeoutMicros, start),
  }, listedInputNames(msg.inputs.map((x) => x.name), datatypeOf));
  return encodeModelInfer(response);
}

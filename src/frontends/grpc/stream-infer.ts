// ModelStreamInfer: many requests in flight on one bidirectional stream, answered as each finishes, matched by id.

import { setMaxListeners } from 'node:events';
import type { ServerDuplexStream } from '@grpc/grpc-js';
import { OrtServeError, toOrtServeError } from '../../errors.js';
import { callLimits, routeKeyOf, toServiceError } from './grpc-calls.js';
import type { GrpcContext } from './grpc-context.js';
import type { ModelInferRequestWire, ModelStreamInferReply, RequestHead } from '../../protocol/protobuf/kserve-infer-wire.js';
import { inferMessage } from './kserve-infer.js';
import { DeferredDecode, MalformedMessage, wellFormedInSlices } from './proto-schemas.js';
import { shuttingDown } from '../drain-gate.js';

type StreamCall = ServerDuplexStream<ModelInferRequestWire | MalformedMessage, ModelStreamInferReply>;

/**
 * What names a message that was not decoded: a MalformedMessage's or DeferredDecode's head (read by the codec from its
 * leading fields), or the message itself.
 */
function headOf(msg: ModelInferRequestWire | MalformedMessage): Partial<RequestHead> | undefined {
  if (msg instanceof MalformedMessage) return msg.head as RequestHead | undefined;
  if ((msg as unknown) instanceof DeferredDecode) return (msg as unknown as DeferredDecode).head() as RequestHead | undefined;
  return msg;
}

/** A failed request's answer: the message, plus the model, version and id so the client can match it. */
function errorResponse(err: unknown, request: Partial<RequestHead> | undefined): ModelStreamInferReply {
  const error = toOrtServeError(err);
  return {
    error_message: error.message,
    infer_response: {
      model_name: request?.model_name ?? '',
      model_version: request?.model_version ?? '',
      id: request?.id ?? '',
      outputs: [],
      // Not in the protocol, but harmless to clients that ignore it: the stable code, for clients that switch on it.
      parameters: { error_code: { parameter_choice: 'string_param', string_param: error.code } },
    },
  };
}

/**
 * Each message starts its own inference at once; answers are written in completion order (not request order), each
 * carrying its request's id. Bounded: with `streamMaxInFlight` requests unanswered, or while the client is not
 * reading answers (write() said to wait for 'drain'), the server stops reading the stream, so HTTP/2 flow control
 * pushes back on the client. When the client cancels or disconnects, every queued request of the stream is
 * dropped (one abort signal per stream) and answers still running are discarded. With `maxInferStreams` streams
 * open on the server, a new one fails at once with UNAVAILABLE (ERR_QUEUE_FULL), before it holds anything.
 */
export function handleStreamInfer(call: StreamCall, ctx: GrpcContext): void {
  const streams = ctx.streams;
  if (ctx.activity.activeStreams >= ctx.maxInferStreams) {
    // grpc-js ends a server stream that emits 'error' with that error's status.
    call.emit('error', toServiceError(new OrtServeError('ERR_QUEUE_FULL',
      `ModelStreamInfer: ${ctx.activity.activeStreams} streams are open, the server's limit (--grpc_max_infer_streams); retry later`)));
    return;
  }
  const limits = callLimits(call);
  const routeKey = routeKeyOf(call);
  // Every request in flight listens to the stream's one abort signal: as many listeners as the bound allows.
  setMaxListeners(ctx.streamMaxInFlight + 1, limits.signal!);
  const activity = ctx.activity;
  let inFlight = 0;
  let clientDone = false;
  let waitingDrain = false;
  let paused = false;
  let closed = false;
  activity.activeStreams++;

  // At shutdown's exit deadline: the stream ends with UNAVAILABLE; its requests' late answers are dropped.
  const endNow = (error: OrtServeError) => {
    if (closed) return;
    closed = true;
    activity.activeStreams--;
    activity.streamTasksInFlight -= inFlight;
    inFlight = 0;
    if (!call.cancelled) call.emit('error', toServiceError(error));
  };
  streams.add(endNow);
  const close = () => {
    if (closed || inFlight > 0 || !(clientDone || call.cancelled)) return;
    closed = true;
    streams.delete(endNow);
    activity.activeStreams--;
    if (!call.cancelled) call.end();
  };
  const updateFlow = () => {
    const stop = inFlight >= ctx.streamMaxInFlight || waitingDrain;
    if (stop && !paused) call.pause();
    else if (!stop && paused) call.resume();
    paused = stop;
  };
  const write = (response: ModelStreamInferReply) => {
    if (call.cancelled || closed) return;
    if (!call.write(response) && !waitingDrain) {
      waitingDrain = true;
      call.once('drain', () => {
        waitingDrain = false;
        updateFlow();
      });
    }
  };
  const answer = async (msg: ModelInferRequestWire | MalformedMessage) => {
    // Every failure answer names its request: the decoded message once there is one, else what the codec read of it.
    let request: ModelInferRequestWire | undefined;
    try {
      request = await wellFormedInSlices(msg, 'ModelStreamInfer');
      write({ error_message: '', infer_response: await inferMessage(ctx, request, limits, routeKey) });
    } catch (err) {
      write(errorResponse(err, request ?? headOf(msg)));
    }
  };

  call.on('data', (msg: ModelInferRequestWire | MalformedMessage) => {
    if (ctx.gate.closing) {
      // A large message held for decoding in slices gives its bytes in flight back (it will not be decoded).
      if ((msg as unknown) instanceof DeferredDecode) (msg as unknown as DeferredDecode).release();
      write(errorResponse(shuttingDown(), headOf(msg)));
      return;
    }
    inFlight++;
    activity.streamTasksInFlight++;
    updateFlow();
    void answer(msg).finally(() => {
      if (closed) return;   // ended by shutdown (endNow), which has taken its count back
      inFlight--;
      activity.streamTasksInFlight--;
      updateFlow();
      close();
    });
  });
  call.on('end', () => {
    clientDone = true;
    close();
  });
  call.on('cancelled', close);
  call.on('error', (err) => ctx.log.debug({ err: err.message }, 'ModelStreamInfer stream error'));
}

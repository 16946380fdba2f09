// The gRPC transport ceiling: a bare grpc-js server whose ModelInfer answers every call with the same fixed bytes
// (a real ModelInferResponse that ortserve sent for the bench's request, so the reply has the same size and decodes
// to the right output) without parsing the request. ortserve's gRPC cost shows as the gap between it and this.
// Usage: node grpc-echo.mjs <reply file>; prints {"port": N} once listening on 127.0.0.1. With an IPC channel it
// answers {probe: 'calls'} with the number of calls answered, so a run can be checked against the load tool's count.
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';

const [replyFile] = process.argv.slice(2);
if (!replyFile) {
  console.error('grpc-echo: usage: node grpc-echo.mjs <file with the serialized reply>');
  process.exit(2);
}
const reply = readFileSync(replyFile);
const identity = (bytes) => bytes;
// The service as raw bytes in and out: no protobuf work on either side, which is what makes this a ceiling.
const service = {
  ModelInfer: {
    path: '/inference.GRPCInferenceService/ModelInfer', requestStream: false, responseStream: false,
    requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity,
  },
};
let calls = 0;
const server = new grpc.Server();
server.addService(service, {
  ModelInfer: (_call, callback) => {
    calls++;
    callback(null, reply);
  },
});
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    console.error(`grpc-echo: could not listen: ${err.message}`);
    process.exit(1);
  }
  console.log(JSON.stringify({ port }));
});
if (process.send) {
  process.on('message', (message) => {
    if (message?.probe === 'calls') process.send({ id: message.id, calls });
  });
  process.channel?.unref();
}
process.on('SIGTERM', () => process.exit(0));

// A consumer's TypeScript file: test/npm-consumer.test.ts type-checks it (tsc --noEmit) against the installed
// ortserve, so the exports map and the .d.ts files of both entry points are what a user's compiler sees.
import { createServer, OrtServeError, type CreateServerOptions, type OrtServe, type ServerStatus } from 'ortserve';
import { FlatBuffersHttpClient, FlatBuffersWsClient, type InferResult } from 'ortserve/client';

const options: CreateServerOptions = { modelBasePath: './models', restApiPort: 0, grpcPort: 0, host: '127.0.0.1' };
const server: OrtServe = createServer(options);

export async function run(): Promise<number[]> {
  const { restPort }: { restPort: number; grpcPort: number } = await server.start();
  const status: ServerStatus = server.status();
  const http = new FlatBuffersHttpClient(`http://127.0.0.1:${restPort}`);
  const ws: FlatBuffersWsClient = await FlatBuffersWsClient.connect(`ws://127.0.0.1:${restPort}/v1/flatbuffers/ws`);
  const result: InferResult = await http.infer('mlp', { x: new Float32Array(4) });
  await Promise.all([http.close(), ws.close()]);
  await server.stop();
  if (!(result.outputs.scores?.data instanceof Float32Array)) throw new OrtServeError('ERR_INTERNAL', 'unexpected dtype');
  return [status.models.length, ...result.outputs.scores.data];
}

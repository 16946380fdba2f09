// The systems bench/saturation.mjs compares, per protocol: ortserve and its reference, each in its own process,
// with the exact request bytes the load tool sends, a check that one real answer is right (decoded and compared
// with onnxruntime-node's output, or for an echo, byte-equal to what was sent) and the counters that show whether
// the server answered everything the tool counted (h2load counts gRPC errors as successes, so its count alone
// proves nothing).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { createDriver, grpcRequest, httpRequest, kserveGrpcService } from './drivers.mjs';
import { grpcFrame } from './load-tools.mjs';
import { metric, startBaseline, startOrtserve } from './server-process.mjs';

/** Protocols this bench drives, each with the tool that loads it and the reference it is compared with. */
export const SATURATION_PROTOCOLS = {
  'tf-json': { tool: 'wrk', reference: 'node:http + onnxruntime-node, same JSON body' },
  'fb-http': { tool: 'wrk', reference: 'uWS echo of the same bytes' },
  'kserve-binary': { tool: 'wrk', reference: 'uWS echo of the same bytes' },
  grpc: { tool: 'h2load', reference: 'bare grpc-js server, fixed reply of the same size' },
};

export const MODEL_INFER_PATH = '/inference.GRPCInferenceService/ModelInfer';
const identity = (bytes) => bytes;

/** One real call through a fresh driver (its first answer is always decoded and checked): 'ok' or what went wrong. */
async function driverCheck(protocol, target, payload) {
  let driver;
  try {
    driver = await createDriver(protocol, target, payload);
    return await driver.send();
  } catch (err) {
    return `error:${err?.code ?? err?.message ?? err}`;
  } finally {
    await driver?.close().catch(() => {});
  }
}

/** POSTs `request` to the echo and says whether the same bytes came back. */
async function echoCheck(origin, request) {
  try {
    const res = await fetch(`${origin}${request.path}`, { method: 'POST', body: request.body, headers: request.headers });
    const bytes = Buffer.from(await res.arrayBuffer());
    if (res.status !== 200) return String(res.status);
    return bytes.equals(request.body) ? 'ok' : 'echo-mismatch';
  } catch (err) {
    return `error:${err?.code ?? err?.message ?? err}`;
  }
}

/** ModelInfer's reply bytes from a real server (raw, no decoding), for the gRPC echo to send back. */
/**
 * nghttpd (nghttp2-server, C) on h2c, answering every request for the ModelInfer path with `framed` (the gRPC-framed
 * reply, no trailers: h2load counts the 200). Resolves with {pid, address, verify, stop}; verify() posts one request
 * with node:http2 and checks the bytes that come back.
 */
async function startNghttpd(framed) {
  const docs = mkdtempSync(path.join(os.tmpdir(), 'ortserve-nghttpd-'));
  const file = path.join(docs, ...MODEL_INFER_PATH.split('/').filter(Boolean));
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, framed);
  // nghttpd has no port 0: take a free port from the kernel, then give it to nghttpd.
  const port = await new Promise((resolve, reject) => {
    const probe = net.createServer().once('error', reject).listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address();
      probe.close(() => resolve(free));
    });
  });
  const child = spawn('nghttpd', ['--no-tls', '--address=127.0.0.1', '-d', docs, String(port)], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const address = `127.0.0.1:${port}`;
  const verify = () => new Promise((resolve) => {
    const session = http2.connect(`http://${address}`);
    session.once('error', (err) => resolve(`error:${err.code ?? err.message}`));
    const request = session.request({ ':method': 'POST', ':path': MODEL_INFER_PATH, 'content-type': 'application/grpc' });
    const chunks = [];
    let status = 0;
    request.on('response', (headers) => { status = headers[':status']; });
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      session.close();
      resolve(status === 200 && Buffer.concat(chunks).equals(framed) ? 'ok' : `status ${status}, ${Buffer.concat(chunks).length} bytes`);
    });
    request.on('error', (err) => resolve(`error:${err.code ?? err.message}`));
    request.end(Buffer.alloc(8));
  });
  for (let tries = 0; ; tries++) {
    if ((await verify()) === 'ok') break;
    if (tries === 50 || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`nghttpd did not answer on ${address} (install nghttp2-server)`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const stop = async () => {
    child.kill('SIGTERM');
    await exited;
    rmSync(docs, { recursive: true, force: true });
  };
  return { pid: child.pid, address, verify, stop };
}

function captureReply(address, message) {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(MODEL_INFER_PATH, identity, identity, message, (err, reply) => {
      client.close();
      if (err) reject(new Error(`capturing ortserve's ModelInfer reply: ${err.message}`));
      else resolve(reply);
    });
  });
}

/**
 * Starts ortserve (serving `models.repository`, ORT threads 1, plus `flags`) and the references the chosen
 * protocols need. Resolves with {pairs: {protocol: [ortserve, reference]}, stop}; each system is
 * {name, role, protocol, pid, load: {origin, request} | {url, frame}, verify(), counters()}.
 */
export async function startSaturationSystems(models, protocols, flags = []) {
  const started = [];
  const stop = async () => { for (const s of started.reverse()) await s.stop(); };
  try {
    const { payload, modelName, modelFile } = models.tiny;
    const ortserve = await startOrtserve([`--model_base_path=${models.repository}`, '--intra_op_threads=1', '--inter_op_threads=1', ...flags]);
    started.push(ortserve);
    const ortserveCounters = async () => ({
      success: await metric(ortserve.origin, 'nv_inference_request_success', modelName),
      failure: await metric(ortserve.origin, 'nv_inference_request_failure', modelName),
    });
    const pairs = {};
    /** Per protocol, an extra system measured only to show the load generator's headroom (role 'ceiling'). */
    const ceilings = {};
    let uwsEcho;
    for (const protocol of protocols) {
      const ours = { name: `ortserve ${protocol}`, role: 'ortserve', protocol, pid: ortserve.pid, counters: ortserveCounters,
        verify: () => driverCheck(protocol, ortserve, payload) };
      let reference;
      if (protocol === 'grpc') {
        const message = kserveGrpcService().service.ModelInfer.requestSerialize(grpcRequest(payload));
        ours.load = { url: `http://${ortserve.grpcAddress}${MODEL_INFER_PATH}`, frame: grpcFrame(message) };
        const replyFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'ortserve-grpc-echo-')), 'reply.bin');
        writeFileSync(replyFile, await captureReply(ortserve.grpcAddress, message));
        const echo = await startBaseline('grpc-echo.mjs', [replyFile], { ipc: true });
        started.push(echo);
        reference = { name: 'grpc-js fixed reply', load: { url: `http://${echo.grpcAddress}${MODEL_INFER_PATH}`, frame: ours.load.frame },
          pid: echo.pid, counters: async () => ({ calls: (await echo.ask({ probe: 'calls' })).calls }),
          verify: () => driverCheck('grpc', echo, payload) };
        // Not a goal's reference: nghttpd (C) serving the same framed reply, to show h2load can drive far more than
        // either server (bare grpc-js is itself slow, so it cannot show that).
        const h2 = await startNghttpd(grpcFrame(readFileSync(replyFile)));
        started.push(h2);
        ceilings[protocol] = { name: 'nghttpd fixed reply (C)', role: 'ceiling', protocol, pid: h2.pid,
          load: { url: `http://${h2.address}${MODEL_INFER_PATH}`, frame: ours.load.frame }, verify: h2.verify };
      } else {
        const request = httpRequest(protocol, payload);
        ours.load = { origin: ortserve.origin, request };
        if (protocol === 'tf-json') {
          const node = await startBaseline('node-http-ort.mjs', [modelName, modelFile]);
          started.push(node);
          reference = { name: 'node:http + onnxruntime-node', load: { origin: node.origin, request }, pid: node.pid,
            verify: () => driverCheck('tf-json', node, payload) };
        } else {
          // One echo process serves every protocol's bytes (it is idle while another system is measured).
          if (!uwsEcho) started.push(uwsEcho = await startBaseline('uws-echo.mjs'));
          const echo = uwsEcho;
          const echoRequest = { ...request, path: '/echo' };
          reference = { name: 'uWS echo', load: { origin: echo.origin, request: echoRequest }, pid: echo.pid,
            verify: () => echoCheck(echo.origin, echoRequest) };
        }
      }
      pairs[protocol] = [ours, { ...reference, role: 'reference', protocol }, ...(ceilings[protocol] ? [ceilings[protocol]] : [])];
    }
    return { pairs, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

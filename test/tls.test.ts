// TLS on both ports (issue 13): HTTPS and wss:// on the REST port (uWS SSLApp), TLS on gRPC, mutual TLS, TF Serving's
// --ssl_config_file, and the start-up errors for bad files. Certificates are made with openssl at test time; the
// clients are real ones (node:https, the FlatBuffers WebSocket client, grpc-js).

import { execFileSync } from 'node:child_process';
import https from 'node:https';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlatBuffersWsClient } from '../src/client/flatbuffers-ws-client.js';
import { FlatBuffersHttpClient } from '../src/client/flatbuffers-http-client.js';
import { createServer } from '../src/server.js';
import { loadUws } from '../src/frontends/uws-loader.js';
import type uWS from 'uWebSockets.js';
import { mlpModel } from '../scripts/make-example-models.mjs';
import { definition } from './support/grpc-client.js';
import { makeCerts, type TestCerts } from './support/certs.js';
import { startTestServer, writeRepository, type TestServer } from './support/test-server.js';

const PREDICT_BODY = '{"instances":[[1,2,3,4]]}';
const PREDICTIONS = { predictions: [[2.75, -4.25, 0]] };
const pkg = grpc.loadPackageDefinition(definition) as any;

let certs: TestCerts;
beforeAll(() => {
  // The tests need the openssl command (CI installs it: .ci/run).
  expect(execFileSync('openssl', ['version'], { encoding: 'utf8' })).toMatch(/OpenSSL/);
  certs = makeCerts();
});
afterAll(() => rmSync(certs.dir, { recursive: true, force: true }));

interface TlsClient {
  ca?: string;
  cert?: string;
  key?: string;
}

/** POSTs over HTTPS with node:https; resolves with status and JSON, or with the client's error code. */
function httpsPost(url: string, body: string, tls: TlsClient): Promise<{ status: number; json: unknown } | { error: string }> {
  return new Promise((resolve) => {
    const req = https.request(url, { method: 'POST', ...tls, agent: false }, (res) => {
      let text = '';
      res.on('data', (d) => { text += String(d); });
      res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(text) }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    req.end(body);
  });
}

function kserveClient(address: string, tls: TlsClient) {
  const creds = grpc.credentials.createSsl(
    tls.ca === undefined ? null : Buffer.from(tls.ca),
    tls.key === undefined ? null : Buffer.from(tls.key),
    tls.cert === undefined ? null : Buffer.from(tls.cert),
  );
  return new pkg.inference.GRPCInferenceService(address, creds) as grpc.Client & Record<string, any>;
}

/** ModelInfer on mlp over TLS; resolves with y or the gRPC status code. */
function grpcInfer(address: string, tls: TlsClient): Promise<{ y: number[] } | { code: number }> {
  const client = kserveClient(address, tls);
  return new Promise((resolve) => {
    client.ModelInfer({
      model_name: 'mlp', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], contents: { fp32_contents: [1, 2, 3, 4] } }],
    }, { deadline: Date.now() + 20_000 }, (err: grpc.ServiceError | null, res: any) => {
      client.close();
      if (err) resolve({ code: err.code });
      else resolve({ y: [...new Float32Array(new Uint8Array(res.raw_output_contents[0]).buffer)] });
    });
  });
}

async function wssInfer(port: number, tls: TlsClient): Promise<number[] | string> {
  let ws: FlatBuffersWsClient;
  try {
    ws = await FlatBuffersWsClient.connect(`wss://127.0.0.1:${port}/v1/flatbuffers/ws`, { tls });
  } catch (err) {
    return `refused: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
  }
  try {
    const result = await ws.infer('mlp', { x: { dtype: 'float32', shape: [1, 4], data: new Float32Array([1, 2, 3, 4]) } });
    return [...(Object.values(result.outputs)[0]!.data as Float32Array)];
  } catch (err) {
    return `failed: ${(err as Error).message}`;
  } finally {
    await ws.close();
  }
}

function portOf(t: TestServer): number {
  return Number(new URL(t.baseUrl).port);
}

describe('TLS without client certificates', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ mlp: { 1: mlpModel(1) } }, { sslCertFile: certs.files.serverCert, sslKeyFile: certs.files.serverKey });
  });
  afterAll(() => t.close());

  it('HTTPS answers a client that trusts the CA; one that does not refuses the server', async () => {
    const url = `https://127.0.0.1:${portOf(t)}/v1/models/mlp:predict`;
    expect(await httpsPost(url, PREDICT_BODY, { ca: certs.pem('caCert') })).toEqual({ status: 200, json: PREDICTIONS });
    expect(await httpsPost(url, PREDICT_BODY, {})).toEqual({ error: expect.stringMatching(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED/) });
  });

  it('plain HTTP on the TLS port gets no answer', async () => {
    await expect(fetch(`http://127.0.0.1:${portOf(t)}/v2/health/live`)).rejects.toThrow();
  });

  it('wss:// carries FlatBuffers requests', async () => {
    expect(await wssInfer(portOf(t), { ca: certs.pem('caCert') })).toEqual([2.75, -4.25, 0]);
  });

  it('gRPC over TLS with the CA as root', async () => {
    expect(await grpcInfer(t.grpcAddress, { ca: certs.pem('caCert') })).toEqual({ y: [2.75, -4.25, 0] });
    expect(await grpcInfer(t.grpcAddress, {})).toEqual({ code: grpc.status.UNAVAILABLE });
  });
});

describe('mutual TLS (--ssl_client_verify)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ mlp: { 1: mlpModel(1) } }, {
      sslCertFile: certs.files.serverCert, sslKeyFile: certs.files.serverKey, sslCaFile: certs.files.caCert, sslClientVerify: true,
    });
  });
  afterAll(() => t.close());
  const good = () => ({ ca: certs.pem('caCert'), cert: certs.pem('clientCert'), key: certs.pem('clientKey') });
  const rogue = () => ({ ca: certs.pem('caCert'), cert: certs.pem('rogueCert'), key: certs.pem('rogueKey') });

  it('HTTPS: the CA\'s client certificate is let in; none, or another CA\'s, is refused in the handshake', async () => {
    const url = `https://127.0.0.1:${portOf(t)}/v1/models/mlp:predict`;
    expect(await httpsPost(url, PREDICT_BODY, good())).toEqual({ status: 200, json: PREDICTIONS });
    for (const tls of [{ ca: certs.pem('caCert') }, rogue()]) {
      const outcome = await httpsPost(url, PREDICT_BODY, tls);
      expect(outcome).toHaveProperty('error');
      expect(outcome).not.toHaveProperty('status');
    }
  });

  it('the FlatBuffers HTTP client over HTTPS with its certificate', async () => {
    const client = new FlatBuffersHttpClient(`https://127.0.0.1:${portOf(t)}`, { tls: good() });
    try {
      const result = await client.infer('mlp', { x: { dtype: 'float32', shape: [1, 4], data: new Float32Array([1, 2, 3, 4]) } });
      expect([...(Object.values(result.outputs)[0]!.data as Float32Array)]).toEqual([2.75, -4.25, 0]);
    } finally {
      await client.close();
    }
  });

  it('wss://: the same rule', async () => {
    expect(await wssInfer(portOf(t), good())).toEqual([2.75, -4.25, 0]);
    expect(await wssInfer(portOf(t), { ca: certs.pem('caCert') })).toMatch(/^refused|^failed/);
    expect(await wssInfer(portOf(t), rogue())).toMatch(/^refused|^failed/);
  });

  it('gRPC: the same rule (refused calls end UNAVAILABLE: there is no connection)', async () => {
    expect(await grpcInfer(t.grpcAddress, good())).toEqual({ y: [2.75, -4.25, 0] });
    expect(await grpcInfer(t.grpcAddress, { ca: certs.pem('caCert') })).toEqual({ code: grpc.status.UNAVAILABLE });
    expect(await grpcInfer(t.grpcAddress, rogue())).toEqual({ code: grpc.status.UNAVAILABLE });
  });
});

/** TF Serving's SSLConfig text: PEM contents as escaped strings. */
function sslConfigText(fields: Record<string, string | boolean>): string {
  return Object.entries(fields).map(([k, v]) => (typeof v === 'boolean' ? `${k}: ${v}` : `${k}: ${JSON.stringify(v)}`)).join('\n');
}

describe('drain with TLS', () => {
  it('mTLS: answers in flight, then the front stops listening; TLS: the same on SSLApp', async () => {
    for (const mtls of [true, false]) {
      const t = await startTestServer({ mlp: { 1: mlpModel(1) } }, {
        sslCertFile: certs.files.serverCert, sslKeyFile: certs.files.serverKey,
        ...(mtls ? { sslCaFile: certs.files.caCert, sslClientVerify: true } : {}),
      });
      const tls = { ca: certs.pem('caCert'), cert: certs.pem('clientCert'), key: certs.pem('clientKey') };
      const url = `https://127.0.0.1:${portOf(t)}/v1/models/mlp:predict`;
      try {
        const drained = t.server.drain({ drainSeconds: 2, exitTimeoutSeconds: 30 });
        // Served while draining.
        expect(await httpsPost(url, PREDICT_BODY, tls)).toEqual({ status: 200, json: PREDICTIONS });
        expect(await drained).toEqual({ abandoned: 0, inFlightAtClose: 0 });
        expect(await httpsPost(url, PREDICT_BODY, tls)).toEqual({ error: 'ECONNREFUSED' });
      } finally {
        await t.close();
      }
    }
  });
});

describe('why REST mTLS is not uWS\'s SSLApp (src/frontends/http/mtls-front.ts)', () => {
  it('given a CA, SSLApp still answers a client without a certificate (if this fails, uWS enforces it now)', async () => {
    const uws = loadUws();
    const app = uws.SSLApp({ cert_file_name: certs.files.serverCert, key_file_name: certs.files.serverKey, ca_file_name: certs.files.caCert });
    app.any('/*', (res) => { res.end('{"answered":true}'); });
    const socket = await new Promise<uWS.us_listen_socket>((resolve, reject) => app.listen('127.0.0.1', 0, (s) => (s ? resolve(s) : reject(new Error('listen')))));
    try {
      const port = uws.us_socket_local_port(socket as unknown as Parameters<typeof uws.us_socket_local_port>[0]);
      expect(await httpsPost(`https://127.0.0.1:${port}/`, '', { ca: certs.pem('caCert') })).toEqual({ status: 200, json: { answered: true } });
    } finally {
      uws.us_listen_socket_close(socket);
      app.close();
    }
  });
});

describe('--ssl_config_file (TF Serving\'s SSLConfig) for gRPC', () => {
  it('turns on mTLS on the gRPC port; the REST port stays plain HTTP without --ssl_cert_file', async () => {
    const file = path.join(certs.dir, 'ssl.config');
    writeFileSync(file, sslConfigText({
      server_key: certs.pem('serverKey'), server_cert: certs.pem('serverCert'), custom_ca: certs.pem('caCert'), client_verify: true,
    }));
    const t = await startTestServer({ mlp: { 1: mlpModel(1) } }, { sslConfigFile: file });
    try {
      expect(await grpcInfer(t.grpcAddress, { ca: certs.pem('caCert'), cert: certs.pem('clientCert'), key: certs.pem('clientKey') }))
        .toEqual({ y: [2.75, -4.25, 0] });
      expect(await grpcInfer(t.grpcAddress, { ca: certs.pem('caCert') })).toEqual({ code: grpc.status.UNAVAILABLE });
      expect((await fetch(`${t.baseUrl}/v2/health/live`)).status).toBe(200);
    } finally {
      await t.close();
    }
  });
});

describe('bad TLS settings stop the start with an error naming the flag or field, and never show the key', () => {
  const logged: string[] = [];
  const logger = pino({ level: 'trace' }, new Writable({ write(chunk, _enc, done) { logged.push(String(chunk)); done(); } }));

  async function startError(options: Record<string, unknown>): Promise<string> {
    const repository = writeRepository({ mlp: { 1: mlpModel(1) } });
    const server = createServer({ host: '127.0.0.1', restApiPort: 0, grpcPort: 0, modelBasePath: repository, logger, ...options });
    try {
      await server.start();
    } catch (err) {
      return (err as Error).message;
    } finally {
      await server.stop();
      rmSync(repository, { recursive: true, force: true });
    }
    throw new Error('the server started');
  }

  it('files', async () => {
    const f = certs.files;
    const garbage = path.join(certs.dir, 'garbage.pem');
    writeFileSync(garbage, 'not a certificate\n');
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ sslCertFile: path.join(certs.dir, 'missing.crt'), sslKeyFile: f.serverKey }, /^--ssl_cert_file: cannot read '.*missing\.crt': ENOENT$/],
      [{ sslCertFile: f.serverCert, sslKeyFile: path.join(certs.dir, 'missing.key') }, /^--ssl_key_file: cannot read '.*missing\.key': ENOENT$/],
      [{ sslCertFile: garbage, sslKeyFile: f.serverKey }, /^--ssl_cert_file: no PEM certificate in it/],
      [{ sslCertFile: f.serverCert, sslKeyFile: f.clientKey }, /^--ssl_key_file: not a usable PEM private key matching the certificate \(.*\)$/],
      [{ sslCertFile: f.serverCert, sslKeyFile: garbage }, /^--ssl_key_file: not a usable PEM private key/],
      [{ sslCertFile: f.serverCert }, /^--ssl_key_file: needed with --ssl_cert_file$/],
      [{ sslKeyFile: f.serverKey }, /^--ssl_cert_file: needed with --ssl_key_file$/],
      [{ sslCertFile: f.serverCert, sslKeyFile: f.serverKey, sslClientVerify: true }, /^--ssl_client_verify: needs --ssl_ca_file/],
      [{ sslCertFile: f.serverCert, sslKeyFile: f.serverKey, sslCaFile: garbage, sslClientVerify: true }, /^--ssl_ca_file: no PEM certificate in it/],
      [{ sslClientVerify: true }, /^--ssl_client_verify: needs TLS on/],
    ];
    for (const [options, message] of cases) expect(await startError(options)).toMatch(message);
  });

  it('SSLConfig files', async () => {
    const file = path.join(certs.dir, 'bad-ssl.config');
    const cases: Array<[string, RegExp]> = [
      [sslConfigText({ server_key: certs.pem('serverKey'), server_cert: certs.pem('serverCert'), client_verify: true }),
        /client_verify: needs custom_ca/],
      [sslConfigText({ server_key: certs.pem('clientKey'), server_cert: certs.pem('serverCert') }),
        /^--ssl_config_file bad-ssl\.config: server_key: not a usable PEM private key matching the certificate/],
      [sslConfigText({ server_key: certs.pem('serverKey') }), /server_cert/],
      [`${sslConfigText({ server_key: certs.pem('serverKey'), server_cert: certs.pem('serverCert') })}\nserver_kye: "x"`, /:\d+:\d+: .*server_kye/],
      ['server_key: {', /--ssl_config_file bad-ssl\.config:\d+:\d+:/],
    ];
    for (const [text, message] of cases) {
      writeFileSync(file, text);
      expect(await startError({ sslConfigFile: file })).toMatch(message);
    }
    expect(await startError({ sslConfigFile: path.join(certs.dir, 'none.config') })).toMatch(/^--ssl_config_file: /);
  });

  it('no message and no log line holds key material', () => {
    const secret = certs.pem('serverKey').split('\n')[1]!;
    expect(secret.length).toBeGreaterThan(20);
    expect(logged.join('')).not.toContain(secret);
    expect(logged.join('')).not.toContain('PRIVATE KEY');
  });
});

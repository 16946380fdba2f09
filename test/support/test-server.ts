// Starts a real ortserve on 127.0.0.1 (port 0) over a temporary model repository, for end-to-end tests.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { createServer, type CreateServerOptions, type OrtServe } from '../../src/index.js';

/** model name → version → ONNX bytes. */
export type RepositorySpec = Record<string, Record<number, Uint8Array>>;

export function writeRepository(spec: RepositorySpec): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'ortserve-repo-'));
  for (const [model, versions] of Object.entries(spec)) {
    for (const [version, bytes] of Object.entries(versions)) {
      const dir = path.join(root, model, version);
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, 'model.onnx'), bytes);
    }
  }
  return root;
}

export interface TestServer {
  server: OrtServe;
  baseUrl: string;
  /** host:port of the gRPC front end (KServe V2 and TF Serving services). */
  grpcAddress: string;
  repository: string;
  close(): Promise<void>;
}

export async function startTestServer(spec: RepositorySpec, options: CreateServerOptions = {}): Promise<TestServer> {
  const repository = writeRepository(spec);
  const server = createServer({
    host: '127.0.0.1',
    restApiPort: 0,
    grpcPort: 0,
    modelBasePath: repository,
    intraOpThreads: 1,
    logger: pino({ level: 'silent' }),
    ...options,
  });
  const { restPort, grpcPort } = await server.start();
  return {
    server,
    baseUrl: `http://127.0.0.1:${restPort}`,
    grpcAddress: `127.0.0.1:${grpcPort}`,
    repository,
    async close() {
      await server.stop();
      rmSync(repository, { recursive: true, force: true });
    },
  };
}

/** POSTs a JSON text (sent as given, so tests can send NaN or malformed JSON) and returns status, raw text and code. */
export async function postText(url: string, body: string): Promise<{ status: number; text: string; json: any }> {
  const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json };
}

export async function getJson(url: string): Promise<{ status: number; json: any }> {
  const res = await fetch(url);
  return { status: res.status, json: await res.json() };
}

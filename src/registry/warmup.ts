// Warmup: replays the sample requests stored with a version (<version>/warmup.json) before it becomes AVAILABLE.

/*
 * The file format is documented in docs/warmup-format.md. In short:
 *   {"ortserve_warmup": 1, "requests": [{"predict": <TF Serving :predict body>, "repeat": 2}, ...]}
 * Each "predict" is decoded by the same codec as the REST front end (row or columnar form, {"b64": ...}, NaN, exact
 * int64), so a captured request body replays as is. Everything is validated before the first run; any failure fails
 * the load with a message naming warmup.json and the request.
 */

import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { OrtServeError, toOrtServeError, wrapError } from '../errors.js';
import type { ModelSession } from '../engine/model-session.js';
import type { Tensor } from '../engine/tensor.js';
import { isJsonObject, parseJson, type JsonValue } from '../protocol/json/json-parser.js';
import { decodePredictRequest, type SignatureInput } from '../protocol/tfserving/predict-codec.js';
import { DEFAULT_SIGNATURE, signatureNotFound } from '../protocol/tfserving/tf-vocabulary.js';

export const WARMUP_FILE = 'warmup.json';
export const WARMUP_FORMAT_VERSION = 1;
const MAX_WARMUP_BYTES = 64 * 1024 * 1024;
const MAX_REQUESTS = 1000;
const MAX_REPEAT = 1000;
const MAX_JSON_DEPTH = 64;

export interface WarmupReport {
  requests: number;
  /** Runs made: each request × its repeat × the warmup iterations. */
  runs: number;
  ms: number;
}

interface WarmupRequest {
  inputs: Map<string, Tensor>;
  repeat: number;
}

function warmupError(where: string, err: unknown): OrtServeError {
  return wrapError('ERR_MODEL_LOAD', toOrtServeError(err), (text) => `${WARMUP_FILE}: ${where}: ${text}`);
}

function expectKeys(value: JsonValue, where: string, allowed: readonly string[]): Record<string, JsonValue> {
  if (!isJsonObject(value)) throw warmupError(where, new Error('expected a JSON object'));
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) throw warmupError(where, new Error(`unknown field "${key}" (allowed: ${allowed.join(', ')})`));
  }
  return value as Record<string, JsonValue>;
}

/** Validates the whole file and decodes every request against the model's inputs. */
export function parseWarmupFile(bytes: Uint8Array, session: ModelSession): WarmupRequest[] {
  let doc: JsonValue;
  try {
    doc = parseJson(bytes, { maxDepth: MAX_JSON_DEPTH });
  } catch (err) {
    throw warmupError('not valid JSON', err);
  }
  const top = expectKeys(doc, 'top level', ['ortserve_warmup', 'requests']);
  if (top['ortserve_warmup'] !== WARMUP_FORMAT_VERSION) {
    throw warmupError('ortserve_warmup', new Error(`expected ${WARMUP_FORMAT_VERSION} (the format version), got ${JSON.stringify(top['ortserve_warmup'] ?? null)}`));
  }
  const requests = top['requests'];
  if (!Array.isArray(requests) || requests.length === 0 || requests.length > MAX_REQUESTS) {
    throw warmupError('requests', new Error(`expected a list of 1 to ${MAX_REQUESTS} requests`));
  }
  const signature = { inputs: session.signature.inputs as SignatureInput[] };
  return requests.map((item, i) => {
    const where = `requests[${i}]`;
    const request = expectKeys(item, where, ['predict', 'repeat']);
    const repeat = request['repeat'] ?? 1;
    if (typeof repeat !== 'number' || !Number.isInteger(repeat) || repeat < 1 || repeat > MAX_REPEAT) {
      throw warmupError(`${where}.repeat`, new Error(`expected an integer from 1 to ${MAX_REPEAT}`));
    }
    if (request['predict'] === undefined) throw warmupError(`${where}.predict`, new Error('is required'));
    try {
      const decoded = decodePredictRequest(request['predict'], signature);
      if (decoded.signatureName !== undefined && decoded.signatureName !== DEFAULT_SIGNATURE) {
        throw new Error(signatureNotFound('signature_name', decoded.signatureName));
      }
      session.validateInputs(decoded.inputs);
      return { inputs: decoded.inputs, repeat };
    } catch (err) {
      throw warmupError(`${where}.predict`, err);
    }
  });
}

/**
 * Runs the version's warmup requests `iterations` times each (times their repeat). Returns undefined when there is no
 * warmup file or iterations is 0. Throws ERR_MODEL_LOAD naming the file and the request on any failure.
 */
export async function runWarmup(session: ModelSession, versionDir: string, iterations: number): Promise<WarmupReport | undefined> {
  if (iterations === 0) return undefined;
  const file = path.join(versionDir, WARMUP_FILE);
  let bytes: Buffer;
  try {
    const info = await stat(file);
    if (info.size > MAX_WARMUP_BYTES) throw warmupError('file', new Error(`larger than ${MAX_WARMUP_BYTES} bytes`));
    bytes = await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err instanceof OrtServeError ? err : warmupError('cannot read', err);
  }
  const started = performance.now();
  const requests = parseWarmupFile(bytes, session);
  let runs = 0;
  // A stateful version runs each warmup request as a sequence of one (start and end), from the zero state.
  const options = session.stateful ? { sequence: { id: 'ortserve-warmup', start: true, end: true } } : {};
  for (const [i, request] of requests.entries()) {
    for (let r = 0; r < request.repeat * iterations; r++) {
      try {
        await session.run(request.inputs, undefined, options);
      } catch (err) {
        throw warmupError(`requests[${i}] (run ${r + 1})`, err);
      }
      runs++;
    }
  }
  return { requests: requests.length, runs, ms: Math.round(performance.now() - started) };
}

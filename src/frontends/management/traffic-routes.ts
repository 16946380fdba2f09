// Management REST API for traffic weights: GET/PUT/DELETE /v1/management/models/{m}/traffic, POST ...:promote, ...:rollback.

import { clientText, fail } from '../../errors.js';
import { MAX_TRAFFIC_WEIGHT } from '../../config/model-config.js';
import type { ModelRegistry } from '../../registry/model-registry.js';
import type { HttpExchange } from '../http/http-exchange.js';
import { isJsonObject, parseJson, type JsonObject, type JsonValue } from '../../protocol/json/json-parser.js';

/** `[1]`: the model (percent-encoded), `[2]`: the verb (promote, rollback) or undefined. */
export const TRAFFIC_PATH = /^\/v1\/management\/models\/([^/]+)\/traffic(?::(promote|rollback))?$/;

/** Versions one table may list: a table is a handful of versions; this only bounds what a client can make us keep. */
const MAX_TRAFFIC_VERSIONS = 64;
const VERSION_KEY = /^[1-9]\d{0,15}$/;

function objectBody(body: Buffer, allowEmpty: boolean): JsonObject {
  if (body.length === 0 && allowEmpty) return {};
  if (body.length === 0) fail('ERR_BAD_REQUEST', 'request body: required, a JSON object of version → weight such as {"1": 90, "2": 10}');
  const value = parseJson(body, { maxDepth: 4 });
  if (!isJsonObject(value)) fail('ERR_BAD_REQUEST', 'request body: expected a JSON object');
  return value;
}

function versionNumber(key: string, field: string): number {
  const version = VERSION_KEY.test(key) ? Number(key) : Number.NaN;
  if (!Number.isSafeInteger(version)) fail('ERR_BAD_REQUEST', `${field}: '${clientText(key)}' is not a version number`);
  return version;
}

/** The PUT body: {"1": 90, "2": 10}; each weight a non-negative integer up to MAX_TRAFFIC_WEIGHT. */
export function parseWeights(body: Buffer): Map<number, number> {
  const json = objectBody(body, false);
  const keys = Object.keys(json);
  if (keys.length === 0) fail('ERR_BAD_REQUEST', 'request body: list at least one version, e.g. {"1": 90, "2": 10}');
  if (keys.length > MAX_TRAFFIC_VERSIONS) fail('ERR_BAD_REQUEST', `request body: ${keys.length} versions; a table holds at most ${MAX_TRAFFIC_VERSIONS}`);
  const weights = new Map<number, number>();
  for (const key of keys) {
    const field = `"${clientText(key)}"`;
    const version = versionNumber(key, field);
    const w: JsonValue = json[key]!;
    if (typeof w !== 'number' || !Number.isInteger(w) || w < 0 || w > MAX_TRAFFIC_WEIGHT) {
      fail('ERR_BAD_REQUEST', `${field}: the weight must be an integer from 0 to ${MAX_TRAFFIC_WEIGHT} (got ${clientText(JSON.stringify(typeof w === 'bigint' ? String(w) : w))})`);
    }
    if (weights.has(version)) fail('ERR_BAD_REQUEST', `${field}: version ${version} is listed twice`);
    weights.set(version, w);
  }
  if (![...weights.values()].some((w) => w > 0)) fail('ERR_BAD_REQUEST', 'request body: at least one version needs a positive weight');
  return weights;
}

/** The optional {"version": "2"} (or 2) of :promote and :rollback. */
function versionParameter(body: Buffer): number | undefined {
  const json = objectBody(body, true);
  for (const key of Object.keys(json)) if (key !== 'version') fail('ERR_BAD_REQUEST', `unknown field "${clientText(key)}" (allowed: version)`);
  const v = json['version'];
  if (v === undefined) return undefined;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v > 0) return v;
  if (typeof v === 'string') return versionNumber(v, 'version');
  fail('ERR_BAD_REQUEST', 'version: expected a version number such as "2"');
}

function requireMethod(ex: HttpExchange, allowed: readonly string[]): void {
  if (!allowed.includes(ex.method)) fail('ERR_METHOD_NOT_ALLOWED', `${ex.method.toUpperCase()} ${ex.url}: use ${allowed.map((m) => m.toUpperCase()).join(' or ')}`);
}

/** Answers one traffic call (the token was checked). Every answer carries the model's traffic report. */
export function handleTraffic(ex: HttpExchange, registry: ModelRegistry, body: Buffer, model: string, verb: string | undefined): void {
  const traffic = registry.trafficOf(model);
  if (verb === 'promote' || verb === 'rollback') {
    requireMethod(ex, ['post']);
    const version = versionParameter(body);
    if (verb === 'promote') traffic.promote(version);
    else traffic.rollback(version);
    ex.sendJson(200, JSON.stringify(traffic.report()));
    return;
  }
  requireMethod(ex, ['get', 'put', 'delete']);
  if (ex.method === 'put') traffic.set(parseWeights(body));
  else if (ex.method === 'delete') traffic.clear();
  ex.sendJson(200, JSON.stringify(traffic.report()));
}

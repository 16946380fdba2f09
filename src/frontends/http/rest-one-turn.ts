// The REST port's one-turn POSTs: KServe binary-extension /infer and TF Serving :predict bodies that arrive whole are
// offered to their fast paths as they arrive (one-turn-post.ts), before the port's general handler makes an exchange.

import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { shuttingDown } from '../drain-gate.js';
import { parseKservePath, type KserveRoute } from '../kserve/rest-paths.js';
import { handleKserveRest, kserveOneTurnAnswer, readKserveHeaders, type KserveHeaders, type KserveRestContext } from '../kserve/rest-handlers.js';
import { parseTfServingPath, type TfServingRoute } from '../tfserving/rest-paths.js';
import { handleTfServingRest, tfOneTurnAnswer, type TfServingRestContext } from '../tfserving/rest-handlers.js';
import type { HttpExchangeOptions } from './http-exchange.js';
import { oneTurnPost, type OneTurnRoute } from './one-turn-post.js';
import type { DrainGate } from '../drain-gate.js';

/** What a one-turn REST request matched: a KServe route with its binary-extension header, or a TF Serving route. */
type RestTarget = { kserve: KserveRoute; headers: KserveHeaders } | { tf: TfServingRoute };

/**
 * The REST port's one-turn handling, or undefined when it is off: without --fast_path, and when every inference
 * request must pass CORS or carry the inference token (the general handler checks those). The function returns
 * true when it took the request (answered it, or handed it to a full exchange), false having read only headers.
 */
export function restOneTurn(kserveCtx: KserveRestContext, tfCtx: TfServingRestContext, exchange: HttpExchangeOptions & { gate: DrainGate },
                            admissionFree: boolean): ((res: HttpResponse, req: HttpRequest) => boolean) | undefined {
  if (kserveCtx.fastPath !== true || !admissionFree || exchange.cors !== undefined) return undefined;
  // A request the fast path declined goes the general way without asking it again.
  const kserveGeneral: KserveRestContext = { ...kserveCtx, fastPath: false };
  const tfGeneral: TfServingRestContext = { ...tfCtx, fastPath: false };
  const route: OneTurnRoute<RestTarget> = {
    exchange,
    serverTimeoutMs: tfCtx.restTimeoutMs,
    fast: (body, limits, routeKey, target) => 'kserve' in target
      ? kserveOneTurnAnswer(kserveCtx, target.kserve, target.headers, body, limits, routeKey)
      : tfOneTurnAnswer(tfCtx, target.tf, body, limits, routeKey),
    general: (ex, declined, target) => {
      if (exchange.gate.closing) return ex.refuse(shuttingDown(), tfCtx.maxBodyBytes);
      try {
        if ('kserve' in target) handleKserveRest(ex, declined ? kserveGeneral : kserveCtx, target.kserve, target.headers);
        else handleTfServingRest(ex, declined ? tfGeneral : tfCtx, target.tf);
      } catch (err) {
        ex.sendError(err);
      }
    },
  };
  return (res, req) => {
    if (req.getMethod() !== 'post') return false;
    const url = req.getUrl();
    let target: RestTarget | undefined;
    try {
      target = restTarget(url, req);
    } catch {
      return false;   // a malformed path or header: the general handler names the fault
    }
    return target !== undefined && oneTurnPost(res, req, url, route, target);
  };
}

/**
 * The inference routes of recent URLs: a deployment's clients send a handful of URLs over and over, and parsing one
 * (splitting, percent-decoding, the version selector) cost more than the rest of reading the request. The routes are
 * only read. Bounded: emptied when it holds ROUTE_CACHE_ENTRIES.
 */
const routeCache = new Map<string, { kserve: KserveRoute } | { tf: TfServingRoute }>();
const ROUTE_CACHE_ENTRIES = 256;

/** What a POST to `url` is, when it is one a fast path may take: a KServe /infer with the binary extension, or a TF :predict. */
function restTarget(url: string, req: HttpRequest): RestTarget | undefined {
  let route = routeCache.get(url);
  if (route === undefined) {
    const kserve = parseKservePath(url);
    const tf = kserve === undefined ? parseTfServingPath(url) : undefined;
    if (kserve !== undefined && kserve.action === 'infer') route = { kserve };
    else if (tf !== undefined && tf.action === 'predict') route = { tf };
    else return undefined;
    if (routeCache.size >= ROUTE_CACHE_ENTRIES) routeCache.clear();
    routeCache.set(url, route);
  }
  if ('tf' in route) return route;
  const headers = readKserveHeaders(req);
  // Only the binary extension has a fast path; a JSON body goes the general way from the start.
  return headers.inferenceHeaderLength !== '' ? { kserve: route.kserve, headers } : undefined;
}

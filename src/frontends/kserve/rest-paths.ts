// Parses KServe V2 REST paths: /v2, /v2/health/*, /v2/models/{m}[/versions/{v}][/ready|/config|/infer|/stats], /v2/models/stats.
// (/v2/repository/* is the management API's: src/frontends/management/.)

import { clientText, fail } from '../../errors.js';

export type KserveAction =
  | 'server_metadata' | 'live' | 'ready'
  | 'model_metadata' | 'model_ready' | 'model_config' | 'infer' | 'model_stats';

export interface KserveRoute {
  action: KserveAction;
  /** 'get' or 'post': the only method the route answers. */
  method: 'get' | 'post';
  model?: string;
  /** '' = no version in the path. */
  version?: string;
}

function segment(raw: string | undefined, field: string, url: string): string {
  if (raw === undefined || raw === '') fail('ERR_NOT_FOUND', `no route for ${clientText(url)}: ${field} is missing`);
  try {
    return decodeURIComponent(raw);
  } catch {
    fail('ERR_BAD_REQUEST', `${field}: malformed percent-encoding in the URL`);
  }
}

function modelRoute(parts: string[], url: string): KserveRoute {
  // parts: [m] | [m, 'ready'|'config'|'infer'|'stats'] | [m, 'versions', v] | [m, 'versions', v, 'ready'|'config'|'infer'|'stats']
  const model = segment(parts[0], 'model name', url);
  let rest = parts.slice(1);
  let version = '';
  if (rest[0] === 'versions') {
    version = segment(rest[1], 'version', url);
    rest = rest.slice(2);
  }
  if (rest.length === 0) return { action: 'model_metadata', method: 'get', model, version };
  if (rest.length === 1 && rest[0] === 'ready') return { action: 'model_ready', method: 'get', model, version };
  if (rest.length === 1 && rest[0] === 'config') return { action: 'model_config', method: 'get', model, version };
  if (rest.length === 1 && rest[0] === 'infer') return { action: 'infer', method: 'post', model, version };
  if (rest.length === 1 && rest[0] === 'stats') return { action: 'model_stats', method: 'get', model, version };
  fail('ERR_NOT_FOUND', `no route for ${clientText(url)}`);
}

/** Returns undefined for paths outside /v2; throws ERR_NOT_FOUND for unknown paths inside it. */
export function parseKservePath(url: string): KserveRoute | undefined {
  if (url !== '/v2' && !url.startsWith('/v2/')) return undefined;
  const parts = url.split('/').slice(2);
  if (parts.length > 0 && parts[parts.length - 1] === '') parts.pop(); // a trailing slash names the same resource
  const [head, ...rest] = parts;
  if (head === undefined) return { action: 'server_metadata', method: 'get' };
  if (head === 'health' && rest.length === 1 && (rest[0] === 'live' || rest[0] === 'ready')) {
    return { action: rest[0], method: 'get' };
  }
  // Triton's statistics of every model (so a model named 'stats' has its metadata only at /v2/models/stats/versions/{v}).
  if (head === 'models' && rest.length === 1 && rest[0] === 'stats') return { action: 'model_stats', method: 'get', model: '', version: '' };
  if (head === 'models') return modelRoute(rest, url);
  fail('ERR_NOT_FOUND', `no route for ${clientText(url)}`);
}

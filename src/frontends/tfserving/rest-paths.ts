// Parses TF Serving REST paths: /v1/models/{m}[/versions/{v}|/labels/{l}][/metadata|:predict|:classify|:regress].

import { clientText, fail } from '../../errors.js';
import type { VersionSelector } from '../../registry/model-registry.js';

export type TfServingAction = 'status' | 'metadata' | 'predict' | 'classify' | 'regress';

export interface TfServingRoute {
  model: string;
  selector: VersionSelector;
  action: TfServingAction;
}

const PREFIX = '/v1/models/';
const VERBS = new Set(['predict', 'classify', 'regress']);

function decodeSegment(segment: string, field: string): string {
  try {
    const value = decodeURIComponent(segment);
    if (value === '') fail('ERR_NOT_FOUND', `${field} is empty in the URL`);
    return value;
  } catch (err) {
    if (err instanceof URIError) fail('ERR_BAD_REQUEST', `${field}: malformed percent-encoding in the URL`);
    throw err;
  }
}

/** Parses `url` (path only). Returns undefined when it is not under /v1/models/. Throws ERR_NOT_FOUND / ERR_BAD_REQUEST. */
export function parseTfServingPath(url: string): TfServingRoute | undefined {
  if (!url.startsWith(PREFIX)) return undefined;
  let rest = url.slice(PREFIX.length);
  let verb: string | undefined;
  // The verb is glued to the last segment with ':' (":predict"); model names cannot contain ':' here.
  const colon = rest.lastIndexOf(':');
  if (colon >= 0 && !rest.slice(colon).includes('/')) {
    verb = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!VERBS.has(verb)) fail('ERR_NOT_FOUND', `unknown method ':${verb}' (expected :predict, :classify or :regress)`);
  }
  const parts = rest.split('/');
  const model = decodeSegment(parts[0] ?? '', 'model name');
  const selector: VersionSelector = {};
  let i = 1;
  if (parts[i] === 'versions' || parts[i] === 'labels') {
    const kind = parts[i]!;
    const value = parts[i + 1];
    if (value === undefined || value === '') fail('ERR_NOT_FOUND', `${kind} needs a value in the URL`);
    if (kind === 'versions') {
      if (!/^\d{1,15}$/.test(value)) fail('ERR_BAD_REQUEST', `version: '${clientText(decodeSegment(value, 'version'))}' is not a non-negative integer`);
      selector.version = Number(value);
    } else {
      selector.label = decodeSegment(value, 'label');
    }
    i += 2;
  }
  const tail = parts.slice(i);
  if (verb !== undefined) {
    if (tail.length > 0) fail('ERR_NOT_FOUND', `no route for ${clientText(url)}`);
    return { model, selector, action: verb as TfServingAction };
  }
  if (tail.length === 0) return { model, selector, action: 'status' };
  if (tail.length === 1 && tail[0] === 'metadata') return { model, selector, action: 'metadata' };
  fail('ERR_NOT_FOUND', `no route for ${clientText(url)}`);
}

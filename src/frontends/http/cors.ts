// CORS on the REST port (--rest_api_enable_cors_support, TF Serving's flag): which origins may call, the headers
// answers carry for them, and the preflight (OPTIONS) answer.

import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { OrtServeError, clientText } from '../../errors.js';
import { statusLine } from './http-exchange.js';

/** How long a browser may cache a preflight answer, in seconds. */
const PREFLIGHT_MAX_AGE_S = 600;
/** Request headers a preflight may ask for beyond the CORS-safelisted ones (what ortserve's routes read). */
const ALLOWED_HEADERS = 'Authorization, Content-Type, Inference-Header-Content-Length, X-Request-Timeout-Ms';
/** Response headers a page may read beyond the safelisted ones. */
const EXPOSED_HEADERS = 'Inference-Header-Content-Length';

export class CorsPolicy {
  private readonly any: boolean;
  private readonly origins: ReadonlySet<string>;

  /** `allowed`: "*" (any origin) or a comma-separated list of origins (scheme://host[:port]). Throws ERR_CONFIG naming the flag. */
  constructor(allowed: string) {
    const list = allowed.split(',').map((o) => o.trim()).filter((o) => o !== '');
    if (list.length === 0) throw new OrtServeError('ERR_CONFIG', '--rest_api_cors_allowed_origins: give "*" or a comma-separated list of origins');
    this.any = list.includes('*');
    for (const origin of list) {
      if (origin !== '*' && !/^https?:\/\/[^/\s?#]+$/i.test(origin)) {
        throw new OrtServeError('ERR_CONFIG', `--rest_api_cors_allowed_origins: '${origin}' is not an origin (scheme://host[:port], no path)`);
      }
    }
    this.origins = new Set(list.map((o) => o.toLowerCase()));
  }

  allows(origin: string): boolean {
    return this.any || this.origins.has(origin.toLowerCase());
  }

  /**
   * The refusal of a request whose Origin is set and not allowed, else undefined (a request without one is not a
   * browser's cross-origin call: CORS does not concern it).
   */
  refusal(origin: string): OrtServeError | undefined {
    if (origin === '' || this.allows(origin)) return undefined;
    return new OrtServeError('ERR_ORIGIN_NOT_ALLOWED', `origin '${clientText(origin)}' is not allowed to call this server (--rest_api_cors_allowed_origins)`);
  }

  /** Adds the CORS headers of an answer to a request from `origin`; none for no Origin or one not allowed. */
  writeHeaders(res: HttpResponse, origin: string): void {
    if (origin === '' || !this.allows(origin)) return;
    // A listed origin is echoed (so the answer varies with it); "*" needs no echo.
    if (this.any) res.writeHeader('Access-Control-Allow-Origin', '*');
    else res.writeHeader('Access-Control-Allow-Origin', origin).writeHeader('Vary', 'Origin');
    res.writeHeader('Access-Control-Expose-Headers', EXPOSED_HEADERS);
  }

  /** Answers preflight requests (OPTIONS on any path): 204 with what may be sent, or 403 for an origin not allowed. */
  routePreflight(app: TemplatedApp): void {
    app.options('/*', (res, req) => this.preflight(res, req));
  }

  private preflight(res: HttpResponse, req: HttpRequest): void {
    const origin = req.getHeader('origin');
    res.cork(() => {
      if (origin === '' || !this.allows(origin)) {
        const error = this.refusal(origin) ?? new OrtServeError('ERR_BAD_REQUEST', 'OPTIONS: a CORS preflight needs an Origin header');
        res.writeStatus(statusLine(error.httpStatus)).writeHeader('Content-Type', 'application/json')
          .end(JSON.stringify({ error: error.message, code: error.code }));
        return;
      }
      res.writeStatus(statusLine(204));
      this.writeHeaders(res, origin);
      res.writeHeader('Access-Control-Allow-Methods', 'GET, POST, OPTIONS')
        .writeHeader('Access-Control-Allow-Headers', ALLOWED_HEADERS)
        .writeHeader('Access-Control-Max-Age', String(PREFLIGHT_MAX_AGE_S))
        .endWithoutBody();
    });
  }
}

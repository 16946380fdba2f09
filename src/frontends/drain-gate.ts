// DrainGate: the shutdown state every front end shares — whether new requests are still taken, which requests are
// in flight, and how those still pending at the exit deadline are answered (503 / UNAVAILABLE, never silence).

import { OrtServeError } from '../errors.js';

/** A request whose answer is still owed; abandon() answers it with `error` now (a later real answer is dropped). */
export interface PendingAnswer {
  abandon(error: OrtServeError): void;
}

/** A front end that counts its own requests in flight (WebSocket messages, ModelStreamInfer requests). */
export interface DrainSource {
  inFlight(): number;
  /** Answers every request still in flight with `error` and returns how many it answered. */
  abandon(error: OrtServeError): number;
}

/** The error of a request refused or cut short by shutdown: retryable on another instance. */
export function shuttingDown(reason = 'it takes no new requests'): OrtServeError {
  return new OrtServeError('ERR_SHUTTING_DOWN', `the server is shutting down (${reason}); retry on another instance`);
}

/** How often a drain looks whether the requests in flight have all been answered. */
const IDLE_POLL_MS = 10;

/**
 * A gate costs each request one Set insert and one delete (HttpExchange and gRPC unary calls register themselves in
 * `pending`, so that the exit deadline can answer them); WebSocket and stream requests are counted where they already
 * were. `draining` and `closing` are the flags the request paths read; once `closing` is set, a new request on a
 * connection that is still open is refused with ERR_SHUTTING_DOWN (and its HTTP connection closed).
 */
export class DrainGate {
  /**
   * Set when a drain begins: HTTP answers close their connection, so keep-alive clients reconnect (through the load
   * balancer, to another instance) instead of holding on to this one.
   */
  draining = false;
  /** Set when the listeners close: new requests on connections still open are refused. */
  closing = false;
  /** Requests answered one by one (HTTP exchanges, gRPC unary calls) whose answer has not been written yet. */
  readonly pending = new Set<PendingAnswer>();
  private readonly sources: DrainSource[] = [];

  addSource(source: DrainSource): void {
    this.sources.push(source);
  }

  /** Requests taken and not yet answered, over every front end. */
  inFlight(): number {
    let n = this.pending.size;
    for (const source of this.sources) n += source.inFlight();
    return n;
  }

  /** Resolves true once nothing is in flight, false if `timeoutMs` passes first. */
  waitIdle(timeoutMs: number): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    return new Promise((resolve) => {
      const look = () => {
        if (this.inFlight() === 0) resolve(true);
        else if (Date.now() >= until) resolve(false);
        else setTimeout(look, Math.min(IDLE_POLL_MS, Math.max(0, until - Date.now())));
      };
      look();
    });
  }

  /** Answers every request still in flight with ERR_SHUTTING_DOWN; returns how many there were. */
  abandonAll(): number {
    const error = shuttingDown('the request was still in flight at the exit deadline, --exit_timeout_seconds');
    let n = 0;
    for (const answer of [...this.pending]) {
      answer.abandon(error);
      n++;
    }
    this.pending.clear();
    for (const source of this.sources) n += source.abandon(error);
    return n;
  }
}

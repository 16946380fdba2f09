// The one deadline rule of every protocol: the units a timeout is in, where it counts from, what 0 means, and which wins.

/*
 * The rule, for TF Serving REST, KServe REST and gRPC, TF Serving gRPC and FlatBuffers over HTTP and WebSocket alike:
 *   - A deadline is a point on the monotonic clock (performance.now() milliseconds, fractional): a timeout in
 *     microseconds keeps its precision (500 µs is 0.5 ms, never rounded down to "already expired" nor up to 1 ms),
 *     and a step of the wall clock moves no deadline. gRPC's deadline, a wall-clock time, is converted on arrival.
 *   - It counts from when the request arrived: an HTTP request's headers, a WebSocket or stream message's arrival, a
 *     unary gRPC call's start (its own grpc-timeout deadline is absolute already). A slow body does not buy time.
 *   - A client timeout of 0, or none, sets no client limit: the server's default applies (--rest_api_timeout_in_ms on
 *     the REST port, where 0 means none). Negative timeouts are refused by each protocol's decoder.
 *   - When several apply (the server's default, a header, a field of the request, a gRPC deadline), the earliest wins.
 */

/** Now on the clock deadlines use (performance.now() ms). */
export const deadlineClock = (): number => performance.now();

/** A wall-clock time (Date.now() ms, as gRPC gives deadlines) as a point on the deadline clock. */
export function fromWallClock(wallMs: number): number {
  return deadlineClock() + (wallMs - Date.now());
}

/** Where a request's limits come from; every timeout is relative to `receivedAt`, `absoluteDeadline` is absolute. */
export interface DeadlineSources {
  /** When the request arrived (deadlineClock() ms). */
  receivedAt: number;
  /** The server's default in ms (0 = none). */
  serverTimeoutMs?: number;
  /** A client timeout in ms (an HTTP x-request-timeout-ms header); 0 = none. */
  timeoutMs?: number | undefined;
  /** A client timeout in µs (Triton's `timeout` parameter, FlatBuffers timeout_micros); 0 = none. */
  timeoutMicros?: number | undefined;
  /** An absolute deadline the transport already computed (gRPC's grpc-timeout), on the deadline clock. */
  absoluteDeadline?: number | undefined;
}

/** The request's deadline under the rule above; undefined when nothing limits it. */
export function requestDeadline(sources: DeadlineSources): number | undefined {
  let deadline = sources.absoluteDeadline ?? Infinity;
  const relative = (ms: number | undefined) => {
    if (ms !== undefined && ms > 0) deadline = Math.min(deadline, sources.receivedAt + ms);
  };
  relative(sources.serverTimeoutMs);
  relative(sources.timeoutMs);
  relative(sources.timeoutMicros === undefined ? undefined : sources.timeoutMicros / 1000);
  return deadline === Infinity ? undefined : deadline;
}

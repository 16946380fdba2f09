// A raw HTTP/1.1 client over one net.Socket, for tests that control exactly which bytes go out in which write
// (pipelining): it records every byte received and parses the responses itself.

import net from 'node:net';

export interface RawResponse {
  status: number;
  statusLine: string;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  body: Buffer;
}

export interface RawConversation {
  responses: RawResponse[];
  /** True when the server closed the connection (as opposed to the test giving up waiting). */
  closed: boolean;
  /** Bytes after the last complete response (a cut-off response), if any. */
  trailing: Buffer;
}

/** Parses as many complete Content-Length-framed responses as `bytes` holds. */
export function parseResponses(bytes: Buffer): { responses: RawResponse[]; trailing: Buffer } {
  const responses: RawResponse[] = [];
  let at = 0;
  for (;;) {
    const headEnd = bytes.indexOf('\r\n\r\n', at);
    if (headEnd < 0) break;
    const [statusLine = '', ...lines] = bytes.subarray(at, headEnd).toString('latin1').split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const length = Number(headers['content-length'] ?? 'NaN');
    if (!Number.isInteger(length) || headEnd + 4 + length > bytes.length) break;
    responses.push({ status: Number(statusLine.split(' ')[1]), statusLine, headers, body: bytes.subarray(headEnd + 4, headEnd + 4 + length) });
    at = headEnd + 4 + length;
  }
  return { responses, trailing: bytes.subarray(at) };
}

export interface RawWrite {
  bytes: Uint8Array | string;
  /** Wait until this many complete responses have arrived (default: none) before the afterMs wait. */
  afterResponses?: number;
  /** Then wait this long after the previous write (or the connection, or those responses) before writing. */
  afterMs?: number;
}

/**
 * Connects, sends `writes` (each one socket write), and resolves once `expected` complete responses arrived, the
 * server closed the connection, or `timeoutMs` passed; then closes its end.
 */
export function converse(port: number, writes: RawWrite[], expected: number, timeoutMs = 20_000): Promise<RawConversation> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timers: NodeJS.Timeout[] = [];
    let done = false;
    let received = 0;
    let onResponse = () => {};
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      for (const timer of timers) clearTimeout(timer);
      socket.destroy();
      const { responses, trailing } = parseResponses(Buffer.concat(chunks));
      resolve({ responses, closed, trailing });
    };
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      received = parseResponses(Buffer.concat(chunks)).responses.length;
      onResponse();
      if (received >= expected) finish(false);
    });
    socket.on('close', () => finish(true));
    socket.on('error', (err) => { if (!done && chunks.length === 0 && (err as NodeJS.ErrnoException).code === 'ECONNREFUSED') reject(err); });
    const responses = (n: number) => new Promise<void>((resolve) => {
      onResponse = () => { if (received >= n) resolve(); };
      onResponse();
    });
    const sleep = (ms: number) => new Promise<void>((resolve) => { timers.push(setTimeout(resolve, ms)); });
    socket.on('connect', () => {
      timers.push(setTimeout(() => finish(false), timeoutMs));
      void (async () => {
        for (const write of writes) {
          if (write.afterResponses !== undefined) await responses(write.afterResponses);
          if (write.afterMs !== undefined) await sleep(write.afterMs);
          if (done) return;
          socket.write(write.bytes);
        }
      })();
    });
  });
}

/** The bytes of one HTTP/1.1 request. */
export function httpRequest(method: string, path: string, body?: Uint8Array | string, headers: Record<string, string> = {}): Buffer {
  const payload = body === undefined ? Buffer.alloc(0) : Buffer.from(body);
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1'];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  if (body !== undefined) lines.push(`Content-Length: ${payload.length}`);
  return Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), payload]);
}

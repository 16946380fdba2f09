// Raw HTTP/1.1 over one net.Socket, for the soak's hostile REST clients: they choose which bytes go out, when they
// stop writing, when they hang up, and how slowly they read.

import net from 'node:net';

/** The bytes of one HTTP/1.1 request; `contentLength` may lie about the body. */
export function httpRequest(method, path, body = Buffer.alloc(0), headers = {}, contentLength = body.length) {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', `Content-Length: ${contentLength}`];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), Buffer.from(body)]);
}

/** The first Content-Length-framed response in `bytes`, or undefined while it is incomplete. */
export function parseResponse(bytes) {
  const headEnd = bytes.indexOf('\r\n\r\n');
  if (headEnd < 0) return undefined;
  const [statusLine = '', ...lines] = bytes.subarray(0, headEnd).toString('latin1').split('\r\n');
  /** @type {Record<string, string>} */
  const headers = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers['content-length'] ?? 'NaN');
  if (!Number.isInteger(length) || headEnd + 4 + length > bytes.length) return undefined;
  return { status: Number(statusLine.split(' ')[1]), headers, body: bytes.subarray(headEnd + 4, headEnd + 4 + length) };
}

/**
 * Sends `bytes` on a new connection and resolves with the first response, or `undefined` if the server closed the
 * connection without one. `pauseMs`: do not read for that long after writing (a slow reader). `hangUpAfterMs`: close
 * the connection that long after writing, answered or not (a client that disconnects mid-request), resolving undefined.
 * @param {number} port @param {Buffer} bytes
 * @param {{ pauseMs?: number, hangUpAfterMs?: number, timeoutMs?: number }} [options]
 * @returns {Promise<{status: number, headers: Record<string, string>, body: Buffer} | undefined>}
 */
export function exchange(port, bytes, options = {}) {
  const { pauseMs = 0, hangUpAfterMs, timeoutMs = 30_000 } = options;
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks = [];
    const timers = [];
    let done = false;
    const finish = (/** @type {any} */ value, /** @type {Error | undefined} */ error) => {
      if (done) return;
      done = true;
      for (const timer of timers) clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(value);
    };
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      const response = parseResponse(Buffer.concat(chunks));
      if (response) finish(response);
    });
    socket.on('close', () => finish(undefined));
    // A reset after the server answered and closed is normal for a client that kept writing; the answer counts.
    socket.on('error', (err) => { if (/** @type {NodeJS.ErrnoException} */ (err).code === 'ECONNREFUSED') finish(undefined, err); });
    socket.on('connect', () => {
      timers.push(setTimeout(() => finish(undefined, new Error(`no response within ${timeoutMs} ms`)), timeoutMs));
      socket.write(bytes);
      if (hangUpAfterMs !== undefined) timers.push(setTimeout(() => finish(undefined), hangUpAfterMs));
      if (pauseMs > 0) {
        socket.pause();
        timers.push(setTimeout(() => socket.resume(), pauseMs));
      }
    });
  });
}

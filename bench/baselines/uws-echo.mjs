// The transport ceiling: a uWebSockets.js server that answers POST /echo and WebSocket /echo with the bytes it was
// sent and does nothing else, so ortserve's own cost shows as the gap between it and this. Prints {"port": N}.
import { loadUws } from '../../dist/src/frontends/uws-loader.js';

const uws = loadUws();
const MAX_PAYLOAD = 256 * 1024 * 1024;
const app = uws.App()
  .post('/echo', (res) => {
    let aborted = false;
    res.onAborted(() => { aborted = true; });
    const chunks = [];
    res.onData((chunk, isLast) => {
      // uWS reuses the chunk's memory after this callback returns, so each piece is copied out.
      chunks.push(Buffer.from(chunk.slice(0)));
      if (!isLast || aborted) return;
      const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      res.cork(() => res.writeHeader('content-type', 'application/octet-stream').end(body));
    });
  })
  .ws('/echo', {
    maxPayloadLength: MAX_PAYLOAD,
    maxBackpressure: MAX_PAYLOAD,
    idleTimeout: 0,
    message: (ws, message, isBinary) => { ws.send(message, isBinary); },
  });
app.listen('127.0.0.1', 0, (socket) => {
  if (!socket) {
    console.error('uws-echo: could not listen');
    process.exit(1);
  }
  console.log(JSON.stringify({ port: uws.us_socket_local_port(socket) }));
});
process.on('SIGTERM', () => process.exit(0));

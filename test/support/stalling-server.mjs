// A test HTTP server that answers every request at once, except that on request number STALL_AT it blocks its own
// event loop for STALL_MS (a busy wait, like a long GC pause or a synchronous model run) before answering.
// Usage: node stalling-server.mjs <STALL_AT> <STALL_MS>; prints {"port": N} when listening on 127.0.0.1.
import http from 'node:http';

const [stallAt, stallMs] = process.argv.slice(2).map(Number);
let count = 0;
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    if (++count === stallAt) {
      const until = performance.now() + stallMs;
      while (performance.now() < until) { /* the injected stall: nothing else runs in this process */ }
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })));
process.on('SIGTERM', () => process.exit(0));

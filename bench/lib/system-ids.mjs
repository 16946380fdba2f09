// The names the suite gives the systems it measures: bench/run.mjs labels its runs with them and bench/lib/report.mjs
// finds the baselines by them, so both read them from here.

export const SYSTEM = {
  floor: 'floor: in-process addon run',
  generator: 'generator alone (no request)',
  nodeHttpOrt: 'node:http + onnxruntime-node (tf-json)',
  echoHttp: 'uWS echo http',
  echoWs: 'uWS echo ws',
};

/** ortserve driven over one protocol (with dynamic batching on when `batching`). */
export const ortserveId = (protocol, batching = false) => `ortserve${batching ? '+batching' : ''} ${protocol}`;

// Every protocol answers the same table of requests (every datatype, several inputs/outputs, dynamic batch) with the
// same, independently computed answers: KServe REST (JSON and binary), KServe gRPC (typed, raw, streaming), TF Serving
// gRPC (typed fields and tensor_content) and TF Serving REST.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grpcClients, type GrpcClients } from './support/grpc-client.js';
import { adapters, type Adapter, type Answer } from './support/protocol-adapters.js';
import {
  bf16BitsToNumber, halfBitsToNumber, numberToBf16Bits, numberToHalfBits, protocolCases, tableRepository,
  type ProtocolCase, type Value,
} from './support/protocol-table.js';
import { tfAdapters } from './support/tf-adapters.js';
import { startTestServer, type TestServer } from './support/test-server.js';

let t: TestServer;
let clients: GrpcClients;
const all: Adapter[] = [];

beforeAll(async () => {
  t = await startTestServer(tableRepository());
  clients = grpcClients(t.grpcAddress);
  all.push(...adapters(t.baseUrl, clients), ...tfAdapters(t.baseUrl, clients));
});
afterAll(async () => {
  clients.close();
  await t.close();
});

const PRECISION: Record<string, (x: number) => number> = {
  FP32: Math.fround,
  FP16: (x) => halfBitsToNumber(numberToHalfBits(x)),
  BF16: (x) => bf16BitsToNumber(numberToBf16Bits(x)),
};

function same(datatype: string, actual: Value, expected: Value, approx: boolean): boolean {
  if (typeof expected === 'number' && typeof actual === 'number') {
    // Answers printed as JSON carry the shortest text that rounds back in their own precision: compare in it.
    const inPrecision = PRECISION[datatype] ?? ((x: number) => x);
    const [a, e] = [inPrecision(actual), inPrecision(expected)];
    return approx ? Math.abs(a - e) <= 1e-5 * Math.max(1, Math.abs(e)) : Object.is(a, e) || a === e;
  }
  return actual === expected;
}

function check(adapter: Adapter, c: ProtocolCase, answer: Answer): void {
  const expectedNames = c.outputs.map((o) => o.name);
  if (adapter.selectsOutputs) expect(new Set(answer.keys())).toEqual(new Set(expectedNames));
  if (adapter.ordered) expect([...answer.keys()]).toEqual(expectedNames);
  for (const expected of c.outputs) {
    const actual = answer.get(expected.name);
    expect(actual, expected.name).toBeDefined();
    expect(actual!.datatype, expected.name).toBe(expected.datatype);
    const hasEmptyDim = expected.shape.includes(0);
    if (adapter.keepsEmptyDims || !hasEmptyDim) expect(actual!.shape, expected.name).toEqual(expected.shape);
    expect(actual!.values.length, expected.name).toBe(expected.values.length);
    actual!.values.forEach((v, i) => {
      if (!same(expected.datatype, v, expected.values[i]!, c.approx ?? false)) {
        throw new Error(`${expected.name}[${i}]: got ${String(v)}, expected ${String(expected.values[i])}`);
      }
    });
  }
}

describe.each(protocolCases().map((c) => [c.title, c] as const))('%s', (_title, c) => {
  it('gets the same answer from every protocol', async () => {
    const failures: string[] = [];
    for (const adapter of all) {
      try {
        check(adapter, c, await adapter.infer(c));
      } catch (err) {
        failures.push(`${adapter.name}: ${(err as Error).message}`);
      }
    }
    expect(failures).toEqual([]);
  });
});

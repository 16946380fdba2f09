// Reference computations in plain JS, independent of ONNX Runtime and of the server, for expected values.

import { mlpWeights } from '../../scripts/make-example-models.mjs';

/** The example MLP's forward pass (MatMul, Add, Relu, MatMul, Add) in float64 from the documented weights. */
export function mlpReference(rows: number[][], version: number): number[][] {
  const { W1, b1, W2, b2 } = mlpWeights(version) as { W1: number[][]; b1: number[]; W2: number[][]; b2: number[] };
  return rows.map((x) => {
    const hidden = b1.map((b, j) => Math.max(0, x.reduce((acc, xi, i) => acc + xi * W1[i]![j]!, b)));
    return b2.map((b, k) => hidden.reduce((acc, h, j) => acc + h * W2[j]![k]!, b));
  });
}

/** Asserts two nested float arrays agree to float32 precision. */
export function closeTo(actual: unknown, expected: number[][], tolerance = 1e-5): boolean {
  if (!Array.isArray(actual) || actual.length !== expected.length) return false;
  return expected.every((row, r) => {
    const got = (actual as unknown[])[r];
    return Array.isArray(got) && got.length === row.length &&
      row.every((e, c) => Math.abs((got[c] as number) - e) <= tolerance * Math.max(1, Math.abs(e)));
  });
}

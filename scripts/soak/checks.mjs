// What the soak calls right and wrong: expected MLP answers from the plain-JS reference, and expected error codes.

import { mlpForward } from '../make-example-models.mjs';
import { SLOW } from './repository.mjs';

/** A wrong answer, a wrong status or code, or a valid request that failed: counted as a failure of the run. */
export class SoakFailure extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'SoakFailure';
  }
}

/** @param {unknown} condition @param {string} message @returns {asserts condition} */
export function check(condition, message) {
  if (!condition) throw new SoakFailure(message);
}

let seed = 0x5eed;
/** A deterministic pseudo-random number in [0, 1) (an LCG), so two soaks send the same mix. */
export function random() {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed / 2 ** 31;
}

/** A deterministic pseudo-random integer in [0, n). */
export function randomInt(n) {
  return Math.floor(random() * n);
}

/** `batch` rows of 4 small integers in [-4, 4]: exact in float32, and every MLP result is a multiple of 1/8. */
export function mlpRows(batch) {
  return Array.from({ length: batch }, () => Array.from({ length: 4 }, () => randomInt(9) - 4));
}

/** Row-major float32 bytes of `rows`. */
export function float32Bytes(rows) {
  return Buffer.from(new Float32Array(rows.flat()).buffer);
}

function close(got, want) {
  return got.length === want.length && want.every((w, i) => Math.abs(got[i] - w) <= 1e-4 * Math.max(1, Math.abs(w)));
}

/**
 * Checks MLP scores (flat row-major, or nested rows) against the reference of every version that could have served
 * the request; with `reportedVersion` (KServe, FlatBuffers and gRPC say which version answered) that version must be
 * a candidate and the scores must be its own. Returns the version the scores match.
 * @param {number[][]} rows @param {ArrayLike<number> | number[][]} scores @param {number[]} candidates
 * @param {number | undefined} [reportedVersion]
 */
export function checkMlp(rows, scores, candidates, reportedVersion) {
  const got = Array.isArray(scores) && Array.isArray(scores[0]) ? scores.flat() : Array.from(/** @type {ArrayLike<number>} */ (scores));
  check(got.length === rows.length * 3, `mlp: ${got.length} scores for ${rows.length} rows`);
  const show = (values) => `${JSON.stringify(Array.from(values.slice(0, 6)))}${values.length > 6 ? '...' : ''}`;
  if (reportedVersion !== undefined) {
    check(candidates.includes(reportedVersion), `mlp: answered by version ${reportedVersion}, not one that could be serving (${candidates.join(', ')})`);
    const want = mlpForward(rows, reportedVersion).flat();
    if (!close(got, want)) throw new SoakFailure(`mlp: version ${reportedVersion} answered ${show(got)} for ${JSON.stringify(rows[0])}..., the reference says ${show(want)}`);
    return reportedVersion;
  }
  const match = candidates.find((v) => close(got, mlpForward(rows, v).flat()));
  check(match !== undefined, `mlp: ${show(got)} matches none of the versions that could be serving (${candidates.join(', ')}) for ${JSON.stringify(rows[0])}...`);
  return match;
}

/** The slow model's answer for x = 1. */
export const SLOW_ANSWER = 1 / SLOW.n;

/** Checks an error against the expected HTTP status (or gRPC status) and stable code; message texts are not checked. */
export function checkError(what, got, want) {
  check(got.status === want.status && (want.code === undefined || got.code === want.code),
    `${what}: expected ${want.status} ${want.code ?? ''}, got ${got.status} ${got.code ?? ''}${got.detail ? ` (${String(got.detail).slice(0, 160)})` : ''}`);
}

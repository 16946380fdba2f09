// InFlightBytes.takeForThisTurn: answers written in this turn count in --max_in_flight_bytes until the next turn.

import { describe, expect, it } from 'vitest';
import { InFlightBytes } from '../src/inference/request-size.js';
import { OrtServeError } from '../src/errors.js';

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('InFlightBytes.takeForThisTurn', () => {
  it('counts every answer of a turn until the next turn, then gives all of them back', async () => {
    const bytes = new InFlightBytes(1000);
    bytes.takeForThisTurn(300, 'the answer');
    bytes.takeForThisTurn(200, 'the answer');
    bytes.takeForThisTurn(0, 'the answer');
    const release = bytes.reserve(100, 'a body');
    expect(bytes.held).toBe(600);
    await nextTurn();
    expect(bytes.held).toBe(100);
    release();
    bytes.takeForThisTurn(50, 'the answer');
    expect(bytes.held).toBe(50);
    await nextTurn();
    expect(bytes.held).toBe(0);
  });

  it('refuses an answer past the limit with the retryable ERR_QUEUE_FULL, counting nothing for it', async () => {
    const bytes = new InFlightBytes(1000);
    bytes.takeForThisTurn(900, 'the answer');
    let error: unknown;
    try {
      bytes.takeForThisTurn(200, 'the answer');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(OrtServeError);
    expect((error as OrtServeError).code).toBe('ERR_QUEUE_FULL');
    expect((error as OrtServeError).message).toMatch(/the answer needs 200 bytes .*--max_in_flight_bytes/);
    expect(bytes.held).toBe(900);
    await nextTurn();
    expect(bytes.held).toBe(0);
  });
});

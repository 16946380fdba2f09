// Counts a test server's fast-path outcomes: wraps the addon's three fast-path entry points on every loaded session.

import type { NativeSession } from '../../src/engine/native-binding.js';
import type { TestServer } from './test-server.js';

/** Fast-path calls that answered (the addon returned bytes), declined, and threw (a failed run), since countFastPath began. */
export interface FastPathCalls {
  answered: number;
  declined: number;
  threw: number;
}

/** Starts counting `server`'s fast-path calls (versions loaded now) into the returned object. */
export function countFastPath(server: TestServer): FastPathCalls {
  const calls: FastPathCalls = { answered: 0, declined: 0, threw: 0 };
  for (const name of server.server.registry.modelNames()) {
    const session = server.server.registry.resolve(name)!.session as unknown as { natives: NativeSession[] };
    for (const native of session.natives) {
      for (const method of ['runFlatBuffers', 'runKserveBinary', 'runTfPredict'] as const) {
        const original = (native[method] as (...args: unknown[]) => Buffer | undefined).bind(native);
        // The class's methods are read-only; an own property shadows it for this instance.
        Object.defineProperty(native, method, {
          value: (...args: unknown[]) => {
            let result: Buffer | undefined;
            try {
              result = original(...args);
            } catch (err) {
              calls.threw++;
              throw err;
            }
            if (result === undefined) calls.declined++;
            else calls.answered++;
            return result;
          },
        });
      }
    }
  }
  return calls;
}

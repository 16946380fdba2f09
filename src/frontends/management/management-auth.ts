// The management API's bearer token: read from --management_token_file, compared in constant time.

import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { OrtServeError } from '../../errors.js';

/** Shorter tokens are refused at start: the API can unload every model. */
export const MIN_TOKEN_LENGTH = 16;

export class ManagementToken {
  private readonly digest: Buffer;

  private constructor(token: string) {
    this.digest = createHash('sha256').update(token).digest();
  }

  /** Reads the token (surrounding whitespace ignored). Throws ERR_CONFIG naming the flag. */
  static fromFile(file: string): ManagementToken {
    let token: string;
    try {
      token = readFileSync(file, 'utf8').trim();
    } catch (err) {
      throw new OrtServeError('ERR_CONFIG', `--management_token_file: cannot read '${file}': ${(err as Error).message}`);
    }
    if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
      throw new OrtServeError('ERR_CONFIG', `--management_token_file: the token in '${file}' must be at least ${MIN_TOKEN_LENGTH} characters without spaces`);
    }
    return new ManagementToken(token);
  }

  /** Throws ERR_UNAUTHENTICATED unless `authorization` is `Bearer <token>`. */
  check(authorization: string): void {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (match === null) throw new OrtServeError('ERR_UNAUTHENTICATED', 'the management API needs the header Authorization: Bearer <token>');
    // Hashing first makes both sides the same length, so the comparison time says nothing about the token.
    const given = createHash('sha256').update(match[1]!).digest();
    if (!timingSafeEqual(given, this.digest)) throw new OrtServeError('ERR_UNAUTHENTICATED', 'the bearer token is not the management token');
  }
}

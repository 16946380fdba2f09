// Bearer tokens read from a file and compared in constant time: the management API's (--management_token_file) and
// the optional one of the inference endpoints (--inference_token_file).

import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { OrtServeError } from '../../errors.js';

/** Shorter tokens are refused at start: the management API can unload every model. */
export const MIN_TOKEN_LENGTH = 16;

export class BearerToken {
  private readonly digest: Buffer;

  protected constructor(token: string, private readonly guards: string) {
    this.digest = createHash('sha256').update(token).digest();
  }

  /**
   * Reads the token (surrounding whitespace ignored) that guards `guards` (words for messages, e.g. "the management
   * API"). Throws ERR_CONFIG naming `flag`; the token itself is never in a message.
   */
  static fromFile(file: string, flag: string, guards: string): BearerToken {
    let token: string;
    try {
      token = readFileSync(file, 'utf8').trim();
    } catch (err) {
      throw new OrtServeError('ERR_CONFIG', `--${flag}: cannot read '${file}': ${(err as Error).message}`);
    }
    if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
      throw new OrtServeError('ERR_CONFIG', `--${flag}: the token in '${file}' must be at least ${MIN_TOKEN_LENGTH} characters without spaces`);
    }
    return new BearerToken(token, guards);
  }

  /** Throws ERR_UNAUTHENTICATED unless `authorization` is `Bearer <token>`. */
  check(authorization: string): void {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (match === null) throw new OrtServeError('ERR_UNAUTHENTICATED', `${this.guards} needs the header Authorization: Bearer <token>`);
    // Hashing first makes both sides the same length, so the comparison time says nothing about the token.
    const given = createHash('sha256').update(match[1]!).digest();
    if (!timingSafeEqual(given, this.digest)) throw new OrtServeError('ERR_UNAUTHENTICATED', `the bearer token is not the token of ${this.guards}`);
  }
}

/** The management API's token. */
export type ManagementToken = BearerToken;

export const ManagementToken = {
  fromFile: (file: string): ManagementToken => BearerToken.fromFile(file, 'management_token_file', 'the management API'),
};

// OpenStreams: the ModelStreamInfer streams still open, so that shutdown can end them at its exit deadline.

import type { OrtServeError } from '../../errors.js';

/** Each open stream's way to end itself with an error status. */
export class OpenStreams {
  private readonly ends = new Set<(error: OrtServeError) => void>();

  add(end: (error: OrtServeError) => void): void {
    this.ends.add(end);
  }

  delete(end: (error: OrtServeError) => void): void {
    this.ends.delete(end);
  }

  /** Streams tracked now (each open stream once; 0 after every stream has ended). */
  get size(): number {
    return this.ends.size;
  }

  /** Ends every stream with `error` as its status (UNAVAILABLE for ERR_SHUTTING_DOWN). */
  endAll(error: OrtServeError): void {
    for (const end of [...this.ends]) end(error);
    this.ends.clear();
  }
}

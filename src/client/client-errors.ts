// The error a client call rejects with: the server's stable code, its message, and the HTTP status it maps to.

export class OrtServeClientError extends Error {
  override readonly name = 'OrtServeClientError';
  constructor(
    readonly code: string,
    message: string,
    readonly httpStatus: number,
  ) {
    super(message);
  }
}

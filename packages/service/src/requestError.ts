/** A request the API refuses: the HTTP status and one line naming the field at fault. */
export class RequestError extends Error {
  constructor(readonly statusCode: number, message: string, readonly headers: Readonly<Record<string, string>> = {}) {
    super(message);
    this.name = 'RequestError';
  }
}

import type { Logger } from '@inferq/core/logger';

/**
 * A request's logger, bound to its request id (and its tenant once known), created on first use:
 * most requests never log, and two pino child loggers per request (with their redaction set-up)
 * were about 1 % of the API's CPU.
 */
export class RequestLog {
  private bound: Logger | undefined;
  private readonly bindings: Record<string, unknown>;

  constructor(
    private readonly base: Logger,
    requestId: string,
  ) {
    this.bindings = { request_id: requestId };
  }

  /** Adds fields to every line logged from now on. */
  bind(fields: Record<string, unknown>): void {
    Object.assign(this.bindings, fields);
    this.bound = undefined;
  }

  get logger(): Logger {
    this.bound ??= this.base.child(this.bindings);
    return this.bound;
  }
}

/**
 * What the client throws. Every error is an `InferqError` carrying the API's stable `code`
 * (see docs/errors.md) or one of the client's own codes below; subclasses group the codes by what
 * a caller does about them, so `catch` can branch on the class and never on the message.
 */

/** Codes the client itself produces (no answer, or an answer it cannot use). */
export const CLIENT_ERROR_CODES = {
  /** No HTTP answer: connection refused or reset, DNS failure. */
  CONNECTION_FAILED: 'CONNECTION_FAILED',
  /** No answer within `timeoutMs`. */
  RESPONSE_TIMEOUT: 'RESPONSE_TIMEOUT',
  /** `wait`, `run` or `batches.wait` ran past its `timeoutMs` before the job or batch finished. */
  WAIT_TIMEOUT: 'WAIT_TIMEOUT',
  /** An event stream broke off before its terminal event and reconnecting did not help. */
  STREAM_INTERRUPTED: 'STREAM_INTERRUPTED',
  /** An answer that is not what the API sends (not JSON, wrong content type). */
  UNEXPECTED_RESPONSE: 'UNEXPECTED_RESPONSE',
  /** `verifyWebhook`: a signature, timestamp or header is missing, forged, altered or stale. */
  WEBHOOK_VERIFICATION_FAILED: 'WEBHOOK_VERIFICATION_FAILED',
} as const;

export interface InferqErrorInit {
  /** HTTP status of the answer; undefined when there was none. */
  status?: number | undefined;
  details?: Record<string, unknown> | undefined;
  /** `x-request-id` of the answer, to quote in a bug report or find in the API's logs. */
  requestId?: string | undefined;
  /** Seconds the server asked the client to wait before trying again (`Retry-After`). */
  retryAfterSeconds?: number | undefined;
  cause?: unknown;
}

export class InferqError extends Error {
  /** A code from the API's catalogue (docs/errors.md), or one of CLIENT_ERROR_CODES. */
  readonly code: string;
  readonly status: number | undefined;
  readonly details: Record<string, unknown> | undefined;
  readonly requestId: string | undefined;
  readonly retryAfterSeconds: number | undefined;

  constructor(code: string, message: string, init: InferqErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = init.status;
    this.details = init.details;
    this.requestId = init.requestId;
    this.retryAfterSeconds = init.retryAfterSeconds;
  }
}

/** The request was refused as it stands (400, 405, 413, 415, 422 and other 4xx): fix it, do not retry it. */
export class InferqValidationError extends InferqError {}

/** 401 or 403: the API key is missing, unknown, or lacks the scope. */
export class InferqAuthError extends InferqError {}

/** 404: no such job, batch, model or route; or its result has expired. */
export class InferqNotFoundError extends InferqError {}

/** 409: the job or batch is not in a state that allows this (still running, already finished). */
export class InferqConflictError extends InferqError {}

/** 429: over the tenant's rate, or the model's queue is full. `retryAfterSeconds` says when to come back. */
export class InferqRateLimitError extends InferqError {}

/** 5xx, no answer, or no answer in time: worth retrying later. */
export class InferqUnavailableError extends InferqError {}

/** A wait ran out before the job or batch finished; `lastView` is the state last seen (it goes on). */
export class InferqTimeoutError<T = unknown> extends InferqError {
  constructor(
    message: string,
    readonly lastView: T | undefined,
  ) {
    super(CLIENT_ERROR_CODES.WAIT_TIMEOUT, message);
  }
}

/** `verifyWebhook` refused the delivery: do not act on it. */
export class InferqWebhookVerificationError extends InferqError {
  constructor(message: string) {
    super(CLIENT_ERROR_CODES.WEBHOOK_VERIFICATION_FAILED, message);
  }
}

function classFor(status: number): new (code: string, message: string, init?: InferqErrorInit) => InferqError {
  if (status === 401 || status === 403) return InferqAuthError;
  if (status === 404) return InferqNotFoundError;
  if (status === 409) return InferqConflictError;
  if (status === 429) return InferqRateLimitError;
  if (status >= 500) return InferqUnavailableError;
  if (status >= 400) return InferqValidationError;
  return InferqError;
}

/**
 * The typed error for an API answer that is not 2xx: `{"error": {code, message, details?}}` as the
 * API sends it, or, for a body that is not that (a proxy's HTML page), the status and the text.
 */
export function errorFromAnswer(status: number, bodyText: string, init: Omit<InferqErrorInit, 'status' | 'details'> = {}): InferqError {
  let code = `HTTP_${status}`;
  let message = bodyText.trim().slice(0, 500) || `HTTP ${status}`;
  let details: Record<string, unknown> | undefined;
  try {
    const body = JSON.parse(bodyText) as { error?: { code?: unknown; message?: unknown; details?: unknown } };
    if (body.error && typeof body.error.code === 'string') {
      code = body.error.code;
      if (typeof body.error.message === 'string') message = body.error.message;
      if (body.error.details && typeof body.error.details === 'object') details = body.error.details as Record<string, unknown>;
    }
  } catch {
    // not the API's JSON: keep the status and the text
  }
  const ErrorClass = classFor(status);
  return new ErrorClass(code, `${code}: ${message}`, { ...init, status, details });
}

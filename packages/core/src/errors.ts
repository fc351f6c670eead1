/**
 * The catalogue of stable error codes. Clients branch on `code`, never on `message`.
 * `status` is the HTTP status the API answers with; codes that only ever appear inside a job's
 * `error` (they happen on a worker) carry the status the job's GET would have had, for reference.
 * docs/errors.md is checked against this table by a test: add a row there when you add one here.
 */
export const ERROR_CATALOGUE = {
  MALFORMED_JSON: { status: 400, message: 'The request body is not valid JSON.' },
  EMPTY_BODY: { status: 400, message: 'The request has no body.' },
  INVALID_REQUEST: { status: 400, message: 'The request does not match the API schema.' },
  INVALID_QUERY: { status: 400, message: 'A query parameter is invalid.' },
  UNAUTHORIZED: { status: 401, message: 'A valid API key is required: Authorization: Bearer <key>.' },
  FORBIDDEN: { status: 403, message: 'The API key lacks the scope this route needs.' },
  NOT_FOUND: { status: 404, message: 'No such route.' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'The path exists, but not with this method; the Allow header lists the methods it takes.' },
  JOB_NOT_FOUND: { status: 404, message: 'No job with this id exists, or its result has expired.' },
  BATCH_NOT_FOUND: { status: 404, message: 'No batch with this id exists, or its results have expired.' },
  SCHEDULE_NOT_FOUND: { status: 404, message: 'No schedule with this name exists.' },
  MODEL_NOT_FOUND: { status: 404, message: 'No model with this name is in the repository.' },
  MODEL_VERSION_NOT_FOUND: { status: 404, message: 'The model has no such version.' },
  PREDICTION_NOT_FOUND: { status: 404, message: 'The prediction log holds no such prediction of yours: it never existed, was not sampled, or is past the log\'s retention.' },
  JOB_NOT_CANCELABLE: { status: 409, message: 'The job has already finished and cannot be canceled.' },
  JOB_NOT_FINISHED: { status: 409, message: 'The job has not finished yet, so it has no final event to deliver.' },
  WEBHOOK_NOT_CONFIGURED: { status: 409, message: 'The job names no webhook that subscribes to its final event.' },
  BATCH_NOT_FINISHED: { status: 409, message: 'The batch is still running; its results can be read once it has finished.' },
  BATCH_NOT_CANCELABLE: { status: 409, message: 'The batch has already finished, or is still receiving rows.' },
  CANCELED: { status: 409, message: 'The row was not scored: its batch was canceled.' },
  MODEL_VERSION_UNAVAILABLE: { status: 409, message: 'The model version failed to load and takes no jobs.' },
  ROUTING_VERSION_NOT_READY: { status: 409, message: 'The routing policy names a version that no live worker has loaded.' },
  LABEL_CONFLICT: { status: 409, message: 'The prediction already has a different label; labels are never overwritten.' },
  VERSION_IN_USE: { status: 409, message: 'The routing policy still sends traffic to (or shadows, or falls back on) this version.' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'The request body exceeds the size limit.' },
  TOO_MANY_JOBS: { status: 413, message: 'The bulk call carries more jobs than allowed.' },
  TOO_MANY_ROWS: { status: 413, message: 'The job carries more rows than allowed.' },
  IMAGE_TOO_LARGE: { status: 413, message: 'The image has more pixels than allowed.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'The request body must be application/json, or an image for image models.' },
  IDEMPOTENCY_KEY_REUSED: { status: 422, message: 'This Idempotency-Key was used with a different request body.' },
  WEBHOOK_URL_REFUSED: { status: 422, message: 'The webhook URL is not an http(s) URL inferq may call (private, loopback and other internal addresses are refused).' },
  ROUTING_INVALID: { status: 422, message: 'The routing policy is inconsistent: weights must sum to 100 over existing versions.' },
  LABEL_INVALID: { status: 422, message: "The label is not one of the model's labels." },
  INPUT_MISSING: { status: 422, message: 'A required model input is missing.' },
  INPUT_UNKNOWN: { status: 422, message: 'The request names an input the model does not have.' },
  INPUT_DATATYPE_MISMATCH: { status: 422, message: 'An input has the wrong datatype.' },
  INPUT_SHAPE_MISMATCH: { status: 422, message: 'An input has the wrong shape, or its data does not fill its shape.' },
  INPUT_VALUE_INVALID: { status: 422, message: 'An input holds a value its datatype cannot represent (NaN, infinity, beyond float32, out of range).' },
  INPUT_OUT_OF_RANGE: { status: 422, message: "A feature's value is outside the range the model's manifest declares for it." },
  IMAGE_INVALID: { status: 422, message: 'The bytes are not a PNG, JPEG or WebP image that can be decoded.' },
  IMAGE_NOT_SUPPORTED: { status: 422, message: 'This model does not take images.' },
  IMAGE_REQUIRED: { status: 422, message: 'This pipeline takes an image, not tensors or features.' },
  FEATURES_NOT_SUPPORTED: { status: 422, message: 'This model takes tensors or an image, not named features.' },
  FEATURE_MISSING: { status: 422, message: 'A feature the model needs is missing.' },
  FEATURE_UNKNOWN: { status: 422, message: 'The request names a feature the model does not use.' },
  RATE_LIMITED: { status: 429, message: 'The tenant is over its request rate; retry after the Retry-After delay.' },
  QUEUE_FULL: { status: 429, message: "The model's queue is at its depth limit; retry after the Retry-After delay." },
  DEADLINE_EXCEEDED: { status: 504, message: 'The job was not started before its deadline, and was not run.' },
  INFERENCE_FAILED: { status: 500, message: 'The model failed on this input.' },
  STAGE_FAILED: { status: 500, message: 'A pipeline stage failed, or gave no answer in time.' },
  INTERNAL: { status: 500, message: 'Something went wrong inside inferq.' },
  WORKER_LOST: { status: 500, message: 'The workers running the job died or stalled more often than allowed; it was not finished.' },
  REQUEST_TIMEOUT: { status: 503, message: 'The request took longer than the server allows; retry it (with an Idempotency-Key for submits).' },
  WAIT_NOT_HELD: { status: 503, message: 'The API process holds as many waiting requests as it may; the job was queued and goes on: read it at /v1/jobs/{id}.' },
  EVENT_STREAMS_FULL: { status: 503, message: 'The API process holds as many event streams as it may; retry after the Retry-After delay.' },
  REDIS_UNAVAILABLE: { status: 503, message: 'The job store is unreachable; retry shortly.' },
  SUBMIT_OUTCOME_UNKNOWN: { status: 503, message: 'The job store stopped answering while the job was being stored: it may or may not exist. Retry with the same Idempotency-Key, or read details.job_id.' },
  OVERLOADED: { status: 503, message: 'This API process is at its bound of requests in flight; retry after the Retry-After delay.' },
  STORAGE_FULL: { status: 503, message: 'The job store (Redis) is out of memory: nothing was stored; retry after the Retry-After delay.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

/**
 * The one error type inferq throws on purpose. The API maps it to HTTP in one place; a worker
 * stores it as a job's `error`. Anything else that reaches those places is a bug and becomes INTERNAL.
 */
export class InferqError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  /** Seconds a client should wait before retrying (503, 429). */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    code: ErrorCode,
    message?: string,
    options: { details?: Record<string, unknown>; retryAfterSeconds?: number; cause?: unknown } = {},
  ) {
    super(message ?? ERROR_CATALOGUE[code].message, { cause: options.cause });
    this.name = 'InferqError';
    this.code = code;
    this.details = options.details;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  get status(): number {
    return ERROR_CATALOGUE[this.code].status;
  }

  toBody(): ErrorBody {
    return this.details ? { code: this.code, message: this.message, details: this.details } : { code: this.code, message: this.message };
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CATALOGUE, value);
}

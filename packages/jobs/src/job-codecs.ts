import { JOB_STATUSES, type FinishedJobRecord, type FinishedStatus } from '@inferq/core/job-types';

/** Shared data that does not have the shape its codec expects: written by a bug, or by another program. */
export class CorruptRecordError extends Error {
  constructor(what: string, reason: string) {
    super(`${what} is corrupt: ${reason}`);
    this.name = 'CorruptRecordError';
  }
}

type Json = Record<string, unknown>;

function object(text: string, what: string): Json {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new CorruptRecordError(what, 'not JSON');
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new CorruptRecordError(what, 'not an object');
  return value as Json;
}

function requireStrings(value: Json, what: string, fields: readonly string[]): void {
  for (const field of fields) if (typeof value[field] !== 'string') throw new CorruptRecordError(what, `${field} is not a string`);
}

const FINISHED: readonly string[] = JOB_STATUSES.filter((s): s is FinishedStatus => s === 'succeeded' || s === 'failed' || s === 'canceled');

/** A finished job as stored under its result key and published to long-polls. */
export const finishedRecordCodec = {
  encode(record: FinishedJobRecord): string {
    return JSON.stringify(record);
  },
  decode(text: string): FinishedJobRecord {
    const value = object(text, 'finished job record');
    requireStrings(value, 'finished job record', ['job_id', 'status', 'model', 'model_version', 'created_at', 'finished_at', 'expires_at']);
    if (!FINISHED.includes(value.status as string)) throw new CorruptRecordError('finished job record', `status ${String(value.status)} is not a final status`);
    return value as unknown as FinishedJobRecord;
  },
};

/** What an Idempotency-Key remembers: the job it created, and a digest of the body that created it. */
export interface IdempotencyRecord {
  job: { job_id: string; status: 'queued'; model: string; model_version: string; created_at: string; routed_by: FinishedJobRecord['routed_by'] & string };
  body_sha256: string;
}

export const idempotencyRecordCodec = {
  encode(record: IdempotencyRecord): string {
    return JSON.stringify(record);
  },
  decode(text: string): IdempotencyRecord {
    const value = object(text, 'idempotency record');
    requireStrings(value, 'idempotency record', ['body_sha256']);
    const job = value.job;
    if (!job || typeof job !== 'object') throw new CorruptRecordError('idempotency record', 'job is missing');
    requireStrings(job as Json, 'idempotency record job', ['job_id', 'model', 'model_version', 'created_at']);
    return value as unknown as IdempotencyRecord;
  },
};

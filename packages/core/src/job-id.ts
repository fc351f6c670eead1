import { randomBytes } from 'node:crypto';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** 26-character ULID: sortable by creation time, 80 random bits. */
function ulid(now = Date.now()): string {
  let time = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  const bytes = randomBytes(16);
  let random = '';
  for (let i = 0; i < 16; i++) random += CROCKFORD[(bytes[i] ?? 0) % 32];
  return time + random;
}

/**
 * A job id names its model (`fraud-risk.01JD…`): any API process can then find the job's queue
 * from the id alone, with no lookup key written on the submit path. Model names never contain '.'.
 */
export function newJobId(model: string): string {
  return `${model}.${ulid()}`;
}

const JOB_ID_PATTERN = /^([a-z0-9][a-z0-9_-]{0,62})\.([0-9A-HJKMNP-TV-Z]{26})$/;

export function parseJobId(jobId: string): { model: string } | undefined {
  const match = JOB_ID_PATTERN.exec(jobId);
  return match?.[1] ? { model: match[1] } : undefined;
}

/** Batch ids are opaque to clients; the batch's record names its model. */
export function newBatchId(): string {
  return `batch-${ulid()}`;
}

export const BATCH_ID_PATTERN = /^batch-[0-9A-HJKMNP-TV-Z]{26}$/;

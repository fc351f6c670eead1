import { InferqError } from '@inferq/core/errors';
import type { FinishedStatus } from '@inferq/core/job-types';

/** Unknown, expired, and another tenant's jobs all get this same answer. */
export function notFound(jobId: string): InferqError {
  return new InferqError('JOB_NOT_FOUND', `no job ${jobId}: it never existed, or its result expired`, { details: { job_id: jobId } });
}

export function notCancelable(status: FinishedStatus): InferqError {
  return new InferqError('JOB_NOT_CANCELABLE', `the job has already ${status === 'canceled' ? 'been canceled' : status}`, { details: { status } });
}

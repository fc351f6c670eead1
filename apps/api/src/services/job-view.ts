import type { FinishedJobRecord, JobStatus } from '@inferq/core/job-types';

/** What `GET /v1/jobs/{id}` returns: a finished record as stored, or the live state of a pending job. */
export type JobView =
  | FinishedJobRecord
  | {
      job_id: string;
      status: Extract<JobStatus, 'queued' | 'running'>;
      model: string;
      model_version: string;
      created_at: string;
      started_at: string | null;
      finished_at: null;
      timings: null;
      batch_size: null;
    };

export function isFinished(view: JobView): view is FinishedJobRecord {
  return view.status === 'succeeded' || view.status === 'failed' || view.status === 'canceled';
}

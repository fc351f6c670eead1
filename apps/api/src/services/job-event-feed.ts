import { parseJobId } from '@inferq/core/job-id';
import type { JobService } from './job-service.ts';
import { isFinished, type JobView } from './job-view.ts';
import type { OutgoingEvent, StateFeed } from './state-feed.ts';

/** A job's event ids: one per state it passes through, so a resumed stream skips what its client saw. */
const SEQUENCE: Record<JobView['status'], number> = { queued: 1, running: 2, succeeded: 3, failed: 3, canceled: 3 };

/**
 * The job as it was at an earlier step, rebuilt as GET showed it then (a pending job's fields);
 * undefined for a step it never passed through (running, for a job canceled while queued).
 */
function earlierView(view: JobView, step: number): JobView | undefined {
  const startedAt = step === 2 ? view.started_at : null;
  if (step === 2 && startedAt === null) return undefined;
  return {
    job_id: view.job_id,
    status: step === 1 ? 'queued' : 'running',
    model: view.model,
    // The version it was queued for: a fallback answered on another one.
    model_version: 'fallback_from' in view && view.fallback_from ? view.fallback_from.version : view.model_version,
    created_at: view.created_at,
    started_at: startedAt,
    finished_at: null,
    timings: null,
    batch_size: null,
  };
}

const toEvent = (view: JobView): OutgoingEvent => ({ id: String(SEQUENCE[view.status]), event: view.status, data: view });

/**
 * A job's events: `queued` (1), `running` (2), then `succeeded`, `failed` or `canceled` (3), each
 * carrying the job as GET returns it. A client that has seen an event (a resume, or a change
 * that came faster than a read) is sent the steps in between too, so none is missed.
 */
export function jobEventFeed(jobs: JobService, jobId: string, tenant: string): StateFeed<JobView> {
  const parsed = parseJobId(jobId);
  return {
    ids: parsed && parsed.bundleId !== jobId ? [jobId, parsed.bundleId] : [jobId],
    read: () => jobs.get(jobId, tenant),
    async afterNotice(notice) {
      if (notice.record === undefined) return jobs.get(jobId, tenant);
      return (await jobs.finishedFromNotice(jobId, tenant, notice.record)) ?? jobs.get(jobId, tenant);
    },
    eventsSince(seen, view) {
      const to = SEQUENCE[view.status];
      if (seen !== undefined && to <= seen) return [];
      const events: OutgoingEvent[] = [];
      if (seen !== undefined) {
        for (let step = seen + 1; step < to; step++) {
          const earlier = earlierView(view, step);
          if (earlier) events.push(toEvent(earlier));
        }
      }
      events.push(toEvent(view));
      return events;
    },
    sequence: (view) => SEQUENCE[view.status],
    isFinal: isFinished,
  };
}

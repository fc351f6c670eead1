import type { BatchView } from '@inferq/batch/batch-record';
import { isBatchFinal } from '@inferq/batch/batch-store';
import type { BatchService } from './batch-service.ts';
import type { StateFeed } from './state-feed.ts';

/**
 * A batch's event id, from its counts: twice the rows done, plus one once its upload is complete,
 * plus two at its end. It grows with every change GET can show (rows only ever get done, an upload
 * completes once, a batch ends once), so a resumed stream sends the current state only if it is newer.
 */
function sequence(view: BatchView): number {
  const done = view.succeeded + view.failed + view.canceled;
  return 2 * done + (view.status === 'receiving' ? 0 : 1) + (isBatchFinal(view.status) ? 2 : 0);
}

/**
 * A batch's events: `progress` (the batch as GET returns it: status, counts, percent) whenever it
 * moves, then `succeeded`, `failed` or `canceled` at its end. Counts are cumulative, so the
 * latest state tells a resumed client everything it missed.
 */
export function batchEventFeed(batches: BatchService, batchId: string, tenant: string): StateFeed<BatchView> {
  return {
    ids: [batchId],
    read: () => batches.get(batchId, tenant),
    afterNotice: () => batches.get(batchId, tenant),
    eventsSince(seen, view) {
      const id = sequence(view);
      if (seen !== undefined && id <= seen) return [];
      return [{ id: String(id), event: isBatchFinal(view.status) ? view.status : 'progress', data: view }];
    },
    sequence,
    isFinal: (view) => isBatchFinal(view.status),
  };
}

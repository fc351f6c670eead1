import type { BatchView } from '@inferq/client/api-types';
import type { UploadProgress } from '@inferq/client/upload-body';

export interface ProgressReporter {
  uploaded(progress: UploadProgress): void;
  update(view: BatchView): void;
  done(): void;
}

const megabytes = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

/** A redrawn bar on a terminal; a plain line at most every `intervalMs` otherwise (cron mails, log files). */
export function progressReporter(stream: NodeJS.WriteStream, intervalMs = 10_000): ProgressReporter {
  if (stream.isTTY) {
    let lastUpload = 0;
    return {
      uploaded({ bytesSent, totalBytes }) {
        if (Date.now() - lastUpload < 100 && bytesSent !== totalBytes) return;
        lastUpload = Date.now();
        stream.write(`\ruploading ${megabytes(bytesSent)}${totalBytes ? ` of ${megabytes(totalBytes)}` : ''}   `);
      },
      update(view) {
        const width = 30;
        const filled = Math.round((view.percent / 100) * width);
        const done = view.succeeded + view.failed + view.canceled;
        const failed = view.failed ? `, ${view.failed.toLocaleString('en')} failed` : '';
        stream.write(`\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${view.percent.toFixed(1).padStart(5)} %  ${done.toLocaleString('en')}/${view.total.toLocaleString('en')} rows${failed}  (${view.status})   `);
      },
      done() {
        stream.write('\n');
      },
    };
  }
  let last = 0;
  let lastLine = '';
  return {
    uploaded() {},
    update(view) {
      const line = `${view.batch_id} ${view.status} ${view.percent}% ${view.succeeded + view.failed + view.canceled}/${view.total} rows, ${view.failed} failed`;
      const final = ['succeeded', 'failed', 'canceled'].includes(view.status);
      if (line !== lastLine && (final || Date.now() - last >= intervalMs)) {
        stream.write(`${new Date().toISOString()} ${line}\n`);
        last = Date.now();
        lastLine = line;
      }
    },
    done() {},
  };
}

import type { BatchView } from './api-client.ts';

export interface ProgressReporter {
  update(view: BatchView): void;
  done(): void;
}

/** A redrawn bar on a terminal; a plain line at most every `intervalMs` otherwise (cron mails, log files). */
export function progressReporter(stream: NodeJS.WriteStream, intervalMs = 10_000): ProgressReporter {
  if (stream.isTTY) {
    return {
      update(view) {
        const width = 30;
        const filled = Math.round((view.percent / 100) * width);
        const done = view.succeeded + view.failed + view.canceled;
        stream.write(`\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${view.percent.toFixed(1).padStart(5)} %  ${done.toLocaleString('en')}/${view.total.toLocaleString('en')} rows  ${view.failed ? `${view.failed} failed ` : ''}${view.status}   `);
      },
      done() {
        stream.write('\n');
      },
    };
  }
  let last = 0;
  let lastLine = '';
  return {
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

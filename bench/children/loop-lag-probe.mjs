// Preloaded into the worker process (NODE_OPTIONS=--import=<this file>, see bench/lib/stack.ts) to
// measure its main thread's event-loop lag without touching product code. Plain JS because it
// runs before the tsx loader is registered. On SIGUSR2 it prints the window since the previous
// SIGUSR2 as one JSON line and starts a new one, with the process's memory at that moment (V8
// heap vs the rest of RSS says what grew).
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { isMainThread } from 'node:worker_threads';

// The histogram records the full timer interval; lag is what exceeds the resolution.
const RESOLUTION_MS = 1;

if (isMainThread) {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  const lag = (ns) => Math.max(0, ns / 1e6 - RESOLUTION_MS);
  const mb = (bytes) => Math.round((bytes / 2 ** 20) * 10) / 10;
  const memory = () => {
    const m = process.memoryUsage();
    return { rss_mb: mb(m.rss), heap_total_mb: mb(m.heapTotal), heap_used_mb: mb(m.heapUsed), external_mb: mb(m.external) };
  };
  process.on('SIGUSR2', () => {
    const window = {
      msg: 'bench loop lag',
      samples: histogram.count,
      p50_ms: lag(histogram.percentile(50)),
      p99_ms: lag(histogram.percentile(99)),
      max_ms: lag(histogram.max),
      mean_ms: lag(histogram.mean),
      ...memory(),
    };
    histogram.reset();
    process.stdout.write(`${JSON.stringify(window)}\n`);
  });
}

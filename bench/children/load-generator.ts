/**
 * The load generator, run as its own process (`node --import tsx`) so that its CPU and event
 * loop are not the measured processes'. Reads one LoadPlan (JSON, argv[2], or @<file>) and prints one
 * LoadResult as its last stdout line.
 *
 * node:http with a keep-alive agent rather than fetch: it costs less CPU per request, and on a
 * 2-core machine every cycle the client spends is taken from the API, worker and Redis.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { summarize, type Summary } from '../lib/stats.ts';

export interface LoadPlan {
  baseUrl: string;
  path: string;
  body: unknown;
  /** Bodies sent in turn instead of `body` (e.g. image lines of different widths). */
  bodies?: unknown[];
  /** closed: `concurrency` clients back to back; open: arrivals at `ratePerS` whatever the answers. */
  mode: 'closed' | 'open';
  concurrency?: number;
  ratePerS?: number;
  /** Open loop: arrivals beyond this many in flight are dropped, so the client's memory is bounded. */
  maxInFlight?: number;
  /** Closed loop: jobs that end before this are not counted (connections, JIT, first batches). */
  warmupMs?: number;
  durationMs: number;
  /** Long-poll each job until it ends (submit-to-result); false measures the POST alone. */
  awaitResult: boolean;
  /** With awaitResult: send `Prefer: wait=N` on the POST, so a job that ends in time needs no GET. */
  preferWaitSeconds?: number;
  /** Closed loop, instead of a duration: stop once this many jobs were accepted. */
  totalJobs?: number;
  collectJobIds?: boolean;
  /** Open loop: how long to wait for jobs still in flight after the last arrival. */
  drainMs?: number;
}

export interface LoadResult {
  windowMs: number;
  completed: number;
  perSecond: number;
  /** Open loop: arrivals sent, and dropped at the client's in-flight cap. */
  offered: number;
  offeredPerSecond: number;
  dropped: number;
  unfinished: number;
  errors: number;
  statuses: Record<string, number>;
  latencyMs: Summary;
  /** From the finished record's timings: enqueue to worker pick-up, and created to finished. */
  queueMs: Summary;
  workerTotalMs: Summary;
  inferenceMs: Summary;
  batchSize: Summary;
  /** The client's own event-loop lag p99: what of the latency may be the client's. */
  clientLagP99Ms: number;
  jobIds?: string[];
}

interface Reply {
  status: number;
  text: string;
  /** The Retry-After header, in seconds (0 when absent). */
  retryAfterSeconds: number;
}

const planArg = process.argv[2] ?? '{}';
// "@<file>": a plan too large for argv (bench/lib/load.ts).
const plan = JSON.parse(planArg.startsWith('@') ? readFileSync(planArg.slice(1), 'utf8') : planArg) as LoadPlan;
const target = new URL(plan.baseUrl);
const sockets = plan.mode === 'closed' ? (plan.concurrency ?? 1) : (plan.maxInFlight ?? 1000);
// Idle sockets are dropped before the server's 5 s keep-alive timeout would close them under a
// request just sent on them (which the client would see as ECONNRESET, not the service's fault).
const agent = new http.Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets, timeout: 4_000 });
const posts = (plan.bodies ?? [plan.body]).map((b) => {
  const text = JSON.stringify(b);
  const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) };
  if (plan.awaitResult && plan.preferWaitSeconds) headers.prefer = `wait=${plan.preferWaitSeconds}`;
  return { text, headers };
});
let nextPost = 0;

const statuses: Record<string, number> = {};
const latencies: number[] = [];
const inference: number[] = [];
const queueTimes: number[] = [];
const workerTotals: number[] = [];
const batchSizes: number[] = [];
const jobIds: string[] = [];
let errors = 0;
let stopped = false;
const clientLag = monitorEventLoopDelay({ resolution: 1 });
clientLag.enable();

function send(method: string, path: string, post?: { text: string; headers: Record<string, string | number> }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ agent, hostname: target.hostname, port: target.port, method, path, headers: post ? post.headers : {}, timeout: 120_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), retryAfterSeconds: Number(res.headers['retry-after'] ?? 0) || 0 }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(post?.text);
  });
}

function count(key: string): void {
  statuses[key] = (statuses[key] ?? 0) + 1;
}

/**
 * What the generator reads of a job's reply. Every field is optional: inferq's finished record has
 * timings and batch_size, a baseline's (the plain stack) only job_id, status and result.
 */
type JobView = { job_id?: string; poll_url?: string; status?: string; timings?: { inference_ms?: unknown; queue_ms?: unknown; total_ms?: unknown }; batch_size?: unknown };

/** A reply's JSON object, or {} when it is none (an error page): counted by its status, never thrown. */
function parseView(text: string): JobView {
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed !== null && typeof parsed === 'object' ? (parsed as JobView) : {};
  } catch {
    return {};
  }
}

function keep(samples: number[], value: unknown): void {
  if (typeof value === 'number' && Number.isFinite(value)) samples.push(value);
}

/** Counts a finished job's answer and keeps its timings when it has them; true when it succeeded. */
function finished(label: string, reply: Reply, view: JobView): boolean {
  count(`${label} ${reply.status} ${view.status ?? ''}`.trim());
  keep(inference, view.timings?.inference_ms);
  keep(queueTimes, view.timings?.queue_ms);
  keep(workerTotals, view.timings?.total_ms);
  if (typeof view.batch_size === 'number' && view.batch_size > 0) batchSizes.push(view.batch_size);
  return reply.status === 200 && view.status === 'succeeded';
}

/** One job: submit, then (optionally) long-poll until it ends. Resolves true when it succeeded. */
async function runJob(): Promise<boolean> {
  const submitted = await send('POST', plan.path, posts[nextPost++ % posts.length]);
  // Prefer: wait=N answered with the finished job: no GET needed.
  if (submitted.status === 200 && plan.preferWaitSeconds) return finished('POST', submitted, parseView(submitted.text));
  if (submitted.status !== 202) {
    count(`POST ${submitted.status}`);
    return false;
  }
  const job = parseView(submitted.text);
  if (plan.collectJobIds && job.job_id !== undefined) jobIds.push(String(job.job_id));
  if (!plan.awaitResult) {
    count('POST 202');
    return true;
  }
  if (typeof job.poll_url !== 'string') {
    count('POST 202 without poll_url');
    return false;
  }
  for (;;) {
    const asked = performance.now();
    const polled = await send('GET', `${job.poll_url}?wait=30`);
    const view = parseView(polled.text);
    if (view.status === 'queued' || view.status === 'running') {
      // Answered at once although unfinished: the API holds no more long-polls. Come back when it says, as a client should.
      if (performance.now() - asked < 15_000) {
        count('GET long-poll declined');
        await new Promise((r) => setTimeout(r, (polled.retryAfterSeconds || 1) * 1000));
      }
      continue;
    }
    return finished('GET', polled, view);
  }
}

async function guarded(): Promise<boolean> {
  try {
    return await runJob();
  } catch (error) {
    // Requests cut off by the end of the run are not the service's errors.
    if (!stopped) {
      errors += 1;
      count(`error ${(error as Error).message.slice(0, 60)}`);
    }
    return false;
  }
}

async function closedLoop(): Promise<{ windowMs: number; completed: number }> {
  const start = performance.now();
  const windowStart = start + (plan.warmupMs ?? 0);
  const end = windowStart + plan.durationMs;
  let accepted = 0;
  let completed = 0;
  let lastEnd = windowStart;
  const more = () => (plan.totalJobs !== undefined ? accepted < plan.totalJobs : performance.now() < end);
  const client = async () => {
    while (!stopped && more()) {
      if (plan.totalJobs !== undefined) accepted += 1;
      const t0 = performance.now();
      const ok = await guarded();
      const t1 = performance.now();
      if (ok && t1 >= windowStart && (plan.totalJobs !== undefined || t1 <= end)) {
        completed += 1;
        latencies.push(t1 - t0);
        lastEnd = Math.max(lastEnd, t1);
      }
    }
  };
  await Promise.all(Array.from({ length: plan.concurrency ?? 1 }, client));
  // Fixed-count runs end when the last job does; timed runs at the end of the window.
  return { windowMs: (plan.totalJobs !== undefined ? lastEnd : end) - windowStart, completed };
}

async function openLoop(): Promise<{ windowMs: number; completed: number; offered: number; dropped: number; unfinished: number }> {
  const rate = plan.ratePerS ?? 1;
  const total = Math.max(1, Math.round((rate * plan.durationMs) / 1000));
  const cap = plan.maxInFlight ?? 1000;
  const start = performance.now();
  let next = 0;
  let inFlight = 0;
  let completed = 0;
  let dropped = 0;
  let lastEnd = start;
  const launch = (scheduledAt: number) => {
    inFlight += 1;
    void guarded().then((ok) => {
      inFlight -= 1;
      const t1 = performance.now();
      if (ok) {
        completed += 1;
        // From the arrival's scheduled time, so a client that fell behind does not hide latency.
        latencies.push(t1 - scheduledAt);
        lastEnd = Math.max(lastEnd, t1);
      }
    });
  };
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (next < total && start + (next * 1000) / rate <= now) {
        if (inFlight >= cap) dropped += 1;
        else launch(start + (next * 1000) / rate);
        next += 1;
      }
      if (next >= total) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  const drainUntil = performance.now() + (plan.drainMs ?? 30_000);
  while (inFlight > 0 && performance.now() < drainUntil) await new Promise((r) => setTimeout(r, 5));
  return { windowMs: Math.max(lastEnd - start, plan.durationMs), completed, offered: total - dropped, dropped, unfinished: inFlight };
}

const outcome = plan.mode === 'closed' ? { ...(await closedLoop()), offered: 0, dropped: 0, unfinished: 0 } : await openLoop();
stopped = true;
agent.destroy();
const result: LoadResult = {
  ...outcome,
  perSecond: (outcome.completed * 1000) / outcome.windowMs,
  offeredPerSecond: (outcome.offered * 1000) / plan.durationMs,
  errors,
  statuses,
  latencyMs: summarize(latencies),
  queueMs: summarize(queueTimes),
  workerTotalMs: summarize(workerTotals),
  inferenceMs: summarize(inference),
  batchSize: summarize(batchSizes),
  clientLagP99Ms: Math.max(0, clientLag.percentile(99) / 1e6 - 1),
  ...(plan.collectJobIds ? { jobIds } : {}),
};
// Exit only once the line is flushed: a pipe takes a large line (job ids) in several writes.
process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));

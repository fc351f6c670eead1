import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer, get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../../scripts/lib/local-redis.ts';
import { startService, testModelDir, type ServiceProcess } from '../support/services.ts';

export type Profile = 'short' | 'full';

/** What every scenario reports, one JSON line each. */
export interface Figures {
  scenario: string;
  /** Submits answered 202: each must reach a terminal state readable by GET. */
  accepted: number;
  succeeded: number;
  failed: number;
  /** 202s whose job never reached a terminal state within the bound, or read 404. */
  lost: number;
  /** Jobs announced by more than one distinct final webhook message. */
  duplicated: number;
  /** Seconds from the fault's end until a new job is answered again (or the scenario's own measure). */
  recovery_s: number | null;
  [extra: string]: unknown;
}

const hasCurl = spawnSync('curl', ['--version'], { stdio: 'ignore' }).status === 0;

const TERMINAL = new Set(['succeeded', 'failed', 'canceled']);

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- Redis ----------------------------------------------------------------------------------

/** A redis-server the scenario can kill, pause and restart on the same port and data folder. */
export class RedisProcess {
  child!: ChildProcess;
  readonly url: string;

  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly args: string[],
  ) {
    this.url = `redis://127.0.0.1:${port}`;
  }

  static async start(options: { appendOnly?: boolean; policy?: string } = {}): Promise<RedisProcess> {
    const port = await freePort();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'inferq-faults-redis-'));
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir, '--appendonly', options.appendOnly ? 'yes' : 'no', '--maxmemory-policy', options.policy ?? 'noeviction', '--loglevel', 'warning'];
    const redis = new RedisProcess(port, dir, args);
    await redis.launch();
    return redis;
  }

  async launch(): Promise<void> {
    this.child = spawn('redis-server', this.args, { stdio: 'ignore' });
    const probe = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined);
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        await probe.connect();
        // Until the AOF is loaded Redis answers LOADING.
        await probe.ping();
        break;
      } catch (error) {
        probe.disconnect();
        if (Date.now() > deadline) throw error;
        await sleep(50);
      }
    }
    probe.disconnect();
  }

  client(): Redis {
    const client = new Redis(this.url, { maxRetriesPerRequest: 1 });
    client.on('error', () => undefined);
    return client;
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill(signal);
    await exited;
  }
}

// ---- the stack --------------------------------------------------------------------------------

export interface Cluster {
  redis: RedisProcess;
  api: ServiceProcess;
  workers: ServiceProcess[];
  base: string;
  env: Record<string, string>;
  /** Starts one more worker (or a replacement) with the cluster's worker env. */
  addWorker(): Promise<ServiceProcess>;
  stop(): Promise<void>;
}

export async function startCluster(options: { redis?: RedisProcess; workers?: number; env?: Record<string, string>; workerEnv?: Record<string, string>; appendOnly?: boolean } = {}): Promise<Cluster> {
  const redis = options.redis ?? (await RedisProcess.start({ appendOnly: options.appendOnly ?? false }));
  const port = await freePort();
  const env = { REDIS_URL: redis.url, PORT: String(port), INFERQ_MODEL_DIR: testModelDir(), INFERQ_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8', ...options.env };
  const workerEnv = { ...env, ...options.workerEnv };
  const workers = await Promise.all(Array.from({ length: options.workers ?? 2 }, () => startService('worker', { env: workerEnv })));
  const api = await startService('api', { env });
  const cluster: Cluster = {
    redis,
    api,
    workers,
    base: `http://127.0.0.1:${port}`,
    env,
    async addWorker() {
      const worker = await startService('worker', { env: workerEnv });
      cluster.workers.push(worker);
      return worker;
    },
    async stop() {
      await Promise.all([cluster.api, ...cluster.workers].map((p) => p.stop('SIGKILL')));
      await redis.kill('SIGKILL');
    },
  };
  return cluster;
}

// ---- HTTP -------------------------------------------------------------------------------------

export interface Reply {
  status: number;
  body: any;
  headers: Headers;
}

export async function call(base: string, method: string, route: string, body?: unknown, headers: Record<string, string> = {}, timeoutMs = 30_000): Promise<Reply> {
  try {
    const res = await fetch(base + route, {
      method,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    return { status: res.status, body: parsed, headers: res.headers };
  } catch (error) {
    // A reset or refused connection: no answer at all (status 0).
    return { status: 0, body: { error: { code: (error as Error).name } }, headers: new Headers() };
  }
}

/**
 * GET on a fresh connection (as a Kubernetes probe connects); resolves with its time in ms, or
 * null on failure. Timed by curl in its own process when there is one, so the load this process
 * generates does not count in the figure.
 */
export function probeNewConnection(base: string, route: string, timeoutMs = 5000): Promise<number | null> {
  if (hasCurl) {
    return new Promise((resolve) => {
      execFile('curl', ['-s', '-o', '/dev/null', '-m', String(timeoutMs / 1000), '-w', '%{http_code} %{time_total}', base + route], (error, stdout) => {
        const [code, seconds] = stdout.trim().split(' ');
        resolve(!error && code === '200' ? Number(seconds) * 1000 : null);
      });
    });
  }
  const started = performance.now();
  return new Promise((resolve) => {
    const req = get(base + route, { agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200 ? performance.now() - started : null));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
  });
}

/** Runs `task` over `items` with at most `concurrency` at once. */
export async function pool<T, R>(items: T[], concurrency: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await task(items[index] as T, index);
      }
    }),
  );
  return results;
}

/** Tally of a load run: accepted job ids, and the other answers by status and code. */
export class Tally {
  readonly accepted: string[] = [];
  readonly refused = new Map<string, number>();
  /** SUBMIT_OUTCOME_UNKNOWN answers: the job ids they named. */
  readonly unknown: string[] = [];

  note(reply: Reply): void {
    if (reply.status === 202 || reply.status === 200) {
      const id = reply.body?.job_id as string | undefined;
      if (id) this.accepted.push(id);
      return;
    }
    const code = `${reply.status} ${reply.body?.error?.code ?? ''}`.trim();
    this.refused.set(code, (this.refused.get(code) ?? 0) + 1);
    if (reply.body?.error?.code === 'SUBMIT_OUTCOME_UNKNOWN') this.unknown.push(reply.body.error.details.job_id as string);
  }

  refusals(): Record<string, number> {
    return Object.fromEntries(this.refused);
  }
}

/** Submits `count` jobs with `concurrency` clients; each reply goes to the tally. */
export async function submitLoad(base: string, count: number, concurrency: number, body: (i: number) => unknown, tally: Tally, headers: (i: number) => Record<string, string> = () => ({})): Promise<void> {
  await pool(Array.from({ length: count }, (_, i) => i), concurrency, async (i) => tally.note(await call(base, 'POST', '/v1/jobs', body(i), headers(i))));
}

/** Submits from `clients` loops until `stop()` is called. */
export function continuousLoad(base: string, clients: number, body: (i: number) => unknown, tally: Tally, pauseMs = 0): { stop(): Promise<void> } {
  let running = true;
  let n = 0;
  const loops = Array.from({ length: clients }, async () => {
    while (running) {
      tally.note(await call(base, 'POST', '/v1/jobs', body(n++)));
      if (pauseMs > 0) await sleep(pauseMs);
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

/**
 * Waits, within `boundMs`, for every id to reach a terminal state readable by GET. Returns the
 * count per final status, and the ids that did not (lost).
 */
export async function settle(base: string, ids: string[], boundMs: number): Promise<{ succeeded: number; failed: number; canceled: number; lost: string[]; codes: Record<string, number>; settle_s: number }> {
  const started = Date.now();
  const deadline = started + boundMs;
  const state = new Map<string, { status: string; code?: string }>();
  let pending = [...new Set(ids)];
  while (pending.length > 0 && Date.now() < deadline) {
    const wait = Math.max(1, Math.min(20, Math.floor((deadline - Date.now()) / 1000)));
    await pool(pending, 64, async (id) => {
      const reply = await call(base, 'GET', `/v1/jobs/${id}?wait=${wait}`, undefined, {}, (wait + 10) * 1000);
      if (reply.status === 200 && TERMINAL.has(reply.body.status)) state.set(id, { status: reply.body.status, code: reply.body.error?.code });
    });
    pending = pending.filter((id) => !state.has(id));
    if (pending.length > 0) await sleep(250);
  }
  const count = (s: string) => [...state.values()].filter((v) => v.status === s).length;
  const codes: Record<string, number> = {};
  for (const v of state.values()) if (v.code) codes[v.code] = (codes[v.code] ?? 0) + 1;
  return { succeeded: count('succeeded'), failed: count('failed'), canceled: count('canceled'), lost: pending, codes, settle_s: round((Date.now() - started) / 1000) };
}

/** Seconds until a new job is accepted and answered (Prefer: wait), probing every 100 ms, within boundMs; null if never. */
export async function timeToServe(base: string, job: unknown, from: number, boundMs: number): Promise<number | null> {
  const deadline = Date.now() + boundMs;
  while (Date.now() < deadline) {
    const reply = await call(base, 'POST', '/v1/jobs', job, { prefer: 'wait=5' }, 8000);
    if (reply.status === 200 && reply.body.status === 'succeeded') return round((Date.now() - from) / 1000);
    await sleep(100);
  }
  return null;
}

export const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

/** Resident memory of a process, in MiB (Linux). */
export function rssMiB(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    return round(kb / 1024, 0);
  } catch {
    return 0;
  }
}

export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number, 0);
}

/** Waits until `check` holds, within boundMs; false if it never did. */
export async function until(check: () => boolean | Promise<boolean>, boundMs: number, everyMs = 50): Promise<boolean> {
  const deadline = Date.now() + boundMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(everyMs);
  }
  return false;
}

// ---- webhooks -----------------------------------------------------------------------------------

/**
 * A webhook receiver that records every final-event delivery by job id and webhook-id. `behaviour`
 * decides each answer: a status, or 'hang' (never answers, so the attempt times out).
 */
export class Receiver {
  /** job id -> distinct webhook-ids of its final events (job.succeeded / job.failed). */
  readonly finals = new Map<string, Set<string>>();
  deliveries = 0;
  private readonly attempts = new Map<string, number>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(behaviour: (attempt: number) => number | 'hang' = () => 200): Promise<Receiver> {
    let receiver: Receiver | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const r = receiver as Receiver;
        r.deliveries += 1;
        const messageId = String(req.headers['webhook-id'] ?? '');
        const attempt = (r.attempts.get(messageId) ?? 0) + 1;
        r.attempts.set(messageId, attempt);
        const answer = behaviour(attempt);
        if (answer === 'hang') return;
        if (answer >= 200 && answer < 300) {
          try {
            const event = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { type: string; data: { job_id?: string } };
            if ((event.type === 'job.succeeded' || event.type === 'job.failed') && event.data.job_id) {
              const set = r.finals.get(event.data.job_id) ?? new Set<string>();
              set.add(messageId);
              r.finals.set(event.data.job_id, set);
            }
          } catch {
            // Not an event inferq sends: counted as a delivery only.
          }
        }
        res.writeHead(answer).end();
      });
    });
    server.keepAliveTimeout = 1000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    receiver = new Receiver(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`);
    return receiver;
  }

  /** Jobs announced by more than one distinct message. */
  duplicated(): number {
    return [...this.finals.values()].filter((s) => s.size > 1).length;
  }

  /** Of `ids`, those with no final event delivered. */
  missing(ids: string[]): string[] {
    return ids.filter((id) => !this.finals.has(id));
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

export function tempDir(name: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `inferq-faults-${name}-`));
  mkdirSync(dir, { recursive: true });
  return dir;
}

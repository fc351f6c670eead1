import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { createBlockingConnection, type Redis } from '../../packages/core/src/redis-connection.ts';
import { startLocalRedisCluster } from '../../scripts/lib/local-redis-cluster.ts';
import { freePort, startLocalRedis } from '../../scripts/lib/local-redis.ts';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ENTRY = { api: 'apps/api/src/main.ts', worker: 'apps/worker/src/main.ts' } as const;
const COMPILED_ENTRY = { api: 'apps/api/dist/main.js', worker: 'apps/worker/dist/main.js' } as const;

/**
 * Node flags that run a service from its TypeScript source: tsx, and the export condition that
 * resolves every @inferq/* import to its source too (by default they resolve to dist/*.js).
 */
export const SOURCE_NODE_FLAGS = ['--conditions=inferq-source', '--import', 'tsx'] as const;

export interface ServiceProcess {
  kind: 'api' | 'worker';
  child: ChildProcess;
  /** Every log line so far (pino JSON), for assertions on what the process said. */
  lines: string[];
  /** Resolves with the exit code (or signal name) once the process has ended. */
  exited: Promise<number | string>;
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

export interface StartOptions {
  env?: Record<string, string>;
  /** Log message that means "ready". Default: 'api listening' / 'worker started'. */
  readyMessage?: string;
  /** Wait for ready. Default true; false for processes expected to fail at start. */
  waitReady?: boolean;
  /** Run the compiled dist/main.js (as npm start and the image do; needs `npm run build`). Default: false, the source through tsx. */
  compiled?: boolean;
}

const running = new Set<ServiceProcess>();

/** This environment without the source condition `npm test` sets in NODE_OPTIONS: compiled code resolves to dist. */
export function compiledEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const nodeOptions = (env.NODE_OPTIONS ?? '').split(/\s+/).filter((flag) => flag && flag !== '--conditions=inferq-source').join(' ');
  return { ...env, NODE_OPTIONS: nodeOptions };
}

/** Starts `apps/<kind>/src/main.ts` (or its compiled dist/main.js) as a real child process. */
export async function startService(kind: 'api' | 'worker', options: StartOptions = {}): Promise<ServiceProcess> {
  const args = options.compiled ? [path.join(REPO_ROOT, COMPILED_ENTRY[kind])] : [...SOURCE_NODE_FLAGS, path.join(REPO_ROOT, ENTRY[kind])];
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: { ...(options.compiled ? compiledEnv() : process.env), LOG_LEVEL: 'info', INFERQ_LOG_PRETTY: 'false', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const listeners = new Set<(line: string) => void>();
  const collect = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) {
      if (!line.trim()) continue;
      lines.push(line);
      for (const l of listeners) l(line);
    }
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  const service: ServiceProcess = {
    kind,
    child,
    lines,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const result = await exited;
      running.delete(service);
      return result;
    },
  };
  running.add(service);
  void exited.then(() => running.delete(service));
  if (options.waitReady === false) return service;
  const readyMessage = options.readyMessage ?? (kind === 'api' ? 'api listening' : 'worker started');
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${kind} not ready after 60 s:\n${lines.slice(-20).join('\n')}`)), 60_000);
    const check = (line: string) => {
      if (line.includes(`"msg":"${readyMessage}"`)) {
        clearTimeout(timer);
        listeners.delete(check);
        resolve();
      }
    };
    lines.forEach(check);
    listeners.add(check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${kind} exited (${code}) before it was ready:\n${lines.slice(-20).join('\n')}`));
    });
  });
  return service;
}

export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((s) => s.stop('SIGKILL')));
}

/** A model repository for tests: the demo models plus the test-only fixtures, as symlinks. */
export function testModelDir(extra: Record<string, string> = {}): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'inferq-models-'));
  const sources: Record<string, string> = {
    ...Object.fromEntries(readdirSync(path.join(REPO_ROOT, 'models'), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => [e.name, path.join(REPO_ROOT, 'models', e.name)])),
    lookup: path.join(REPO_ROOT, 'test/fixtures/models/lookup'),
    ...extra,
  };
  for (const [name, source] of Object.entries(sources)) symlinkSync(source, path.join(dir, name));
  return dir;
}

/** A copy of a model (for tests that corrupt or add versions). */
export function copyModel(name: string, from = path.join(REPO_ROOT, 'models')): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `inferq-${name}-`));
  cpSync(path.join(from, name), dir, { recursive: true });
  return dir;
}

/** The Redis a stack runs on: one server, or a Redis Cluster when INFERQ_TEST_REDIS=cluster. */
export interface StackRedis {
  /** What the services get as REDIS_URL (redis://… or redis-cluster://…). */
  url: string;
  kind: 'standalone' | 'cluster';
  /** A new client of the right kind (a Cluster client on a cluster); the caller disconnects it. */
  connect(): Redis;
  /** A BullMQ queue of the services' key layout on its own connection, closed with it. */
  queue<T = unknown>(name: string): Queue<T>;
  stop(): Promise<void>;
}

/** A queue that owns its connection: BullMQ leaves a connection it was given open on close. */
class OwnedQueue<T> extends Queue<T> {
  constructor(
    name: string,
    private readonly owned: Redis,
  ) {
    super(name, { connection: owned, prefix: 'inferq' });
  }

  override async close(): Promise<void> {
    await super.close();
    this.owned.disconnect();
  }
}

/**
 * Starts the Redis a test stack uses: a private redis-server, or, with INFERQ_TEST_REDIS=cluster
 * (`npm run test:cluster`), a three-master Redis Cluster, so the same e2e suites prove both.
 */
export async function startStackRedis(kind: StackRedis['kind'] = process.env.INFERQ_TEST_REDIS === 'cluster' ? 'cluster' : 'standalone'): Promise<StackRedis> {
  const server = kind === 'cluster' ? await startLocalRedisCluster(3) : await startLocalRedis();
  const connect = () => createBlockingConnection(server.url, { maxRetriesPerRequest: 1 });
  return { url: server.url, kind, connect, queue: <T>(name: string) => new OwnedQueue<T>(name, connect()), stop: () => server.stop() };
}

export interface Stack {
  redis: StackRedis;
  api: ServiceProcess;
  workers: ServiceProcess[];
  baseUrl: string;
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** Redis + one API + N workers, all real processes on loopback. */
export async function startStack(options: { workers?: number; env?: Record<string, string>; workerEnv?: Record<string, string>; redis?: StackRedis['kind'] } = {}): Promise<Stack> {
  const redis = await startStackRedis(options.redis);
  const port = await freePort();
  const env = { REDIS_URL: redis.url, PORT: String(port), INFERQ_MODEL_DIR: testModelDir(), ...options.env };
  const workers = await Promise.all(Array.from({ length: options.workers ?? 1 }, () => startService('worker', { env: { ...env, ...options.workerEnv } })));
  const api = await startService('api', { env });
  return {
    redis,
    api,
    workers,
    baseUrl: `http://127.0.0.1:${port}`,
    env,
    async stop() {
      await Promise.all([api.stop('SIGKILL'), ...workers.map((w) => w.stop('SIGKILL'))]);
      await redis.stop();
    },
  };
}

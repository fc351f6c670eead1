import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import { Redis } from 'ioredis';
import { killOwnedProcessGroup, releaseOwnedProcess, spawnOwnedProcess } from './owner-watchdog.ts';

export interface LocalRedisOptions {
  /** Folder for the append-only file. Default: none (nothing persisted). */
  dataDir?: string;
  /** Port to listen on. Default: a free one. */
  port?: number;
  /** AOF persistence. Default: true when dataDir is given. */
  appendOnly?: boolean;
  /** Called with the watchdog's pid (its process group) as soon as it is spawned. Default: none. */
  onSpawn?: (watchdogPid: number) => void;
  /** More redis-server arguments (e.g. `--cluster-enabled yes`). Default: none. */
  extraArgs?: readonly string[];
}

export interface LocalRedis {
  url: string;
  port: number;
  /** The redis-server process (INFO's process_id). */
  pid: number;
  /** INFO's run_id: tells this server apart from any later one on the same port. */
  runId: string;
  /** SIGTERM (Redis writes its AOF and exits); resolves once it has exited. */
  stop(): Promise<void>;
}

export const REDIS_INSTALL_HINT = [
  'inferq needs Redis >= 7.0. Either set REDIS_URL to a running Redis, or install redis-server:',
  '  Debian/Ubuntu: sudo apt-get install -y redis-server',
  '  macOS:         brew install redis',
  '  Docker:        docker compose up -d redis   (then REDIS_URL=redis://127.0.0.1:6379)',
].join('\n');

export function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Starts a private redis-server on loopback with the settings inferq requires (noeviction), for
 * `npm start` without REDIS_URL and for the tests. Resolves once it answers PING. It runs in its
 * own process group, so a terminal's Ctrl-C does not reach it and its owner can stop it last,
 * after the processes that still write to it; and under the owner watchdog, so it stops when this
 * process ends, however it ends, instead of living on with nobody to stop it.
 */
export async function startLocalRedis(options: LocalRedisOptions = {}): Promise<LocalRedis> {
  const port = options.port ?? (await freePort());
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--maxmemory-policy', 'noeviction', '--loglevel', 'warning'];
  if (options.dataDir) {
    mkdirSync(options.dataDir, { recursive: true });
    args.push('--dir', options.dataDir);
  }
  args.push('--appendonly', (options.appendOnly ?? Boolean(options.dataDir)) ? 'yes' : 'no');
  args.push(...(options.extraArgs ?? []));
  const child = spawnOwnedProcess('redis-server', args, { stdout: 'ignore', stderr: 'inherit' });
  if (child.pid !== undefined) options.onSpawn?.(child.pid);
  const url = `redis://127.0.0.1:${port}`;
  const exited = new Promise<never>((_, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`redis-server exited with code ${code}`)));
  });
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  // Refused connects are expected until redis-server listens; the loop below retries them.
  probe.on('error', () => undefined);
  const deadline = Date.now() + 10_000;
  let info: string;
  for (;;) {
    try {
      info = await Promise.race([probe.connect().then(async () => {
        // PING answers LOADING until the AOF is read; INFO would answer at once.
        await probe.ping();
        return probe.info('server');
      }), exited]);
      break;
    } catch (error) {
      if (Date.now() > deadline || child.exitCode !== null) {
        probe.disconnect();
        killOwnedProcessGroup(child);
        throw error;
      }
      probe.disconnect();
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  probe.disconnect();
  exited.catch(() => undefined);
  return {
    url,
    port,
    pid: Number(/^process_id:(\d+)/m.exec(info)?.[1]),
    runId: /^run_id:(\w+)/m.exec(info)?.[1] ?? '',
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        releaseOwnedProcess(child);
      }),
  };
}

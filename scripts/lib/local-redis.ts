import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import { Redis } from 'ioredis';

export interface LocalRedisOptions {
  /** Folder for the append-only file. Default: none (nothing persisted). */
  dataDir?: string;
  /** Port to listen on. Default: a free one. */
  port?: number;
  /** AOF persistence. Default: true when dataDir is given. */
  appendOnly?: boolean;
  /**
   * Own process group, so a terminal's Ctrl-C does not reach redis-server directly and the owner
   * can stop it last, after the processes that still write to it. Default: false.
   */
  detached?: boolean;
}

export interface LocalRedis {
  url: string;
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

export const REDIS_INSTALL_HINT = [
  'inferq needs Redis >= 6.2. Either set REDIS_URL to a running Redis, or install redis-server:',
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
 * `npm start` without REDIS_URL and for the tests. Resolves once it answers PING.
 */
export async function startLocalRedis(options: LocalRedisOptions = {}): Promise<LocalRedis> {
  const port = options.port ?? (await freePort());
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--maxmemory-policy', 'noeviction', '--loglevel', 'warning'];
  if (options.dataDir) {
    mkdirSync(options.dataDir, { recursive: true });
    args.push('--dir', options.dataDir);
  }
  args.push('--appendonly', (options.appendOnly ?? Boolean(options.dataDir)) ? 'yes' : 'no');
  const child = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'inherit'], detached: options.detached ?? false });
  const url = `redis://127.0.0.1:${port}`;
  const exited = new Promise<never>((_, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`redis-server exited with code ${code}`)));
  });
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  // Refused connects are expected until redis-server listens; the loop below retries them.
  probe.on('error', () => undefined);
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await Promise.race([probe.connect().then(() => probe.ping()), exited]);
      break;
    } catch (error) {
      if (Date.now() > deadline || child.exitCode !== null) {
        probe.disconnect();
        child.kill('SIGKILL');
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
    process: child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

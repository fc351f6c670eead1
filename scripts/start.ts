/**
 * `npm start`: one API and one worker on this machine (compiled: `npm start` builds first), plus
 * a private Redis when neither REDIS_URL nor REDIS_CLUSTER_NODES is set. Every other setting is read by the services themselves from the environment.
 */
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig, type Config } from '@inferq/core/config';
import { claimDataDir, type DataDirClaim } from './lib/data-dir-owner.ts';
import { RISKY_TRANSACTION } from './lib/demo-requests.ts';
import { hasRedisServer, REDIS_INSTALL_HINT, startLocalRedis, type LocalRedis } from './lib/local-redis.ts';
import { describeExit, spawnService, waitForHttpOk, type ServiceProcess } from './lib/service-process.ts';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const READY_TIMEOUT_MS = 60_000;
// Longer than the services' own drain limit, so SIGKILL is only for a process that hangs.
const serviceDrainMs = Number(process.env.INFERQ_SHUTDOWN_TIMEOUT_MS) || 30_000;
const STOP_GRACE_MS = Math.max(35_000, serviceDrainMs + 5_000);

let redis: LocalRedis | undefined;
let dataDirClaim: DataDirClaim | undefined;
let redisStarting: Promise<LocalRedis | undefined> = Promise.resolve(undefined);
const services: ServiceProcess[] = [];
let stopping = false;
const startup = new AbortController();

async function shutdown(exitCode: number, reason: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  startup.abort();
  console.error(`inferq: ${reason}`);
  await Promise.all(services.map((service) => service.stop(STOP_GRACE_MS)));
  // Last, so the worker can still write the results of the batches it was finishing.
  await (await redisStarting.catch(() => undefined))?.stop();
  await dataDirClaim?.update({ stoppedAt: new Date().toISOString() }).catch(() => undefined);
  process.exit(exitCode);
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => void shutdown(0, `${signal}: stopping the api and the worker...`));
}
// Everything runs in its own process group, so Ctrl-C does not reach it before we stop it in
// order. If we exit abruptly, the services are killed here; Redis (and the services, should even
// this handler not run, as under SIGKILL) get SIGTERM from their owner watchdogs.
process.on('exit', () => {
  for (const service of services) service.kill();
});

/** The address to reach the API from this machine, whatever interface it binds. */
function localBaseUrl(host: string | undefined, port: string): string {
  const reachable = !host || host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
}

function rejectAfter(ms: number, message: string): Promise<never> {
  return new Promise((_, reject) => setTimeout(() => reject(new Error(message)), ms).unref());
}

/** dir as typed from the current directory when it lies inside it, otherwise absolute. */
function shownPath(dir: string): string {
  const relative = path.relative(process.cwd(), dir);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : dir;
}

function banner(baseUrl: string): string {
  const body = JSON.stringify({ model: 'fraud-risk', features: RISKY_TRANSACTION });
  return [
    '',
    `inferq is ready at ${baseUrl}${redis && dataDirClaim ? `  (private Redis ${redis.url}, data in ${shownPath(dataDirClaim.dir)})` : ''}`,
    '',
    'Submit a job:',
    `  curl -s -X POST ${baseUrl}/v1/jobs -H 'content-type: application/json' \\`,
    `    -d '${body}'`,
    '',
    'Wait up to 10 s for its result (paste the job_id from the answer above):',
    `  curl -s '${baseUrl}/v1/jobs/<job_id>?wait=10'`,
    '',
    `Models and versions served: curl -s ${baseUrl}/v1/models`,
    'Ctrl-C stops everything.',
    '',
  ].join('\n');
}

/**
 * One server per data directory: the directory is claimed first (an earlier start's left-over
 * server of this checkout is stopped; a live owner refuses this start), and the claim records the
 * server beside the data, so that the next start can tell whether it is still running.
 */
async function startPrivateRedis(dataDir: string): Promise<LocalRedis> {
  const claim = await claimDataDir(dataDir, { checkout: realpathSync(repoRoot) });
  dataDirClaim = claim;
  // Stopping a left-over server can take a while; Ctrl-C meanwhile must not start a new one.
  startup.signal.throwIfAborted();
  const server = await startLocalRedis({ dataDir, appendOnly: true, onSpawn: (watchdogPid) => void claim.update({ watchdogPid }).catch(() => undefined) });
  await claim.update({ server: { pid: server.pid, port: server.port, runId: server.runId } });
  return server;
}

function loadConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`inferq: ${error.message}`);
    process.exit(2);
  }
}

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  // REDIS_CLUSTER_NODES names a cluster on its own (the config turns it into a redis-cluster:// URL).
  let redisUrl = process.env.REDIS_CLUSTER_NODES ? config.redisUrl : process.env.REDIS_URL;
  if (!redisUrl) {
    if (!hasRedisServer()) {
      console.error(REDIS_INSTALL_HINT);
      process.exit(1);
    }
    const starting = startPrivateRedis(path.join(config.dataDir, 'redis'));
    redisStarting = starting;
    const started = await starting;
    redis = started;
    redisUrl = started.url;
  }
  if (stopping) return;

  const port = process.env.PORT || '3000';
  // The services run compiled code: a source condition inherited from a development shell (or
  // from `npm test`) would point their workspace imports at TypeScript they cannot load.
  const nodeOptions = (process.env.NODE_OPTIONS ?? '').split(/\s+/).filter((flag) => flag && flag !== '--conditions=inferq-source').join(' ');
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: nodeOptions, REDIS_URL: redisUrl };
  if (process.stdout.isTTY && env.INFERQ_LOG_PRETTY === undefined) env.INFERQ_LOG_PRETTY = 'true';

  const api = spawnService({ name: 'api', entry: path.join(repoRoot, 'apps/api/dist/main.js'), cwd: repoRoot, env });
  const worker = spawnService({ name: 'worker', entry: path.join(repoRoot, 'apps/worker/dist/main.js'), cwd: repoRoot, env });
  services.push(api, worker);
  // Subscribed before any output can arrive, so the line cannot be missed.
  const workerStarted = worker.waitForLog('worker started');
  for (const service of services) {
    void service.exited.then((exit) => shutdown(1, `the ${service.name} exited unexpectedly (${describeExit(exit)}); stopping everything`));
  }

  const baseUrl = localBaseUrl(process.env.HOST, port);
  await Promise.all([
    waitForHttpOk(`${baseUrl}/readyz`, { intervalMs: 200, timeoutMs: READY_TIMEOUT_MS, signal: startup.signal }).catch((error: Error) => {
      throw new Error(`the api is not ready: ${error.message}`);
    }),
    Promise.race([workerStarted, rejectAfter(READY_TIMEOUT_MS, `the worker did not log "worker started" within ${READY_TIMEOUT_MS / 1000} s`)]),
  ]);
  if (!stopping) console.log(banner(baseUrl));
}

main().catch((error: unknown) => shutdown(1, error instanceof Error ? error.message : String(error)));

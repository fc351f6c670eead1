import { readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { SAFE_TRANSACTION, wideMlpInput } from '../support/http.ts';
import { startService } from '../support/services.ts';
import {
  call,
  continuousLoad,
  percentile,
  probeNewConnection,
  Receiver,
  RedisProcess,
  round,
  rssMiB,
  settle,
  sleep,
  startCluster,
  submitLoad,
  Tally,
  tempDir,
  timeToServe,
  until,
  type Cluster,
  type Figures,
  type Profile,
} from './harness.ts';

/** Short locks: a killed worker's jobs are taken over within seconds. */
const FAST_LOCKS = { INFERQ_LOCK_DURATION_MS: '2000', INFERQ_STALLED_INTERVAL_MS: '1000' };
const LIGHT = { model: 'fraud-risk', features: SAFE_TRANSACTION };
const heavy = () => ({ model: 'wide-mlp', inputs: wideMlpInput(64) });
/** Bound on waiting for accepted jobs to settle: past it, a job that has not is counted lost. */
const SETTLE_BOUND_MS = 150_000;

export interface Scenario {
  name: string;
  /** What is injected, for the README table. */
  fault: string;
  run(profile: Profile): Promise<Figures>;
}

const withHook = (receiver: Receiver) => (i: number) => ({ ...LIGHT, features: { ...SAFE_TRANSACTION, amount: 1 + (i % 5000) }, webhook: { url: receiver.url, events: ['job.succeeded', 'job.failed'] } });

/** Runs `body` against a fresh cluster and a healthy webhook receiver, both stopped afterwards. */
async function withClusterAndReceiver<T>(options: Parameters<typeof startCluster>[0], body: (cluster: Cluster, receiver: Receiver) => Promise<T>): Promise<T> {
  const receiver = await Receiver.start();
  const cluster = await startCluster(options);
  try {
    return await body(cluster, receiver);
  } finally {
    await cluster.stop();
    await receiver.close();
  }
}

/** Settles the accepted jobs, then waits (bounded) for their final webhooks; the common figures. */
async function outcome(cluster: Cluster, tally: Tally, receiver: Receiver | undefined, scenario: string, recovery: number | null, extra: Record<string, unknown> = {}, webhookBoundMs = 30_000): Promise<Figures> {
  const settled = await settle(cluster.base, tally.accepted, SETTLE_BOUND_MS);
  let webhooksMissing: number | undefined;
  if (receiver) {
    const finished = tally.accepted.filter((id) => !settled.lost.includes(id));
    await until(() => receiver.missing(finished).length === 0, webhookBoundMs, 250);
    webhooksMissing = receiver.missing(finished).length;
  }
  const logs = settled.lost.length > 0 || (webhooksMissing ?? 0) > 0 ? keepLogs(cluster, scenario) : undefined;
  return {
    scenario,
    accepted: tally.accepted.length,
    succeeded: settled.succeeded,
    failed: settled.failed,
    lost: settled.lost.length,
    duplicated: receiver?.duplicated() ?? 0,
    recovery_s: recovery,
    settle_s: settled.settle_s,
    ...(Object.keys(settled.codes).length > 0 ? { failed_codes: settled.codes } : {}),
    ...(webhooksMissing !== undefined ? { webhooks_missing: webhooksMissing } : {}),
    refused: tally.refusals(),
    ...(settled.lost.length > 0 ? { lost_ids: settled.lost.slice(0, 5) } : {}),
    ...(logs ? { logs } : {}),
    ...extra,
  };
}

/** Every process's log lines in one file, for a scenario that found a problem; returns its path. */
function keepLogs(cluster: Cluster, scenario: string): string {
  const file = path.join(tempDir(scenario), 'processes.log');
  writeFileSync(file, [cluster.api, ...cluster.workers].flatMap((p) => p.lines.map((l) => `${p.kind}[${p.child.pid}] ${l}`)).join('\n'));
  return file;
}

/** Kills `kills` workers (SIGKILL, one at a time, each replaced at once) while jobs stream in. */
function workerKill(variant: 'short-locks' | 'default-locks'): Scenario {
  return {
    name: `worker-sigkill-${variant}`,
    fault:
      variant === 'short-locks'
        ? 'SIGKILL a worker under load, repeatedly (two workers, lock 2 s, stall check 1 s), each replaced at once'
        : 'SIGKILL a worker once under load with the default 30 s lock and stall check; the other serves on',
    run(profile) {
      return withClusterAndReceiver({ workers: 2, env: variant === 'short-locks' ? FAST_LOCKS : {}, workerEnv: { INFERQ_MODELS: 'fraud-risk' } }, async (cluster, receiver) => {
        const jobs = variant === 'short-locks' ? (profile === 'short' ? 1000 : 5000) : profile === 'short' ? 600 : 2000;
        const kills = variant === 'short-locks' ? (profile === 'short' ? 2 : 10) : 1;
        const tally = new Tally();
        const load = submitLoad(cluster.base, jobs, 16, withHook(receiver), tally);
        let lastKill = Date.now();
        for (let k = 0; k < kills; k++) {
          await until(() => tally.accepted.length >= ((k + 1) * jobs) / (kills + 2), 60_000);
          const victim = cluster.workers.splice(k % cluster.workers.length, 1)[0];
          victim?.child.kill('SIGKILL');
          await victim?.exited;
          lastKill = Date.now();
          // The default-locks variant keeps the victim down: its jobs wait for their lock to expire.
          if (variant === 'short-locks') await cluster.addWorker();
        }
        await load;
        const sinceKill = (Date.now() - lastKill) / 1000;
        // A delivery or bundle the victim held is taken over once its lock expires and a stall check sees it: up to twice the lock.
        const figures = await outcome(cluster, tally, receiver, `worker-sigkill-${variant}`, null, { kills }, variant === 'short-locks' ? 30_000 : 90_000);
        // From the last kill until every accepted job had settled.
        figures.recovery_s = round(sinceKill + Number(figures.settle_s));
        return figures;
      });
    },
  };
}

const rollingRestart: Scenario = {
  name: 'worker-sigterm-rolling',
  fault: 'SIGTERM rolling restart of both workers under continuous load',
  run(profile) {
    return withClusterAndReceiver({ workers: 2, workerEnv: { INFERQ_MODELS: 'fraud-risk' } }, async (cluster, receiver) => {
      const tally = new Tally();
      const load = continuousLoad(cluster.base, 8, withHook(receiver), tally, 5);
      const rounds = profile === 'short' ? 1 : 3;
      for (let r = 0; r < rounds; r++) {
        for (let i = 0; i < 2; i++) {
          await sleep(1000);
          const old = cluster.workers.shift();
          await old?.stop('SIGTERM');
          await cluster.addWorker();
        }
      }
      await sleep(1000);
      await load.stop();
      return outcome(cluster, tally, receiver, 'worker-sigterm-rolling', null, { restarts: rounds * 2 });
    });
  },
};

/** A Redis fault in the middle of continuous load: `inject` starts it, `heal` ends it. */
async function redisFault(name: string, profile: Profile, options: { appendOnly: boolean; inject(cluster: Cluster): Promise<void>; heal(cluster: Cluster): Promise<void>; faultMs: number; during?: (cluster: Cluster) => Promise<Record<string, unknown>> }): Promise<Figures> {
  return withClusterAndReceiver({ workers: 2, appendOnly: options.appendOnly, env: FAST_LOCKS, workerEnv: { INFERQ_MODELS: 'fraud-risk' } }, async (cluster, receiver) => {
    const tally = new Tally();
    const load = continuousLoad(cluster.base, 8, withHook(receiver), tally, 5);
    await sleep(1500);
    await options.inject(cluster);
    const observed = options.during ? await options.during(cluster) : {};
    await sleep(Math.max(0, options.faultMs));
    await options.heal(cluster);
    const healed = Date.now();
    const recovery = await timeToServe(cluster.base, LIGHT, healed, 60_000);
    await sleep(profile === 'short' ? 1000 : 3000);
    await load.stop();
    // Submits answered SUBMIT_OUTCOME_UNKNOWN: how many of their jobs exist after all.
    const unknownStored = (await Promise.all(tally.unknown.map((id) => call(cluster.base, 'GET', `/v1/jobs/${id}`)))).filter((r) => r.status === 200).length;
    return outcome(cluster, tally, receiver, name, recovery, { outcome_unknown: tally.unknown.length, outcome_unknown_stored: unknownStored, ...observed });
  });
}

const redisKill: Scenario = {
  name: 'redis-kill9-aof',
  fault: 'Redis kill -9 (appendonly yes) under load, restarted 1 s later on the same data',
  run: (profile) =>
    redisFault('redis-kill9-aof', profile, {
      appendOnly: true,
      faultMs: 1000,
      inject: (c) => c.redis.kill('SIGKILL'),
      heal: (c) => c.redis.launch(),
    }),
};

const redisPause: Scenario = {
  name: 'redis-pause',
  fault: 'Redis paused (SIGSTOP) under load, then resumed (SIGCONT)',
  run: (profile) =>
    redisFault('redis-pause', profile, {
      appendOnly: false,
      faultMs: profile === 'short' ? 3000 : 10_000,
      inject: async (c) => c.redis.signal('SIGSTOP'),
      heal: async (c) => c.redis.signal('SIGCONT'),
    }),
};

const redisOutage: Scenario = {
  name: 'redis-outage',
  fault: 'Redis stopped (appendonly yes) under load, started again after the outage',
  run: (profile) =>
    redisFault('redis-outage', profile, {
      appendOnly: true,
      faultMs: profile === 'short' ? 5000 : 30_000,
      inject: (c) => c.redis.kill('SIGTERM'),
      heal: (c) => c.redis.launch(),
    }),
};

const redisFull: Scenario = {
  name: 'redis-full',
  fault: 'Redis at maxmemory (noeviction) under load, memory freed after the fault',
  run(profile) {
    let admin: ReturnType<RedisProcess['client']> | undefined;
    return redisFault('redis-full', profile, {
      appendOnly: false,
      faultMs: profile === 'short' ? 3000 : 10_000,
      async inject(c) {
        admin = c.redis.client();
        const used = Number(/^used_memory:(\d+)/m.exec(await admin.info('memory'))?.[1]);
        await admin.config('SET', 'maxmemory', String(used + 2 * 1024 * 1024));
        await admin.setrange('faults:filler', 16 * 1024 * 1024, 'x');
      },
      async during(c) {
        await sleep(1500);
        const ready = await call(c.base, 'GET', '/readyz');
        return { readyz_while_full: ready.status };
      },
      async heal() {
        await admin?.del('faults:filler');
        await admin?.config('SET', 'maxmemory', '0');
        admin?.disconnect();
      },
    });
  },
};

const wrongEviction: Scenario = {
  name: 'redis-wrong-eviction-policy',
  fault: 'Redis with maxmemory-policy allkeys-lru: API and worker must refuse to start, saying how to fix it',
  async run() {
    const redis = await RedisProcess.start({ policy: 'allkeys-lru' });
    try {
      const env = { REDIS_URL: redis.url, PORT: '0', INFERQ_MODELS: 'fraud-risk' };
      const results: Record<string, unknown> = {};
      let refusedBoth = true;
      for (const kind of ['api', 'worker'] as const) {
        const service = await startService(kind, { env, waitReady: false });
        const exit = await Promise.race([service.exited, sleep(60_000).then(() => 'still running')]);
        const said = service.lines.some((l) => l.includes('noeviction'));
        if (exit === 'still running') await service.stop('SIGKILL');
        results[`${kind}_exit`] = exit;
        refusedBoth &&= exit !== 'still running' && exit !== 0 && said;
      }
      return { scenario: this.name, accepted: 0, succeeded: 0, failed: 0, lost: 0, duplicated: 0, recovery_s: null, refused_to_start: refusedBoth, ...results };
    } finally {
      await redis.kill('SIGKILL');
    }
  },
};

function overload(mix: 'light' | 'heavy'): Scenario {
  return {
    name: `overload-${mix}`,
    fault: mix === 'light' ? 'Many connections submitting light jobs as fast as they can' : 'Many connections, a quarter sending 64-row wide-mlp jobs',
    async run(profile) {
      const cluster = await startCluster({ workers: 1, env: { INFERQ_MAX_QUEUE_DEPTH: '2000' }, workerEnv: { INFERQ_MODELS: 'fraud-risk,wide-mlp' } });
      try {
        const connections = profile === 'short' ? 400 : 2000;
        const seconds = profile === 'short' ? 6 : 20;
        const tally = new Tally();
        const load = continuousLoad(cluster.base, connections, (i) => (mix === 'heavy' && i % 4 === 0 ? heavy() : LIGHT), tally);
        const probes: (number | null)[] = [];
        let rss = 0;
        const end = Date.now() + seconds * 1000;
        while (Date.now() < end) {
          probes.push(await probeNewConnection(cluster.base, '/healthz', 5000));
          rss = Math.max(rss, rssMiB(cluster.api.child.pid));
          await sleep(200);
        }
        await load.stop();
        const answered = probes.filter((p): p is number => p !== null);
        return await outcome(cluster, tally, undefined, this.name, null, {
          connections,
          health_probes: probes.length,
          health_failed: probes.length - answered.length,
          health_p99_ms: percentile(answered, 99),
          health_max_ms: answered.length > 0 ? round(Math.max(...answered), 0) : null,
          api_rss_max_mib: rss,
        });
      } finally {
        await cluster.stop();
      }
    },
  };
}

const scheduleTickKill: Scenario = {
  name: 'schedule-tick-worker-kill',
  fault: 'SIGKILL the worker running a schedule tick (two replicas), restarted at once',
  async run(profile) {
    const dir = tempDir('schedule');
    mkdirSync(path.join(dir, 'in'));
    mkdirSync(path.join(dir, 'out'));
    const rows = profile === 'short' ? 10_000 : 50_000;
    writeFileSync(path.join(dir, 'in', 'rows.ndjson'), `${Array.from({ length: rows }, (_, i) => JSON.stringify({ id: i, features: { ...SAFE_TRANSACTION, amount: 1 + (i % 5000) } })).join('\n')}\n`);
    const cluster = await startCluster({ workers: 2, env: { ...FAST_LOCKS, INFERQ_BATCH_CHUNK_ROWS: '256' }, workerEnv: { INFERQ_MODELS: 'fraud-risk' } });
    try {
      // Once a minute, at a second a little ahead: the tick fires once while the scenario runs.
      const second = (new Date().getUTCSeconds() + 3) % 60;
      const put = await call(cluster.base, 'PUT', '/v1/schedules/faults', { cron: `${second} * * * * *`, model: 'fraud-risk', input: path.join(dir, 'in'), output: path.join(dir, 'out') });
      if (put.status !== 200) throw new Error(`schedule not created: ${JSON.stringify(put.body)}`);
      const holder = () => cluster.workers.find((w) => w.lines.some((l) => l.includes('"msg":"schedule tick started"')));
      if (!(await until(() => holder() !== undefined, 70_000))) throw new Error('no tick started');
      await sleep(300);
      const victim = holder();
      victim?.child.kill('SIGKILL');
      await victim?.exited;
      const killedAt = Date.now();
      cluster.workers.splice(cluster.workers.indexOf(victim as never), 1);
      await cluster.addWorker();
      await call(cluster.base, 'DELETE', '/v1/schedules/faults');
      const written = await until(() => readdirSync(path.join(dir, 'out')).length > 0, SETTLE_BOUND_MS, 250);
      const recovery = written ? round((Date.now() - killedAt) / 1000) : null;
      await sleep(500);
      const lines = written ? readFileSync(path.join(dir, 'out', readdirSync(path.join(dir, 'out'))[0] as string), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { error?: { code: string } }) : [];
      const failedRows = lines.filter((l) => l.error).length;
      const unavailable = lines.filter((l) => l.error?.code === 'MODEL_VERSION_UNAVAILABLE').length;
      const admin = cluster.redis.client();
      let receiving = 0;
      for (const key of await admin.keys('inferq:batch:*')) {
        if ((await admin.type(key)) === 'hash' && (await admin.hget(key, 'status')) === 'receiving') receiving += 1;
      }
      admin.disconnect();
      return {
        scenario: this.name,
        accepted: rows,
        succeeded: lines.length - failedRows,
        failed: failedRows,
        lost: rows - lines.length,
        duplicated: 0,
        recovery_s: recovery,
        rows_model_version_unavailable: unavailable,
        batches_left_receiving: receiving,
        output_files: readdirSync(path.join(dir, 'out')).length,
      };
    } finally {
      await cluster.stop();
    }
  },
};

const webhookFailures: Scenario = {
  name: 'webhook-receivers-fail',
  fault: 'Receivers that answer 500 twice, hang past the timeout once, or refuse connections',
  async run(profile) {
    const flaky = await Receiver.start((attempt) => (attempt <= 2 ? 500 : 200));
    const slow = await Receiver.start((attempt) => (attempt === 1 ? 'hang' : 200));
    const dead = await Receiver.start();
    const deadUrl = dead.url;
    await dead.close();
    const cluster = await startCluster({ workers: 1, env: { INFERQ_WEBHOOK_RETRY_SCHEDULE: '0,1,1,1', INFERQ_WEBHOOK_TIMEOUT_MS: '1000' }, workerEnv: { INFERQ_MODELS: 'fraud-risk' } });
    try {
      const perReceiver = profile === 'short' ? 100 : 500;
      const tallies = [new Tally(), new Tally(), new Tally()];
      const urls = [flaky.url, slow.url, deadUrl];
      await Promise.all(urls.map((url, r) => submitLoad(cluster.base, perReceiver, 6, () => ({ ...LIGHT, webhook: { url, events: ['job.succeeded', 'job.failed'] } }), tallies[r] as Tally)));
      const accepted = tallies.flatMap((t) => t.accepted);
      const settled = await settle(cluster.base, accepted, SETTLE_BOUND_MS);
      const [toFlaky, toSlow] = tallies.map((t) => t.accepted) as [string[], string[]];
      await until(() => flaky.missing(toFlaky).length === 0 && slow.missing(toSlow).length === 0, 60_000, 250);
      return {
        scenario: this.name,
        accepted: accepted.length,
        succeeded: settled.succeeded,
        failed: settled.failed,
        lost: settled.lost.length,
        duplicated: flaky.duplicated() + slow.duplicated(),
        recovery_s: null,
        settle_s: settled.settle_s,
        webhooks_missing: flaky.missing(toFlaky).length + slow.missing(toSlow).length,
        flaky_attempts: flaky.deliveries,
        slow_attempts: slow.deliveries,
      };
    } finally {
      await cluster.stop();
      await flaky.close();
      await slow.close();
    }
  },
};

export const SCENARIOS: Scenario[] = [
  workerKill('short-locks'),
  workerKill('default-locks'),
  rollingRestart,
  redisKill,
  redisPause,
  redisOutage,
  redisFull,
  wrongEviction,
  overload('light'),
  overload('heavy'),
  scheduleTickKill,
  webhookFailures,
];

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { type LocalRedis, startLocalRedis } from './local-redis.ts';

export interface LocalRedisCluster {
  /** `redis-cluster://127.0.0.1:<port>,127.0.0.1:<port>,...`: what REDIS_URL takes for a cluster. */
  url: string;
  /** One per master, in slot order (the first holds slot 0). */
  nodes: LocalRedis[];
  stop(): Promise<void>;
}

function run(command: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(output) : reject(new Error(`${command} exited with ${code}: ${output}`))));
  });
}

/**
 * A Redis Cluster of `masters` redis-servers on loopback (no replicas), joined with
 * `redis-cli --cluster create`, for the tests and benches that run inferq against a cluster.
 * Resolves once every node reports `cluster_state:ok`.
 */
export async function startLocalRedisCluster(masters = 3): Promise<LocalRedisCluster> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'inferq-cluster-'));
  const nodes: LocalRedis[] = [];
  try {
    for (let i = 0; i < masters; i++) {
      nodes.push(
        await startLocalRedis({
          extraArgs: ['--cluster-enabled', 'yes', '--cluster-config-file', path.join(dir, `nodes-${i}.conf`), '--cluster-node-timeout', '5000', '--dir', dir],
        }),
      );
    }
    await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes']);
    const deadline = Date.now() + 20_000;
    for (const node of nodes) {
      const probe = new Redis(node.url, { maxRetriesPerRequest: 1 });
      try {
        while (!/cluster_state:ok/.test(String(await probe.cluster('INFO')))) {
          if (Date.now() > deadline) throw new Error(`cluster node ${node.port} never reached cluster_state:ok`);
          await new Promise((r) => setTimeout(r, 100));
        }
      } finally {
        probe.disconnect();
      }
    }
  } catch (error) {
    await Promise.all(nodes.map((n) => n.stop()));
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url: `redis-cluster://${nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`,
    nodes,
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Where Redis is: one server, or the seed nodes of a Redis Cluster (the rest are discovered). */
export type RedisTarget =
  | { kind: 'standalone'; url: string }
  | { kind: 'cluster'; nodes: { host: string; port: number }[]; username?: string; password?: string; tls: boolean };

const CLUSTER_URL = /^(rediss?)-cluster:\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/?#@]+)\/?$/;

/**
 * `redis://` and `rediss://` name one server; `redis-cluster://[user:password@]host:port,host:port`
 * (or `rediss-cluster://` for TLS) names seed nodes of a Redis Cluster. Undefined: not a URL
 * inferq can connect to.
 */
export function parseRedisTarget(url: string): RedisTarget | undefined {
  if (/^rediss?:\/\//.test(url)) return { kind: 'standalone', url };
  const match = CLUSTER_URL.exec(url);
  if (!match?.[4]) return undefined;
  const nodes: { host: string; port: number }[] = [];
  for (const part of match[4].split(',')) {
    const node = /^([^:,\s]+)(?::(\d{1,5}))?$/.exec(part.trim());
    if (!node?.[1]) return undefined;
    const port = node[2] === undefined ? 6379 : Number(node[2]);
    if (port < 1 || port > 65535) return undefined;
    nodes.push({ host: node[1], port });
  }
  const decode = (text: string | undefined) => (text ? decodeURIComponent(text) : undefined);
  return {
    kind: 'cluster',
    nodes,
    tls: match[1] === 'rediss',
    ...(decode(match[2]) ? { username: decode(match[2]) } : {}),
    ...(decode(match[3]) ? { password: decode(match[3]) } : {}),
  };
}

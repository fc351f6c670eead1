import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ProxiedRequest {
  method: string;
  path: string;
  /** The backend that answered. */
  backend: string;
  lastEventId: string | undefined;
}

export interface RoundRobinProxy {
  url: string;
  /** Every request a backend answered, in order. */
  requests: ProxiedRequest[];
  close(): Promise<void>;
}

/**
 * A load balancer for tests: each request goes to the next backend in turn, or to the one after
 * when a backend refuses the connection (it was stopped). Responses are streamed through, so a
 * Server-Sent Event stream ends when its backend ends it.
 */
export async function startRoundRobinProxy(backends: string[]): Promise<RoundRobinProxy> {
  let turn = 0;
  const requests: ProxiedRequest[] = [];
  const server = http.createServer((req, res) => {
    const order = backends.map((_, i) => backends[(turn + i) % backends.length] as string);
    turn = (turn + 1) % backends.length;
    const body: Buffer[] = [];
    req.on('data', (chunk: Buffer) => body.push(chunk));
    req.on('end', () => attempt(0));
    const attempt = (index: number) => {
      const backend = new URL(order[index] as string);
      const upstream = http.request({ host: backend.hostname, port: backend.port, method: req.method, path: req.url, headers: req.headers, agent: false }, (answer) => {
        requests.push({ method: req.method ?? 'GET', path: req.url ?? '', backend: order[index] as string, lastEventId: req.headers['last-event-id'] as string | undefined });
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      upstream.on('error', (error: NodeJS.ErrnoException) => {
        if (!res.headersSent && error.code === 'ECONNREFUSED' && index + 1 < order.length) return attempt(index + 1);
        res.destroy();
      });
      res.on('close', () => upstream.destroy());
      upstream.end(Buffer.concat(body));
    };
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

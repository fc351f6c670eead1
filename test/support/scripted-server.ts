import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** The answer to request number `index` (0-based, counted over the whole server). */
export type Script = (req: IncomingMessage, res: ServerResponse, index: number, seen: SeenRequest) => void | Promise<void>;

export interface ScriptedServer {
  baseUrl: string;
  requests: SeenRequest[];
  /** Connections the client closed before the server ended its response. */
  closedByClient: number;
  close(): Promise<void>;
}

/**
 * A real HTTP server on 127.0.0.1 that answers by script, for the client's behaviour on answers a
 * running inferq does not give on demand (a 503, a dropped event stream, a held-connection cap).
 */
export async function startScriptedServer(script: Script): Promise<ScriptedServer> {
  const requests: SeenRequest[] = [];
  const state = { closedByClient: 0 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      requests.push(seen);
      res.on('close', () => {
        if (!res.writableEnded) state.closedByClient++;
      });
      void script(req, res, requests.length - 1, seen);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    get closedByClient() {
      return state.closedByClient;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

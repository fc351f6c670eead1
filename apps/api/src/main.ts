import { serve } from '@hono/node-server';
import { ConfigError } from '@inferq/core/config';
import { CONFIG_EXIT_CODE, configureProcess } from '@inferq/core/process-start';
import { startApiService, type ApiService } from './api-service.ts';

const { config, logger } = configureProcess('api');

let service: ApiService;
try {
  service = await startApiService(config, logger);
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(CONFIG_EXIT_CODE);
  }
  logger.fatal({ err: error }, `api could not start: ${(error as Error).message}`);
  process.exit(1);
}

const server = serve({ fetch: service.app.fetch, port: config.port, hostname: config.host }, (info) => {
  logger.info({ url: `http://${info.address.includes(':') ? `[${info.address}]` : info.address}:${info.port}` }, 'api listening');
});
// A port in use (or not ours to bind) is a setting to change, not a crash: one line, no stack.
server.once('error', (error: NodeJS.ErrnoException) => {
  const where = `${config.host}:${config.port}`;
  if (error.code === 'EADDRINUSE' || error.code === 'EACCES' || error.code === 'EADDRNOTAVAIL') {
    const why = error.code === 'EADDRINUSE' ? 'is already in use' : error.code === 'EACCES' ? 'may not be bound by this user' : 'is not an address of this machine';
    console.error(`inferq api: cannot listen on ${where}: it ${why} (${error.code}); set PORT (or HOST) to another value`);
    process.exit(CONFIG_EXIT_CODE);
  }
  logger.fatal({ err: error }, `api cannot listen on ${where}: ${error.message}`);
  process.exit(1);
});

let stopping = false;
function shutdown(signal: string): void {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'stopping');
  const forced = setTimeout(() => process.exit(1), config.shutdownTimeoutMs);
  forced.unref();
  // Stop accepting, answer held long-polls and idle keep-alive sockets now; Redis closes last,
  // once the requests in flight have been answered.
  server.close(async () => {
    await service.close();
    process.exit(0);
  });
  service.releaseLongPolls();
  // Sockets go idle as their last responses are written: keep closing them until the server closes.
  const http = server as import('node:http').Server;
  http.closeIdleConnections();
  setInterval(() => http.closeIdleConnections(), 50).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

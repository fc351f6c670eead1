import { serve } from '@hono/node-server';
import { configureProcess } from '@inferq/core/process-start';
import { startApiService, type ApiService } from './api-service.ts';

const { config, logger } = configureProcess('api');

let service: ApiService;
try {
  service = await startApiService(config, logger);
} catch (error) {
  logger.fatal({ err: error }, `api could not start: ${(error as Error).message}`);
  process.exit(1);
}

const server = serve({ fetch: service.app.fetch, port: config.port, hostname: config.host }, (info) => {
  logger.info({ url: `http://${info.address.includes(':') ? `[${info.address}]` : info.address}:${info.port}` }, 'api listening');
});

let stopping = false;
function shutdown(signal: string): void {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'stopping');
  const forced = setTimeout(() => process.exit(1), config.shutdownTimeoutMs);
  forced.unref();
  server.close(async () => {
    await service.close();
    process.exit(0);
  });
  // Held long-polls end now rather than keeping the server open for their full wait.
  void service.close();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

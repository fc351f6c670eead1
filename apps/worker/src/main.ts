import { ConfigError } from '@inferq/core/config';
import { CONFIG_EXIT_CODE, configureProcess } from '@inferq/core/process-start';
import { startWorkerService, type WorkerService } from './worker-service.ts';

const { config, logger } = configureProcess('worker');

// Registered before start-up, so a SIGTERM that arrives while models load still exits 0 (nothing is in flight yet).
let service: WorkerService | undefined;
let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'stopping: no new jobs, finishing in-flight batches');
  const forced = setTimeout(() => {
    logger.error('in-flight batches did not finish in time; exiting (their jobs will be retried by another worker)');
    process.exit(1);
  }, config.shutdownTimeoutMs);
  forced.unref();
  await service?.stop();
  logger.info('worker stopped');
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

try {
  service = await startWorkerService(config, logger);
  logger.info({ worker_id: service.workerId }, 'worker started');
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(CONFIG_EXIT_CODE);
  }
  logger.fatal({ err: error }, `worker could not start: ${(error as Error).message}`);
  process.exit(1);
}

import { ConfigError, loadConfig, type Config } from './config.ts';
import { createLogger, type Logger } from './logger.ts';

/**
 * The first lines of every inferq process: configuration validated (exit 2 naming each bad
 * variable), then the process's root logger, bound to its service name.
 */
export function configureProcess(service: 'api' | 'worker'): { config: Config; logger: Logger } {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    console.error(error instanceof ConfigError ? error.message : error);
    process.exit(2);
  }
  return { config, logger: createLogger({ level: config.logLevel, pretty: config.logPretty, bindings: { service } }) };
}

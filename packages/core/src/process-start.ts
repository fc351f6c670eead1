import { ConfigError, loadConfig, type Config } from './config.ts';
import { createLogger, type Logger } from './logger.ts';

/** Exit status of a process stopped by its settings: a bad variable, bad API keys, a port in use. */
export const CONFIG_EXIT_CODE = 2;

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
    process.exit(CONFIG_EXIT_CODE);
  }
  return { config, logger: createLogger({ level: config.logLevel, pretty: config.logPretty, bindings: { service } }) };
}

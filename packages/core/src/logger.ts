import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

export interface LoggerOptions {
  /** pino level. Default: 'info'. */
  level?: string;
  /** Human-readable output through pino-pretty (a dev dependency). Default: false (JSON lines). */
  pretty?: boolean;
  /** Bound to every line, e.g. `{ service: 'worker', worker_id }`. */
  bindings?: Record<string, unknown>;
  /** Where JSON lines go (tests capture them). Default: stdout. Ignored when pretty. */
  destination?: DestinationStream;
}

/**
 * Fields whose values never reach the logs, wherever a component logs them: Authorization
 * headers, API and admin keys, webhook signing secrets, Redis URLs (they may hold a password),
 * as settings (the config object, top-level or nested once) or as environment variables.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'authorization',
  '*.authorization',
  'redisUrl',
  '*.redisUrl',
  'secret',
  '*.secret',
  'secrets',
  '*.secrets',
  'webhookSecrets',
  '*.webhookSecrets',
  'apiKeys',
  '*.apiKeys',
  'adminKeys',
  '*.adminKeys',
  'INFERQ_API_KEYS',
  '*.INFERQ_API_KEYS',
  'INFERQ_ADMIN_KEYS',
  '*.INFERQ_ADMIN_KEYS',
  'INFERQ_WEBHOOK_SECRET',
  '*.INFERQ_WEBHOOK_SECRET',
  'REDIS_URL',
  '*.REDIS_URL',
];

/** One root logger per process; components take `.child({ ... })` scoped by worker, model and job. */
export function createLogger(options: LoggerOptions = {}): Logger {
  return pino({
    level: options.level ?? 'info',
    base: { pid: process.pid, ...options.bindings },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Credentials never reach the logs, whichever component logs a request or a connection.
    redact: {
      paths: REDACTED_PATHS,
      censor: '[redacted]',
    },
    ...(options.pretty ? { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } } } : {}),
  }, ...(options.destination && !options.pretty ? [options.destination] : []));
}

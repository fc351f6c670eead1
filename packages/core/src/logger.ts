import { pino, type Logger } from 'pino';

export type { Logger };

export interface LoggerOptions {
  /** pino level. Default: 'info'. */
  level?: string;
  /** Human-readable output through pino-pretty (a dev dependency). Default: false (JSON lines). */
  pretty?: boolean;
  /** Bound to every line, e.g. `{ service: 'worker', worker_id }`. */
  bindings?: Record<string, unknown>;
}

/** One root logger per process; components take `.child({ ... })` scoped by worker, model and job. */
export function createLogger(options: LoggerOptions = {}): Logger {
  return pino({
    level: options.level ?? 'info',
    base: { pid: process.pid, ...options.bindings },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Credentials never reach the logs, whichever component logs a request or a connection.
    redact: {
      paths: ['req.headers.authorization', 'headers.authorization', 'redisUrl', '*.redisUrl', 'secret', '*.secret'],
      censor: '[redacted]',
    },
    ...(options.pretty ? { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } } } : {}),
  });
}

import { InferqError } from '@inferq/core/errors';

/** `?wait=SECONDS` of a long-poll: absent means 0, anything above the configured maximum is capped. */
export function parseWait(raw: string | undefined, max: number): number {
  if (raw === undefined || raw === '') return 0;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw new InferqError('INVALID_QUERY', `wait must be a number of seconds between 0 and ${max}`, { details: { wait: raw } });
  }
  return Math.min(seconds, max);
}

/**
 * The `wait=SECONDS` preference of a `Prefer` header (RFC 7240, e.g. `Prefer: wait=10`), capped
 * at `max`; 0 when absent. A preference the server cannot read is ignored, as the RFC asks.
 */
export function preferredWait(header: string | undefined, max: number): number {
  if (!header) return 0;
  for (const preference of header.split(',')) {
    const match = /^\s*wait\s*=\s*"?(\d+(?:\.\d+)?)"?\s*(?:;.*)?$/i.exec(preference);
    if (match) return Math.min(Number(match[1]), max);
  }
  return 0;
}

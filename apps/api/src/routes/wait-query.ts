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

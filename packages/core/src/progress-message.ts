/**
 * The message published on `Keyspace.progressChannel()` when things move short of their end: one
 * id per line. A bundle's id says every request in it is now running (a request id names its
 * bundle, see job-id.ts); a batch's id says its counts or status changed. The message says only
 * what moved: a listener re-reads the state it reports, so a stream never shows a state that GET
 * would not.
 */
export function encodeProgress(ids: readonly string[]): string {
  return ids.join('\n');
}

export function decodeProgress(message: string): string[] {
  return message.split('\n').filter((id) => id.length > 0);
}

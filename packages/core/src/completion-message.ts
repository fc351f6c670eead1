/**
 * The message published on `Keyspace.jobsFinishedChannel()` when jobs or batches end: one line per
 * ended thing. A batch's line is its id; a job's line is its id, a tab, and its finished record as
 * stored (JSON never holds a raw tab or newline), so a long-poll held for it answers from the
 * message. The job store's result script writes job lines itself, in the same format.
 */
export interface CompletionEntry {
  id: string;
  /** The finished job's record as JSON; absent for batches. */
  record?: string;
}

export function encodeCompletion(entries: readonly CompletionEntry[]): string {
  return entries.map((e) => (e.record === undefined ? e.id : `${e.id}\t${e.record}`)).join('\n');
}

export function* decodeCompletion(message: string): Generator<CompletionEntry> {
  let start = 0;
  while (start < message.length) {
    let end = message.indexOf('\n', start);
    if (end === -1) end = message.length;
    const tab = message.indexOf('\t', start);
    if (tab !== -1 && tab < end) yield { id: message.slice(start, tab), record: message.slice(tab + 1, end) };
    else if (end > start) yield { id: message.slice(start, end) };
    start = end + 1;
  }
}

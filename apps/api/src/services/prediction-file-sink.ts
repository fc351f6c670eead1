import { mkdir, open, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Keyspace } from '@inferq/core/keyspace';
import type { Logger } from '@inferq/core/logger';
import type { Redis } from '@inferq/core/redis-connection';

export interface PredictionFileSinkOptions {
  redis: Redis;
  keys: Keyspace;
  /** Models whose logs are written. */
  models: () => string[];
  /** INFERQ_PREDICTION_LOG_DIR: one directory per model under it. */
  dir: string;
  /** INFERQ_PREDICTION_LOG_FILE_MAX_BYTES: past this, the hour's file goes on in a new part. */
  maxFileBytes: number;
  /** How often the streams are read. Default: 1000 ms. */
  intervalMs?: number;
  logger: Logger;
}

const READ_COUNT = 1000;

/** `predictions-2026120208` for an entry logged in that UTC hour. */
function hourStem(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `predictions-${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}`;
}

/**
 * Writes each model's prediction log as NDJSON files for teams that ship it to a warehouse: one
 * file per UTC hour the predictions were logged in (`predictions-YYYYMMDDHH.ndjson`), a new part
 * (`….1.ndjson`, `….2.ndjson`) once a file reaches the size limit. Each line is the record as
 * exported, without labels (they arrive later: the export API joins them). Where it got to is
 * kept in `<model>/.cursor`, written after the lines, so a restart goes on from there: a crash
 * between the two writes a few lines twice, never skips one. Run it in one process only.
 */
export class PredictionFileSink {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /** Per model: the file being written and its size. */
  private readonly current = new Map<string, { stem: string; part: number; bytes: number }>();

  constructor(private readonly options: PredictionFileSinkOptions) {}

  start(): void {
    this.timer = setInterval(() => void this.drain().catch((error: Error) => this.options.logger.warn({ err: error.message }, 'prediction files not written; retrying')), this.options.intervalMs ?? 1000);
    this.timer.unref();
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** Writes every entry logged since the last drain; returns how many. */
  async drain(): Promise<number> {
    if (this.running) return 0;
    let written = 0;
    this.running = (async () => {
      for (const model of this.options.models()) written += await this.drainModel(model);
    })();
    try {
      await this.running;
    } finally {
      this.running = undefined;
    }
    return written;
  }

  private async drainModel(model: string): Promise<number> {
    const dir = path.join(this.options.dir, model);
    await mkdir(dir, { recursive: true });
    const cursorFile = path.join(dir, '.cursor');
    let cursor = (await readFile(cursorFile, 'utf8').catch(() => '')).trim() || '-';
    let written = 0;
    for (;;) {
      const entries = (await this.options.redis.xrange(this.options.keys.predictions(model), cursor === '-' ? '-' : `(${cursor}`, '+', 'COUNT', READ_COUNT)) as [string, string[]][];
      if (entries.length === 0) break;
      // Lines grouped by the file they go to, in order.
      const byFile = new Map<string, string[]>();
      for (const [id, fields] of entries) {
        const ms = Number(id.slice(0, id.indexOf('-')));
        const record = fields[1] ?? '{}';
        const line = `${record.slice(0, -1)},"logged_at":"${new Date(ms).toISOString()}","cursor":"${id}"}\n`;
        const file = await this.fileFor(model, hourStem(ms), Buffer.byteLength(line));
        const lines = byFile.get(file) ?? [];
        lines.push(line);
        byFile.set(file, lines);
      }
      for (const [file, lines] of byFile) {
        const handle = await open(file, 'a');
        try {
          await handle.write(lines.join(''));
          await handle.sync();
        } finally {
          await handle.close();
        }
      }
      cursor = (entries.at(-1) as [string, string[]])[0];
      await writeFile(`${cursorFile}.tmp`, cursor);
      await rename(`${cursorFile}.tmp`, cursorFile);
      written += entries.length;
      if (entries.length < READ_COUNT) break;
    }
    return written;
  }

  /** The file a line of `bytes` logged in `stem`'s hour goes to: the hour's current part, or the next one when that is full. */
  private async fileFor(model: string, stem: string, bytes: number): Promise<string> {
    const name = (part: number) => path.join(this.options.dir, model, `${stem}${part > 0 ? `.${part}` : ''}.ndjson`);
    let state = this.current.get(model);
    if (!state || state.stem !== stem) {
      // After a restart, or at a new hour: find the hour's last part on disk.
      let part = 0;
      let size = await stat(name(0)).then((s) => s.size, () => -1);
      while (size >= 0) {
        const next = await stat(name(part + 1)).then((s) => s.size, () => -1);
        if (next < 0) break;
        part++;
        size = next;
      }
      state = { stem, part, bytes: Math.max(0, size) };
      this.current.set(model, state);
    }
    if (state.bytes > 0 && state.bytes + bytes > this.options.maxFileBytes) {
      state.part++;
      state.bytes = 0;
    }
    state.bytes += bytes;
    return name(state.part);
  }
}

import { readFile } from 'node:fs/promises';
import type { Queue } from 'bullmq';
import { z } from 'zod';
import { MODEL_NAME_PATTERN } from '@inferq/inference/manifest';

export const scheduleSchema = z.strictObject({
  /** Cron pattern, 5 fields, or 6 with seconds first. */
  cron: z.string().min(9).max(120),
  /** IANA time zone the pattern is read in. Default: UTC. */
  tz: z.string().min(1).max(64).default('UTC'),
  model: z.string().regex(MODEL_NAME_PATTERN),
  version: z.string().min(1).max(32).optional(),
  /** A file (.ndjson, .jsonl or .csv), or a folder whose such files are each scored, as the workers see it. */
  input: z.string().min(1),
  /** Folder the workers write `<input name>.<tick time>.scores.ndjson` into. */
  output: z.string().min(1),
  ttl_seconds: z.number().int().min(1).optional(),
});

/** What a scheduler job carries: the schedule, and the tenant its batches belong to (who defined it). */
export type ScheduledRun = Schedule & { tenant: string };
export type Schedule = z.infer<typeof scheduleSchema>;

export const SCHEDULE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export interface ScheduleView extends Schedule {
  name: string;
  next_run_at: string | null;
}

/** Schedules live in Redis as BullMQ job schedulers: any API process manages them, any worker runs them. */
export class ScheduleRegistry {
  constructor(private readonly queue: Queue<ScheduledRun>) {}

  async upsert(name: string, schedule: Schedule, tenant: string): Promise<ScheduleView> {
    const run: ScheduledRun = { ...schedule, tenant };
    await this.queue.upsertJobScheduler(name, { pattern: schedule.cron, tz: schedule.tz }, { name: 'tick', data: run, opts: { removeOnComplete: true, removeOnFail: 100 } });
    return (await this.get(name)) as ScheduleView;
  }

  async list(): Promise<ScheduleView[]> {
    const schedulers = await this.queue.getJobSchedulers(0, -1, true);
    return schedulers.map((s) => ({ name: s.key, ...(s.template?.data as Schedule), next_run_at: s.next ? new Date(s.next).toISOString() : null }));
  }

  async get(name: string): Promise<ScheduleView | undefined> {
    return (await this.list()).find((s) => s.name === name);
  }

  remove(name: string): Promise<boolean> {
    return this.queue.removeJobScheduler(name);
  }
}

/** Reads INFERQ_SCHEDULES_FILE: `{"<name>": {cron, tz?, model, version?, input, output}, ...}`. */
export async function readSchedulesFile(file: string): Promise<Map<string, Schedule>> {
  const raw = JSON.parse(await readFile(file, 'utf8')) as unknown;
  const parsed = z.record(z.string().regex(SCHEDULE_NAME_PATTERN), scheduleSchema).safeParse(raw);
  if (!parsed.success) {
    throw new Error(`${file}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return new Map(Object.entries(parsed.data));
}

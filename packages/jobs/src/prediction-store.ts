import type { FinishedStatus } from '@inferq/core/job-types';
import type { Keyspace } from '@inferq/core/keyspace';
import { NamedCommand } from '@inferq/core/named-command';
import { bucketExpiresAt, predictionBucket, predictionIdTime, type PredictionRecord } from '@inferq/core/prediction-record';
import type { Redis } from '@inferq/core/redis-connection';
import type { LabelledOutcome } from './prediction-quality.ts';

/**
 * Stores a label for a logged prediction, once. KEYS: the prediction's index hash, the labels
 * hash of its hour. ARGV: prediction id, tenant ('' for any), label JSON, labeled_at ms, expiry
 * (epoch ms). Returns {outcome, stream id, existing label}: `missing` (no such prediction, or
 * another tenant's), `stored`, `same` (that label is already there), `conflict` (another is).
 */
const STORE_LABEL = new NamedCommand(
  'inferqStoreLabel',
  `local entry = redis.call('HGET', KEYS[1], ARGV[1])
if not entry then return {'missing'} end
local space = string.find(entry, ' ', 1, true)
local streamId = string.sub(entry, 1, space - 1)
if ARGV[2] ~= '' and string.sub(entry, space + 1) ~= ARGV[2] then return {'missing'} end
local existing = redis.call('HGET', KEYS[2], ARGV[1])
if existing then
  local label = string.sub(existing, string.find(existing, ' ', 1, true) + 1)
  if label == ARGV[3] then return {'same', streamId, existing} end
  return {'conflict', streamId, existing}
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[4] .. ' ' .. ARGV[3])
redis.call('PEXPIREAT', KEYS[2], ARGV[5])
return {'stored', streamId}`,
  2,
);

/** A logged prediction as exported: its record, when it was logged, its cursor, and its label if one arrived. */
export interface ExportedPrediction extends PredictionRecord {
  logged_at: string;
  cursor: string;
  label?: unknown;
  labeled_at?: string;
}

export interface PredictionQuery {
  model: string;
  /** Only this tenant's predictions; undefined: every tenant's (admin). */
  tenant: string | undefined;
  version?: string | undefined;
  /** Epoch ms, inclusive. */
  since?: number | undefined;
  /** Epoch ms, inclusive. */
  until?: number | undefined;
  status?: FinishedStatus | undefined;
  hasLabel?: boolean | undefined;
  shadow?: boolean | undefined;
  /** The stream id after which to go on (exclusive). */
  cursor?: string | undefined;
  limit: number;
}

export interface PredictionPage {
  predictions: ExportedPrediction[];
  /** Where the next page starts: the last entry read (undefined when none was). */
  cursor: string | undefined;
  /** Whether more entries may follow before `until` (the page stopped at its limit or its read budget). */
  more: boolean;
}

/** Which prediction a label names. */
export type LabelTarget = { model: string; id: string } | { model: string; routingKey: string; at: number };

export type LabelOutcome =
  | { status: 'stored' | 'unchanged'; model: string; id: string; record: PredictionRecord | undefined; loggedAt: number }
  | { status: 'missing' }
  | { status: 'conflict'; id: string; existing: unknown; labeledAt: string };

/** A stored label: when it arrived and what it says. */
interface StoredLabel {
  label: unknown;
  labeled_at: string;
}

function decodeLabel(text: string): StoredLabel {
  const space = text.indexOf(' ');
  return { labeled_at: new Date(Number(text.slice(0, space))).toISOString(), label: JSON.parse(text.slice(space + 1)) as unknown };
}

const streamMs = (id: string) => Number(id.slice(0, id.indexOf('-')));

/** The id a prediction's label is filed under: a shadow run shares its primary job's. */
export const labelIdOf = (record: PredictionRecord) => (record.shadow && record.job_id ? record.job_id : record.id);

/** Entries read per XRANGE, and most entries one page reads for every prediction it returns. */
const READ_COUNT = 1000;
const READ_BUDGET_PER_RESULT = 50;

/**
 * Reads the prediction log (pages by stream id, filtered, labels joined), and stores labels and
 * the per-version quality and drift windows they feed. Writes of the log itself happen in the
 * job and batch stores' result scripts.
 */
export class PredictionStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keyspace,
    private readonly retentionMs: number,
    /** Labelled outcomes kept per version. */
    private readonly qualityWindow: number,
  ) {
    STORE_LABEL.define(redis);
  }

  /** One page of a model's log, oldest first, every filter applied and labels joined. */
  async page(query: PredictionQuery): Promise<PredictionPage> {
    const stream = this.keys.predictions(query.model);
    const end = query.until === undefined ? '+' : String(query.until);
    let start = query.cursor ? `(${query.cursor}` : query.since === undefined ? '-' : `${query.since}-0`;
    const budget = Math.max(READ_COUNT, query.limit * READ_BUDGET_PER_RESULT);
    const predictions: ExportedPrediction[] = [];
    let cursor = query.cursor;
    let read = 0;
    for (;;) {
      const entries = (await this.redis.xrange(stream, start, end, 'COUNT', READ_COUNT)) as [string, string[]][];
      const candidates: { id: string; record: PredictionRecord }[] = [];
      for (const [id, fields] of entries) {
        const record = JSON.parse(fields[1] ?? '{}') as PredictionRecord;
        if (this.matches(record, query)) candidates.push({ id, record });
      }
      const labels = await this.labelsOf(query.model, candidates.map((c) => c.record));
      let taken = entries.length;
      for (const [i, { id, record }] of candidates.entries()) {
        const label = labels[i];
        if (query.hasLabel !== undefined && query.hasLabel !== (label !== undefined)) continue;
        predictions.push({ ...record, logged_at: new Date(streamMs(id)).toISOString(), cursor: id, ...(label ? { label: label.label, labeled_at: label.labeled_at } : {}) });
        if (predictions.length >= query.limit) {
          taken = entries.findIndex(([entryId]) => entryId === id) + 1;
          break;
        }
      }
      read += taken;
      const last = entries[taken - 1];
      if (last) {
        cursor = last[0];
        start = `(${cursor}`;
      }
      const full = predictions.length >= query.limit;
      if (full || read >= budget) return { predictions, cursor, more: taken < entries.length || entries.length === READ_COUNT };
      if (entries.length < READ_COUNT) return { predictions, cursor, more: false };
    }
  }

  private matches(record: PredictionRecord, query: PredictionQuery): boolean {
    if (query.tenant !== undefined && record.tenant !== query.tenant) return false;
    if (query.version !== undefined && record.version !== query.version) return false;
    if (query.status !== undefined && record.status !== query.status) return false;
    if (query.shadow !== undefined && query.shadow !== (record.shadow === true)) return false;
    return true;
  }

  /** The labels of these predictions (undefined where none arrived), one HMGET per hour bucket. */
  private async labelsOf(model: string, records: readonly PredictionRecord[]): Promise<(StoredLabel | undefined)[]> {
    const byBucket = new Map<number, number[]>();
    records.forEach((record, i) => {
      const time = predictionIdTime(labelIdOf(record));
      if (time === undefined) return;
      const bucket = predictionBucket(time);
      const list = byBucket.get(bucket) ?? [];
      list.push(i);
      byBucket.set(bucket, list);
    });
    const labels: (StoredLabel | undefined)[] = new Array(records.length).fill(undefined);
    await Promise.all(
      [...byBucket].map(async ([bucket, indexes]) => {
        const values = await this.redis.hmget(this.keys.labels(model, bucket), ...indexes.map((i) => labelIdOf(records[i] as PredictionRecord)));
        values.forEach((v, k) => {
          if (v !== null) labels[indexes[k] as number] = decodeLabel(v);
        });
      }),
    );
    return labels;
  }

  /** The prediction a routing key and time name: of that key's predictions (within an hour either side), the one logged closest to `at`. */
  private async byRoutingKey(model: string, routingKey: string, at: number): Promise<string | undefined> {
    const bucket = predictionBucket(at);
    const prefix = `${routingKey}\u0000`;
    const members = (await Promise.all([bucket - 1, bucket, bucket + 1].map((b) => this.redis.zrangebylex(this.keys.predictionKeys(model, b), `[${prefix}`, `(${routingKey}\u0001`)))).flat();
    let best: { id: string; distance: number } | undefined;
    for (const member of members) {
      const [, streamId = '', id = ''] = member.split('\u0000');
      const distance = Math.abs(streamMs(streamId) - at);
      if (!best || distance < best.distance) best = { id, distance };
    }
    return best?.id;
  }

  /**
   * Stores a label for a prediction the log still holds (`tenant` undefined: any tenant's).
   * The same label again changes nothing; a different one is a conflict, and the first stays.
   * `check` sees the logged record first and may throw to refuse the label (e.g. not a class of
   * the model). A newly stored label of a classifier's prediction (`judge`) joins its version's
   * quality window.
   */
  async label(
    target: LabelTarget,
    label: unknown,
    tenant: string | undefined,
    judge: (record: PredictionRecord, loggedAt: number) => LabelledOutcome | undefined,
    check: (record: PredictionRecord) => void = () => undefined,
  ): Promise<LabelOutcome> {
    const id = 'id' in target ? target.id : await this.byRoutingKey(target.model, target.routingKey, target.at);
    const time = id === undefined ? undefined : predictionIdTime(id);
    if (id === undefined || time === undefined) return { status: 'missing' };
    const bucket = predictionBucket(time);
    const index = this.keys.predictionIndex(target.model, bucket);
    const indexed = await this.redis.hget(index, id);
    if (!indexed) return { status: 'missing' };
    const [streamId = '', owner] = indexed.split(' ');
    if (tenant !== undefined && owner !== tenant) return { status: 'missing' };
    const entries = (await this.redis.xrange(this.keys.predictions(target.model), streamId, streamId)) as [string, string[]][];
    const text = entries[0]?.[1][1];
    // Trimmed by length since it was indexed: the label is still kept, but there is no record to judge.
    const record = text ? (JSON.parse(text) as PredictionRecord) : undefined;
    if (record) check(record);
    const now = Date.now();
    const reply = (await STORE_LABEL.run(this.redis, index, this.keys.labels(target.model, bucket), id, tenant ?? '', JSON.stringify(label), now, bucketExpiresAt(bucket, this.retentionMs))) as string[];
    const [result, , existing] = reply;
    if (result === 'missing') return { status: 'missing' };
    if (result === 'conflict') {
      const stored = decodeLabel(existing as string);
      return { status: 'conflict', id, existing: stored.label, labeledAt: stored.labeled_at };
    }
    const loggedAt = streamMs(streamId);
    if (result === 'stored' && record) {
      const judged = judge(record, loggedAt);
      if (judged) {
        const key = this.keys.qualityOutcomes(target.model, record.version);
        await this.redis.multi().lpush(key, JSON.stringify(judged)).ltrim(key, 0, this.qualityWindow - 1).exec();
      }
    }
    return { status: result === 'stored' ? 'stored' : 'unchanged', model: target.model, id, record, loggedAt };
  }

  /** A version's labelled outcomes, newest first. */
  async outcomes(model: string, version: string): Promise<LabelledOutcome[]> {
    const values = await this.redis.lrange(this.keys.qualityOutcomes(model, version), 0, -1);
    return values.map((v) => JSON.parse(v) as LabelledOutcome);
  }

  /** A version's drift reference (its first predictions' feature rows) and its latest feature rows. */
  async driftSamples(model: string, version: string): Promise<{ reference: number[][]; recent: number[][] }> {
    const [reference, recent] = await Promise.all([this.redis.lrange(this.keys.driftReference(model, version), 0, -1), this.redis.lrange(this.keys.driftRecent(model, version), 0, -1)]);
    const parse = (rows: string[]) => rows.map((r) => JSON.parse(r) as number[]);
    return { reference: parse(reference), recent: parse(recent) };
  }

  /** Entries in a model's log and the bytes Redis holds for it (MEMORY USAGE, every node sampled). */
  async footprint(model: string): Promise<{ entries: number; bytes: number | null }> {
    const stream = this.keys.predictions(model);
    const [entries, bytes] = await Promise.all([this.redis.xlen(stream), this.redis.call('MEMORY', 'USAGE', stream, 'SAMPLES', '0') as Promise<number | null>]);
    return { entries, bytes };
  }
}

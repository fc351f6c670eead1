import type { Config } from './config.ts';
import type { Keyspace } from './keyspace.ts';
import { NamedCommand } from './named-command.ts';
import { bucketExpiresAt, predictionBucket, predictionIdTime } from './prediction-record.ts';

/** How the prediction log is bounded, and how much of each version's inputs drift is judged on. */
export interface PredictionLogLimits {
  /** Entries a model's stream keeps at most (trimmed approximately, `MAXLEN ~`). */
  maxLen: number;
  retentionMs: number;
  /** A version's first predictions kept as its drift reference (0: none kept). */
  driftReferenceSize: number;
  /** A version's latest predictions drift is judged on. */
  driftWindow: number;
}

/** One prediction to log, encoded. */
export interface PredictionLogEntry {
  model: string;
  version: string;
  /** The record's `id`. */
  id: string;
  tenant: string;
  routingKey?: string | undefined;
  /** The encoded PredictionRecord. */
  record: string;
  /** Indexed for labels (a shadow run is not: labels name the primary job). */
  labelled: boolean;
  /** The row's feature values in manifest order (JSON array), for drift; absent when the input is not one tabular row. */
  driftRow?: string | undefined;
}

const FIELDS_PER_ENTRY = 12;
/** Values one drift-list push carries at most (Lua's unpack refuses about 8,000). */
const PUSH_SLICE = 1000;

/**
 * Lua: logs the entries of a script's ARGV from `at` on (see PredictionLogArgs), each only if
 * `stored[owner]` is 1 (owner 0: always) and its id is not in its hour's index yet. Per entry: XADD to the model's stream (MAXLEN ~), the
 * prediction's id → "<stream id> <tenant>" in its hour's index hash, its routing key in the
 * hour's key index, and its features in the version's drift lists; then one XTRIM MINID ~ per
 * stream, so age bounds the log as well as length.
 */
export const LOG_PREDICTIONS_LUA = `
local function logPredictions(at, stored)
  local n = tonumber(ARGV[at])
  if not n or n == 0 then return end
  local maxLen, minId = ARGV[at + 1], ARGV[at + 2]
  local refSize, window = tonumber(ARGV[at + 3]), tonumber(ARGV[at + 4])
  local streams = {}
  -- Work on keys shared by the entries is done once per call, after the loop: expiries, and the
  -- drift lists' pushes and trims (one command per key, however many predictions).
  local expireAt = {}
  local references = {}
  local recents = {}
  for i = 0, n - 1 do
    local a = at + 5 + i * ${FIELDS_PER_ENTRY}
    local owner = tonumber(ARGV[a])
    local index = tonumber(ARGV[a + 2])
    -- Once per prediction: a request re-run after its (short) result TTL expired is not logged again.
    if (owner == 0 or stored[owner] == 1) and (index == 0 or redis.call('HEXISTS', KEYS[index], ARGV[a + 5]) == 0) then
      local stream = KEYS[tonumber(ARGV[a + 1])]
      local id = redis.call('XADD', stream, 'MAXLEN', '~', maxLen, '*', 'r', ARGV[a + 8])
      streams[stream] = true
      if index > 0 then
        redis.call('HSET', KEYS[index], ARGV[a + 5], id .. ' ' .. ARGV[a + 6])
        expireAt[KEYS[index]] = ARGV[a + 4]
      end
      local byKey = tonumber(ARGV[a + 3])
      if byKey > 0 then
        redis.call('ZADD', KEYS[byKey], 0, ARGV[a + 7] .. '\\0' .. id .. '\\0' .. ARGV[a + 5])
        expireAt[KEYS[byKey]] = ARGV[a + 4]
      end
      local reference = tonumber(ARGV[a + 9])
      if reference > 0 then
        local ref = references[KEYS[reference]] or {}
        ref[#ref + 1] = ARGV[a + 11]
        references[KEYS[reference]] = ref
        local recent = recents[KEYS[tonumber(ARGV[a + 10])]] or {}
        recent[#recent + 1] = ARGV[a + 11]
        recents[KEYS[tonumber(ARGV[a + 10])]] = recent
      end
    end
  end
  for key, at in pairs(expireAt) do redis.call('PEXPIREAT', key, at) end
  -- Rows pushed ${PUSH_SLICE} at a time: Lua's unpack stops at about 8,000 values (a batch chunk
  -- brings a row per line).
  local function push(command, key, rows, from, to)
    for s = from, to, ${PUSH_SLICE} do redis.call(command, key, unpack(rows, s, math.min(to, s + ${PUSH_SLICE} - 1))) end
  end
  for key, rows in pairs(references) do
    local room = refSize - redis.call('LLEN', key)
    if room > 0 then push('RPUSH', key, rows, 1, math.min(room, #rows)) end
  end
  for key, rows in pairs(recents) do
    -- Only the newest window rows outlive the trim.
    push('LPUSH', key, rows, math.max(1, #rows - window + 1), #rows)
    redis.call('LTRIM', key, 0, window - 1)
  end
  for stream in pairs(streams) do redis.call('XTRIM', stream, 'MINID', '~', minId) end
end
`;

/**
 * Builds the keys and arguments of LOG_PREDICTIONS_LUA for a script whose own keys come first
 * (`keyOffset` of them): each distinct key is passed once, and entries name keys by position.
 */
export class PredictionLogArgs {
  readonly keys: string[] = [];
  private readonly positions = new Map<string, number>();
  private readonly fields: (string | number)[] = [];
  private count = 0;

  constructor(
    private readonly keyspace: Keyspace,
    private readonly limits: PredictionLogLimits,
    private readonly keyOffset: number,
  ) {}

  get size(): number {
    return this.count;
  }

  private key(key: string): number {
    let position = this.positions.get(key);
    if (position === undefined) {
      this.keys.push(key);
      position = this.keyOffset + this.keys.length;
      this.positions.set(key, position);
    }
    return position;
  }

  /** Adds an entry, logged only if the script's write number `owner` (1-based) was stored; 0: always. */
  add(entry: PredictionLogEntry, owner = 0): void {
    const k = this.keyspace;
    const bucket = predictionBucket(predictionIdTime(entry.id) ?? Date.now());
    const indexed = entry.labelled;
    const drift = entry.driftRow !== undefined && this.limits.driftReferenceSize > 0;
    this.fields.push(
      owner,
      this.key(k.predictions(entry.model)),
      indexed ? this.key(k.predictionIndex(entry.model, bucket)) : 0,
      indexed && entry.routingKey ? this.key(k.predictionKeys(entry.model, bucket)) : 0,
      bucketExpiresAt(bucket, this.limits.retentionMs),
      entry.id,
      entry.tenant,
      entry.routingKey ?? '',
      entry.record,
      drift ? this.key(k.driftReference(entry.model, entry.version)) : 0,
      drift ? this.key(k.driftRecent(entry.model, entry.version)) : 0,
      entry.driftRow ?? '',
    );
    this.count++;
  }

  /** The ARGV section LOG_PREDICTIONS_LUA reads (a lone 0 when there is nothing to log). */
  args(now = Date.now()): (string | number)[] {
    if (this.count === 0) return [0];
    return [this.count, this.limits.maxLen, `${Math.max(0, now - this.limits.retentionMs)}-0`, this.limits.driftReferenceSize, this.limits.driftWindow, ...this.fields];
  }
}

/** Logs predictions that come with no result to store (shadow runs). KEYS: the log's; ARGV: PredictionLogArgs. */
const LOG_ONLY = new NamedCommand('inferqLogPredictions', `${LOG_PREDICTIONS_LUA}
logPredictions(1, {})
return 1`);

/** Entries one PredictionLogWriter script call logs at most. */
const MAX_ENTRIES_PER_CALL = 500;

/** Writes log entries on their own, in script calls of at most MAX_ENTRIES_PER_CALL. */
export class PredictionLogWriter {
  constructor(
    private readonly redis: Parameters<NamedCommand['define']>[0],
    private readonly keyspace: Keyspace,
    private readonly limits: PredictionLogLimits,
  ) {
    LOG_ONLY.define(redis);
  }

  async write(entries: readonly PredictionLogEntry[]): Promise<void> {
    const calls: Promise<unknown>[] = [];
    // Bounded script calls, sent together: each entry stands alone.
    for (let i = 0; i < entries.length; i += MAX_ENTRIES_PER_CALL) {
      const log = new PredictionLogArgs(this.keyspace, this.limits, 0);
      for (const entry of entries.slice(i, i + MAX_ENTRIES_PER_CALL)) log.add(entry);
      calls.push(LOG_ONLY.runWith(this.redis, [log.keys.length, ...log.keys, ...log.args()]));
    }
    await Promise.all(calls);
  }
}

/** The log's bounds from the configuration; undefined when INFERQ_PREDICTION_LOG is off. */
export function predictionLogLimits(config: Config): PredictionLogLimits | undefined {
  if (!config.predictionLog) return undefined;
  return {
    maxLen: config.predictionLogMaxLen,
    retentionMs: config.predictionLogRetentionSeconds * 1000,
    driftReferenceSize: config.driftReferenceSize,
    driftWindow: config.driftWindow,
  };
}

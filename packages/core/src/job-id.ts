import { createHash, randomFillSync } from 'node:crypto';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

// Random bytes drawn 4 KiB at a time: one randomBytes call per id was 2.4 % of the API's CPU.
const entropy = Buffer.alloc(4096);
let entropyOffset = entropy.length;

function randomByteRun(length: number): Buffer {
  if (entropyOffset + length > entropy.length) {
    randomFillSync(entropy);
    entropyOffset = 0;
  }
  const run = entropy.subarray(entropyOffset, entropyOffset + length);
  entropyOffset += length;
  return run;
}

/** 26-character ULID: sortable by creation time, 80 random bits. */
function ulid(now = Date.now()): string {
  let time = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  const bytes = randomByteRun(16);
  let random = '';
  for (let i = 0; i < 16; i++) random += CROCKFORD[(bytes[i] ?? 0) % 32];
  return time + random;
}

const tags = new Map<string, string>();
const MAX_CACHED_TAGS = 10_000;

/** Six base32 characters derived from the tenant's name: who owns an id, told without a Redis read. */
export function tenantTag(tenant: string): string {
  const cached = tags.get(tenant);
  if (cached !== undefined) return cached;
  const digest = createHash('sha256').update(`inferq-tenant:${tenant}`).digest();
  let tag = '';
  for (let i = 0; i < 6; i++) tag += CROCKFORD[(digest[i] ?? 0) % 32];
  // Tenants are few; the bound only keeps a stream of made-up names from growing the map.
  if (tags.size >= MAX_CACHED_TAGS) tags.clear();
  tags.set(tenant, tag);
  return tag;
}

/**
 * A job id names its model and its tenant's tag (`fraud-risk.01JD…` + 6): any API process finds
 * the job's queue from the id alone, with no lookup key written on the submit path, and answers
 * another tenant's id with the same 404 as a made-up one before touching Redis. Model names never
 * contain '.'.
 */
export function newJobId(model: string, tenant: string): string {
  return `${model}.${ulid()}${tenantTag(tenant)}`;
}

const JOB_ID_PATTERN = /^([a-z0-9][a-z0-9_-]{0,62})\.([0-9A-HJKMNP-TV-Z]{26})([0-9A-HJKMNP-TV-Z]{6})$/;

export function parseJobId(jobId: string): { model: string; tag: string } | undefined {
  const match = JOB_ID_PATTERN.exec(jobId);
  return match?.[1] && match[3] ? { model: match[1], tag: match[3] } : undefined;
}

/** Batch ids are opaque to clients; the batch's record names its model. */
export function newBatchId(): string {
  return `batch-${ulid()}`;
}

export const BATCH_ID_PATTERN = /^batch-[0-9A-HJKMNP-TV-Z]{26}$/;

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

/** The first `length` characters of a ULID: 10 of time (sortable by creation), the rest random. */
function ulid(length = 26, now = Date.now()): string {
  let time = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  const bytes = randomByteRun(length - 10);
  let random = '';
  for (let i = 0; i < length - 10; i++) random += CROCKFORD[(bytes[i] ?? 0) % 32];
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

/** Most requests one bundle may carry: a request's place in its bundle is two base32 digits. */
export const MAX_BUNDLE_REQUESTS = 1024;

/**
 * A bundle is one queue job carrying many requests. Its id names the model and the tenant's tag
 * (`fraud-risk.` + 24-character ULID prefix + 6): bundles sort by creation time.
 */
export function newBundleId(model: string, tenant: string): string {
  return `${model}.${ulid(24)}${tenantTag(tenant)}`;
}

/**
 * A request's id is its bundle's id with the request's place in the bundle written in (two base32
 * digits before the tenant tag), so it has the shape job ids always had (`fraud-risk.` + 32):
 * any API process finds the request's queue and bundle from the id alone, with no lookup key
 * written on the submit path, and answers another tenant's id with the same 404 as a made-up one
 * before touching Redis. Model names never contain '.'.
 */
export function requestId(bundleId: string, index: number): string {
  if (!Number.isInteger(index) || index < 0 || index >= MAX_BUNDLE_REQUESTS) throw new RangeError(`a bundle holds at most ${MAX_BUNDLE_REQUESTS} requests`);
  const tagAt = bundleId.length - 6;
  return `${bundleId.slice(0, tagAt)}${CROCKFORD[index >> 5]}${CROCKFORD[index & 31]}${bundleId.slice(tagAt)}`;
}

/** A new request in a bundle of its own (tests and tools; the API forms bundles itself). */
export function newJobId(model: string, tenant: string): string {
  return requestId(newBundleId(model, tenant), 0);
}

const JOB_ID_PATTERN = /^([a-z0-9][a-z0-9_-]{0,62})\.([0-9A-HJKMNP-TV-Z]{24})([0-9A-HJKMNP-TV-Z]{2})([0-9A-HJKMNP-TV-Z]{6})$/;

export interface ParsedJobId {
  model: string;
  tag: string;
  /** The queue job (bundle) that carries the request. */
  bundleId: string;
  /** The request's place in its bundle. */
  index: number;
}

export function parseJobId(jobId: string): ParsedJobId | undefined {
  const match = JOB_ID_PATTERN.exec(jobId);
  if (!match?.[1] || !match[2] || !match[3] || !match[4]) return undefined;
  const index = CROCKFORD.indexOf(match[3][0] as string) * 32 + CROCKFORD.indexOf(match[3][1] as string);
  return { model: match[1], tag: match[4], bundleId: `${match[1]}.${match[2]}${match[4]}`, index };
}

/**
 * Batch ids are opaque to clients. They name their model (`batch-<model>-<ULID>`) so a batch's keys
 * carry the model's hash tag: its chunks' results and prediction log entries are written by one
 * script on one cluster slot.
 */
export function newBatchId(model: string): string {
  return `batch-${model}-${ulid()}`;
}

export const BATCH_ID_PATTERN = /^batch-[a-z0-9][a-z0-9_-]{0,62}-[0-9A-HJKMNP-TV-Z]{26}$/;

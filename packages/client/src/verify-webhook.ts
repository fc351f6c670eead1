import { createHmac, timingSafeEqual } from 'node:crypto';
import { InferqWebhookVerificationError } from './client-errors.ts';

export interface VerifyWebhookOptions {
  /** How far `webhook-timestamp` may be from now, either way, in seconds. Default: `300` (5 min). */
  toleranceSeconds?: number;
  /** The time to check against. Default: now. */
  now?: Date;
}

/** A delivery's body: `{type, timestamp, data}`, `data` being the job or batch as GET returns it. */
export interface WebhookEvent<T = unknown> {
  type: string;
  timestamp: string;
  data: T;
}

type HeaderSource = Headers | Record<string, string | string[] | undefined>;

function header(headers: HeaderSource, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const record = headers as Record<string, string | string[] | undefined>;
  const key = Object.keys(record).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : record[key];
  return Array.isArray(value) ? value.join(' ') : value;
}

/** `whsec_<base64>` (or bare base64), one or several separated by spaces or commas, as in `INFERQ_WEBHOOK_SECRET`. */
function signingKeys(secret: string | readonly string[]): Buffer[] {
  const secrets = (typeof secret === 'string' ? [secret] : secret).flatMap((s) => s.split(/[\s,]+/)).filter(Boolean);
  if (secrets.length === 0) throw new InferqWebhookVerificationError('no webhook secret to verify with');
  return secrets.map((s) => Buffer.from(s.startsWith('whsec_') ? s.slice('whsec_'.length) : s, 'base64'));
}

/**
 * Checks a webhook delivery as Standard Webhooks specifies and returns its parsed body; throws
 * `InferqWebhookVerificationError` for anything forged, altered, replayed late or malformed.
 * Pass the raw body exactly as received (before any JSON parsing). Signatures are compared in
 * constant time; any one of the header's signatures (`v1,<base64>`, space-separated) matching any
 * one of the secrets is enough, so it keeps working while secrets rotate.
 */
export function verifyWebhook<T = unknown>(rawBody: string | Uint8Array, headers: HeaderSource, secret: string | readonly string[], options: VerifyWebhookOptions = {}): WebhookEvent<T> {
  const id = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !timestamp || !signatures) throw new InferqWebhookVerificationError('missing webhook-id, webhook-timestamp or webhook-signature header');
  if (!/^\d+$/.test(timestamp)) throw new InferqWebhookVerificationError(`webhook-timestamp ${JSON.stringify(timestamp)} is not Unix seconds`);
  const nowSeconds = Math.floor((options.now ?? new Date()).getTime() / 1000);
  const tolerance = options.toleranceSeconds ?? 300;
  const skew = nowSeconds - Number(timestamp);
  if (skew > tolerance) throw new InferqWebhookVerificationError(`the delivery is ${skew} s old, more than the ${tolerance} s allowed`);
  if (-skew > tolerance) throw new InferqWebhookVerificationError(`the delivery is timestamped ${-skew} s in the future`);
  const body = typeof rawBody === 'string' ? Buffer.from(rawBody) : Buffer.from(rawBody.buffer, rawBody.byteOffset, rawBody.byteLength);
  const expected = signingKeys(secret).map((key) => createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest());
  const verified = signatures.split(' ').some((entry) => {
    const [version, encoded] = entry.split(',', 2);
    if (version !== 'v1' || !encoded) return false;
    const given = Buffer.from(encoded, 'base64');
    return expected.some((mac) => mac.length === given.length && timingSafeEqual(mac, given));
  });
  if (!verified) throw new InferqWebhookVerificationError('no signature matches: the body was altered, or it was signed with another secret');
  try {
    return JSON.parse(body.toString('utf8')) as WebhookEvent<T>;
  } catch {
    throw new InferqWebhookVerificationError('the signed body is not JSON');
  }
}

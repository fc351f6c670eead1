import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { parseRetryAfter } from './retry-schedule.ts';
import { AddressRefusedError, guardedLookup, systemResolver, type AddressPolicy, type Resolver } from './ssrf-guard.ts';

export interface DeliveryClientOptions {
  /** Which addresses may be connected to. */
  policy: AddressPolicy;
  /** Time for the whole exchange (resolve, connect, send, status line). Default: 15 000 ms. */
  timeoutMs?: number;
  /** Host name resolver. Default: the system's (dns.lookup). Tests inject one to play DNS rebinding. */
  resolve?: Resolver;
  /** User-Agent header. Default: 'inferq-webhooks'. */
  userAgent?: string;
}

export interface DeliveryResponse {
  /** True for a 2xx answer in time. */
  ok: boolean;
  /** The receiver's status; null when no answer came (refused, unreachable, timed out). */
  statusCode: number | null;
  latencyMs: number;
  /** The receiver's Retry-After, in ms from now. */
  retryAfterMs?: number;
  /** Why the attempt failed; absent on success. */
  error?: string;
}

/**
 * POSTs one signed webhook. Redirects are not followed (3xx is a failure: a redirect could lead
 * anywhere, past the address check), no connection is reused (each attempt resolves and checks
 * afresh), and the outcome is always a value, never a throw.
 */
export class DeliveryClient {
  private readonly timeoutMs: number;
  private readonly lookup: net.LookupFunction;
  private readonly userAgent: string;

  constructor(private readonly options: DeliveryClientOptions) {
    this.timeoutMs = options.timeoutMs ?? 15_000;
    this.lookup = guardedLookup(options.policy, options.resolve ?? systemResolver);
    this.userAgent = options.userAgent ?? 'inferq-webhooks';
  }

  post(rawUrl: string, body: string, headers: Record<string, string>): Promise<DeliveryResponse> {
    const started = performance.now();
    const elapsed = () => Math.round((performance.now() - started) * 10) / 10;
    let url: URL;
    try {
      url = new URL(rawUrl);
    } catch {
      return Promise.resolve({ ok: false, statusCode: null, latencyMs: 0, error: 'not an absolute URL' });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      return Promise.resolve({ ok: false, statusCode: null, latencyMs: 0, error: `scheme ${url.protocol} is not allowed` });
    }
    // An address literal never goes through `lookup`: Node connects to it directly, so check it here.
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (net.isIP(host)) {
      const verdict = this.options.policy.check(host);
      if (!verdict.allowed) return Promise.resolve({ ok: false, statusCode: null, latencyMs: 0, error: new AddressRefusedError(host, verdict).message });
    }
    const transport = url.protocol === 'https:' ? https : http;
    return new Promise((resolve) => {
      let settled = false;
      const settle = (response: Omit<DeliveryResponse, 'latencyMs'>) => {
        if (settled) return;
        settled = true;
        resolve({ ...response, latencyMs: elapsed() });
      };
      const request = transport.request(
        url,
        {
          method: 'POST',
          agent: false,
          lookup: this.lookup,
          headers: {
            ...headers,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            'user-agent': this.userAgent,
            connection: 'close',
          },
        },
        (response) => {
          const status = response.statusCode ?? 0;
          const retryAfterMs = parseRetryAfter(response.headers['retry-after']);
          const ok = status >= 200 && status < 300;
          settle({
            ok,
            statusCode: status,
            ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
            ...(ok ? {} : { error: status >= 300 && status < 400 ? `HTTP ${status}: redirects are not followed` : `HTTP ${status}` }),
          });
          // The body is not needed, but reading it lets the receiver finish cleanly; the timer still bounds it.
          response.resume();
          response.on('end', () => clearTimeout(timer));
          response.on('error', () => clearTimeout(timer));
        },
      );
      const timer = setTimeout(() => {
        settle({ ok: false, statusCode: null, error: `no answer within ${this.timeoutMs} ms` });
        request.destroy();
      }, this.timeoutMs);
      request.on('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        settle({ ok: false, statusCode: null, error: error instanceof AddressRefusedError ? error.message : `${error.code ?? error.name}: ${error.message}` });
      });
      request.end(body);
    });
  }
}

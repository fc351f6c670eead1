import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { CliError, EXIT } from './exit-codes.ts';

export interface BatchView {
  batch_id: string;
  status: string;
  total: number;
  succeeded: number;
  failed: number;
  canceled: number;
  percent: number;
  results_url: string;
  error?: { code: string; message: string };
}

/** The few API calls the CLI makes, with server answers mapped to exit codes. */
export class ApiClient {
  constructor(private readonly baseUrl: string) {}

  private async call(path: string, init: RequestInit = {}): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(new URL(path, this.baseUrl), init);
    } catch (error) {
      throw new CliError(`cannot reach inferq at ${this.baseUrl}: ${(error as Error & { cause?: Error }).cause?.message ?? (error as Error).message}`, EXIT.UNAVAILABLE);
    }
    if (res.ok) return res;
    const text = await res.text();
    let message = text;
    try {
      const body = JSON.parse(text) as { error?: { code: string; message: string } };
      if (body.error) message = `${body.error.code}: ${body.error.message}`;
    } catch {
      // not JSON: keep the text
    }
    throw new CliError(`inferq answered ${res.status}: ${message}`, res.status >= 500 ? EXIT.UNAVAILABLE : EXIT.DATA_ERROR);
  }

  /** Streams the file as the request body: a file of millions of rows is never read whole. */
  async submitFile(file: string, params: Record<string, string>, contentType: string): Promise<BatchView> {
    const body = Readable.toWeb(createReadStream(file)) as unknown as ReadableStream<Uint8Array>;
    const query = new URLSearchParams(params).toString();
    const res = await this.call(`/v1/batches?${query}`, { method: 'POST', body, headers: { 'content-type': contentType }, duplex: 'half' } as RequestInit);
    return (await res.json()) as BatchView;
  }

  async get(batchId: string, waitSeconds = 0): Promise<BatchView> {
    return (await this.poll(batchId, waitSeconds)).view;
  }

  /** A long-poll, with the Retry-After the API sent along (seconds; 0 when none). */
  async poll(batchId: string, waitSeconds: number): Promise<{ view: BatchView; retryAfterSeconds: number }> {
    const res = await this.call(`/v1/batches/${encodeURIComponent(batchId)}${waitSeconds > 0 ? `?wait=${waitSeconds}` : ''}`);
    const retryAfterSeconds = Number(res.headers.get('retry-after') ?? 0);
    return { view: (await res.json()) as BatchView, retryAfterSeconds: Number.isFinite(retryAfterSeconds) ? retryAfterSeconds : 0 };
  }

  async results(batchId: string): Promise<ReadableStream<Uint8Array>> {
    const res = await this.call(`/v1/batches/${encodeURIComponent(batchId)}/results`);
    if (!res.body) throw new CliError('the results came back empty', EXIT.UNAVAILABLE);
    return res.body;
  }

  async cancel(batchId: string): Promise<BatchView> {
    const res = await this.call(`/v1/batches/${encodeURIComponent(batchId)}`, { method: 'DELETE' });
    return (await res.json()) as BatchView;
  }
}

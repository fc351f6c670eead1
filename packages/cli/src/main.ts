import { createWriteStream } from 'node:fs';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { ApiClient, type BatchView } from './api-client.ts';
import { CliError, EXIT } from './exit-codes.ts';
import { progressReporter } from './progress.ts';

const USAGE = `Usage:
  inferq batch submit --model NAME --input FILE [--version V] [--format ndjson|csv] [--ttl-seconds N]
                      [--wait [--output FILE] [--timeout SECONDS]]
  inferq batch status  BATCH_ID
  inferq batch results BATCH_ID [--output FILE]
  inferq batch cancel  BATCH_ID

Options:
  --url URL   inferq API (default: $INFERQ_URL, else http://127.0.0.1:3000)

Exit codes: 0 every row succeeded; 1 some rows failed; 2 batch canceled or failed;
64 usage; 65 bad input or request refused (4xx); 69 inferq unreachable or 5xx; 75 --timeout ran out.`;

const FINAL = new Set(['succeeded', 'failed', 'canceled']);

function exitCodeFor(view: BatchView): number {
  if (view.status !== 'succeeded') return EXIT.BATCH_NOT_SUCCEEDED;
  return view.failed > 0 ? EXIT.ROWS_FAILED : EXIT.OK;
}

async function writeResults(client: ApiClient, batchId: string, output: string | undefined): Promise<void> {
  const body = Readable.fromWeb((await client.results(batchId)) as import('node:stream/web').ReadableStream<Uint8Array>);
  if (output) await pipeline(body, createWriteStream(output));
  else await pipeline(body, process.stdout, { end: false });
}

async function submit(client: ApiClient, values: Record<string, string | boolean | undefined>): Promise<number> {
  const model = values.model as string | undefined;
  const input = values.input as string | undefined;
  if (!model || !input) throw new CliError(`--model and --input are required\n\n${USAGE}`, EXIT.USAGE);
  await access(input).catch(() => {
    throw new CliError(`cannot read ${input}`, EXIT.DATA_ERROR);
  });
  const format = (values.format as string | undefined) ?? (path.extname(input).toLowerCase() === '.csv' ? 'csv' : 'ndjson');
  if (format !== 'csv' && format !== 'ndjson') throw new CliError(`--format must be ndjson or csv`, EXIT.USAGE);
  const params: Record<string, string> = { model };
  if (values.version) params.version = values.version as string;
  if (values['ttl-seconds']) params.ttl_seconds = values['ttl-seconds'] as string;
  let view = await client.submitFile(input, params, format === 'csv' ? 'text/csv' : 'application/x-ndjson');
  process.stderr.write(`submitted ${view.batch_id}: ${view.total} rows\n`);
  if (!values.wait) {
    process.stdout.write(`${view.batch_id}\n`);
    return EXIT.OK;
  }
  const timeoutSeconds = values.timeout ? Number(values.timeout) : Infinity;
  const deadline = Date.now() + timeoutSeconds * 1000;
  const progress = progressReporter(process.stderr);
  progress.update(view);
  while (!FINAL.has(view.status)) {
    if (Date.now() >= deadline) {
      progress.done();
      throw new CliError(`${view.batch_id} has not finished after ${timeoutSeconds} s (it goes on; check with: inferq batch status ${view.batch_id})`, EXIT.TIMEOUT);
    }
    // Short long-polls, so the bar moves while the server holds the request.
    const waitSeconds = Math.max(0.1, Math.min(1, (deadline - Date.now()) / 1000));
    const asked = Date.now();
    const answer = await client.poll(view.batch_id, waitSeconds);
    view = answer.view;
    progress.update(view);
    // Answered at once although unfinished: the API holds no more long-polls; come back when it says.
    if (!FINAL.has(view.status) && Date.now() - asked < (waitSeconds * 1000) / 2) {
      await new Promise((r) => setTimeout(r, Math.min(answer.retryAfterSeconds * 1000, Math.max(0, deadline - Date.now()))));
    }
  }
  progress.done();
  if (view.status !== 'failed') await writeResults(client, view.batch_id, values.output as string | undefined);
  process.stderr.write(`${view.batch_id} ${view.status}: ${view.succeeded} succeeded, ${view.failed} failed, ${view.canceled} canceled\n`);
  return exitCodeFor(view);
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      model: { type: 'string' },
      version: { type: 'string' },
      input: { type: 'string' },
      output: { type: 'string' },
      format: { type: 'string' },
      'ttl-seconds': { type: 'string' },
      timeout: { type: 'string' },
      wait: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [group, command, batchId] = positionals;
  if (values.help || group !== 'batch' || !command) {
    if (values.help) {
      process.stdout.write(`${USAGE}\n`);
      return EXIT.OK;
    }
    throw new CliError(USAGE, EXIT.USAGE);
  }
  const client = new ApiClient(values.url ?? process.env.INFERQ_URL ?? 'http://127.0.0.1:3000');
  if (command === 'submit') return submit(client, values);
  if (!batchId) throw new CliError(`${command} needs a BATCH_ID\n\n${USAGE}`, EXIT.USAGE);
  switch (command) {
    case 'status': {
      const view = await client.get(batchId);
      process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
      return FINAL.has(view.status) ? exitCodeFor(view) : EXIT.OK;
    }
    case 'results':
      await writeResults(client, batchId, values.output);
      return EXIT.OK;
    case 'cancel': {
      const view = await client.cancel(batchId);
      process.stderr.write(`${view.batch_id} ${view.status}\n`);
      return EXIT.OK;
    }
    default:
      throw new CliError(`unknown command ${command}\n\n${USAGE}`, EXIT.USAGE);
  }
}

try {
  process.exitCode = await run(process.argv.slice(2));
} catch (error) {
  if (error instanceof CliError) {
    process.stderr.write(`inferq: ${error.message}\n`);
    process.exitCode = error.exitCode;
  } else if ((error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`inferq: ${(error as Error).message}\n\n${USAGE}\n`);
    process.exitCode = EXIT.USAGE;
  } else {
    throw error;
  }
}

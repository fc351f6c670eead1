import { access, open } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { BatchView } from '@inferq/client/api-types';
import { InferqError, InferqRateLimitError, InferqTimeoutError, InferqUnavailableError } from '@inferq/client/client-errors';
import { InferqClient } from '@inferq/client';
import { CliError, EXIT } from './exit-codes.ts';
import { imageInputs, scoreImages } from './image-jobs.ts';
import { progressReporter } from './progress.ts';
import { writeResults } from './result-writer.ts';
import { batchSummary } from './summary.ts';

const USAGE = `Usage:
  inferq batch submit --model NAME --input FILE [--version V] [--format ndjson|csv] [--ttl-seconds N]
                      [--wait [--output FILE] [--timeout SECONDS]]
  inferq batch submit --model NAME --input FOLDER|IMAGE [--version V] [--output FILE] [--timeout SECONDS]
                      (.png, .jpg, .jpeg, .webp: one job per image, always waited for)
  inferq batch status  BATCH_ID
  inferq batch results BATCH_ID [--output FILE]
  inferq batch cancel  BATCH_ID
  inferq predictions export --model NAME --output FILE [--version V] [--since TIME] [--until TIME]
                      [--status succeeded|failed|canceled] [--has-label true|false] [--format ndjson|csv]
                      [--cursor CURSOR]
    Writes the model's logged predictions (with their labels) to FILE, every page; prints the
    cursor to resume from on stderr ("cursor: ..."): pass it as --cursor next time.

Options:
  --url URL   inferq API (default: $INFERQ_URL, else http://127.0.0.1:3000)
  API key: $INFERQ_API_KEY, sent as a Bearer token.

Exit codes: 0 every row succeeded; 1 some rows failed; 2 batch canceled or failed;
64 usage; 65 bad input or request refused (4xx); 69 inferq unreachable, overloaded (429) or 5xx;
75 --timeout ran out.`;

const FINAL = new Set(['succeeded', 'failed', 'canceled']);

function exitCodeFor(view: BatchView): number {
  if (view.status !== 'succeeded') return EXIT.BATCH_NOT_SUCCEEDED;
  return view.failed > 0 ? EXIT.ROWS_FAILED : EXIT.OK;
}

/** The client's typed errors as exit codes: retry later (69) or fix the request (65). */
function cliErrorFrom(error: InferqError): CliError {
  if (error instanceof InferqUnavailableError && error.status === undefined) return new CliError(error.message, EXIT.UNAVAILABLE);
  const answered = error.status === undefined ? error.message : `inferq answered ${error.status}: ${error.message}`;
  const retryLater = error instanceof InferqUnavailableError || error instanceof InferqRateLimitError;
  const hint = retryLater && error.retryAfterSeconds !== undefined ? ` (retry after ${error.retryAfterSeconds} s)` : '';
  return new CliError(`${answered}${hint}`, retryLater ? EXIT.UNAVAILABLE : EXIT.DATA_ERROR);
}

async function submit(client: InferqClient, values: Record<string, string | boolean | undefined>): Promise<number> {
  const model = values.model as string | undefined;
  const input = values.input as string | undefined;
  if (!model || !input) throw new CliError(`--model and --input are required\n\n${USAGE}`, EXIT.USAGE);
  const format = (values.format as string | undefined) ?? (path.extname(input).toLowerCase() === '.csv' ? 'csv' : 'ndjson');
  if (format !== 'csv' && format !== 'ndjson') throw new CliError('--format must be ndjson or csv', EXIT.USAGE);
  const timeoutSeconds = values.timeout === undefined ? undefined : Number(values.timeout);
  if (timeoutSeconds !== undefined && !(timeoutSeconds > 0)) throw new CliError(`--timeout must be a number of seconds above 0, got ${values.timeout}`, EXIT.USAGE);
  const ttlSeconds = values['ttl-seconds'] === undefined ? undefined : Number(values['ttl-seconds']);
  if (ttlSeconds !== undefined && !Number.isInteger(ttlSeconds)) throw new CliError(`--ttl-seconds must be a whole number, got ${values['ttl-seconds']}`, EXIT.USAGE);
  await access(input).catch(() => {
    throw new CliError(`cannot read ${input}`, EXIT.DATA_ERROR);
  });
  const output = values.output as string | undefined;
  const images = await imageInputs(input);
  if (images) {
    let printedAt = 0;
    const written = await scoreImages(client, images, {
      model,
      ...(values.version ? { version: values.version as string } : {}),
      ...(ttlSeconds === undefined ? {} : { ttlSeconds }),
      concurrency: 4,
      ...(timeoutSeconds === undefined ? {} : { timeoutMs: timeoutSeconds * 1000 }),
      onDone: (done, total) => {
        // As for batches: a progress line at most every 10 s, and the last one.
        if (done < total && Date.now() - printedAt < 10_000) return;
        printedAt = Date.now();
        process.stderr.write(`${new Date().toISOString()} ${done} of ${total} images scored\n`);
      },
    }, output);
    let summary = `${written.succeeded} of ${written.lines} images scored, ${written.failed} failed; results ${output ? `in ${path.resolve(output)}` : 'on standard output'}\n`;
    for (const line of written.firstFailed) summary += `  row ${line.row} (${String(line.id)}): ${line.error.code}: ${line.error.message}\n`;
    process.stderr.write(summary);
    return written.failed > 0 ? EXIT.ROWS_FAILED : EXIT.OK;
  }
  const progress = progressReporter(process.stderr);
  let view = await client.batches.upload(input, {
    model,
    format,
    ...(values.version ? { version: values.version as string } : {}),
    ...(ttlSeconds === undefined ? {} : { ttlSeconds }),
    onProgress: (p) => progress.uploaded(p),
  });
  progress.done();
  process.stderr.write(`submitted ${view.batch_id}: ${view.total} rows\n`);
  if (!values.wait) {
    process.stdout.write(`${view.batch_id}\n`);
    return EXIT.OK;
  }
  progress.update(view);
  try {
    // Short long-polls, so the bar moves while the batch runs.
    view = await client.batches.wait(view.batch_id, { pollSeconds: 1, onUpdate: (v) => progress.update(v), ...(timeoutSeconds === undefined ? {} : { timeoutMs: timeoutSeconds * 1000 }) });
  } catch (error) {
    if (!(error instanceof InferqTimeoutError)) throw error;
    throw new CliError(`${view.batch_id} has not finished after ${timeoutSeconds} s (it goes on; check with: inferq batch status ${view.batch_id})`, EXIT.TIMEOUT);
  } finally {
    progress.done();
  }
  const results = view.status === 'failed' ? undefined : await writeResults(client.batches, view.batch_id, output);
  process.stderr.write(batchSummary(view, results, output));
  return exitCodeFor(view);
}

async function exportPredictions(client: InferqClient, values: Record<string, string | boolean | undefined>): Promise<number> {
  const model = values.model as string | undefined;
  const output = values.output as string | undefined;
  if (!model || !output) throw new CliError(`--model and --output are required\n\n${USAGE}`, EXIT.USAGE);
  const format = (values.format as string | undefined) ?? (path.extname(output).toLowerCase() === '.csv' ? 'csv' : 'ndjson');
  if (format !== 'csv' && format !== 'ndjson') throw new CliError('--format must be ndjson or csv', EXIT.USAGE);
  const hasLabel = values['has-label'] as string | undefined;
  if (hasLabel !== undefined && hasLabel !== 'true' && hasLabel !== 'false') throw new CliError('--has-label must be true or false', EXIT.USAGE);
  const status = values.status as string | undefined;
  if (status !== undefined && !['succeeded', 'failed', 'canceled'].includes(status)) throw new CliError('--status must be succeeded, failed or canceled', EXIT.USAGE);
  const file = await open(output, 'w');
  let written = 0;
  let cursor = values.cursor as string | undefined;
  try {
    for await (const page of client.predictions.pages(
      {
        model,
        ...(values.version ? { version: values.version as string } : {}),
        ...(values.since ? { since: values.since as string } : {}),
        ...(values.until ? { until: values.until as string } : {}),
        ...(status ? { status: status as 'succeeded' } : {}),
        ...(hasLabel ? { hasLabel: hasLabel === 'true' } : {}),
        ...(cursor ? { cursor } : {}),
        pageSize: 10_000,
      },
      { format },
    )) {
      // CSV pages each start with the header row: only the first one is kept.
      const lines = page.text.split('\n').filter((l) => l !== '');
      const rows = format === 'csv' ? lines.slice(1) : lines;
      const header = format === 'csv' && written === 0 && lines[0] !== undefined ? [lines[0]] : [];
      if (header.length + rows.length > 0) await file.write(`${[...header, ...rows].join('\n')}\n`);
      written += rows.length;
      cursor = page.cursor ?? cursor;
    }
  } finally {
    await file.close();
  }
  process.stderr.write(`${written} predictions written to ${output}\n${cursor ? `cursor: ${cursor}\n` : ''}`);
  return EXIT.OK;
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
      since: { type: 'string' },
      until: { type: 'string' },
      status: { type: 'string' },
      'has-label': { type: 'string' },
      cursor: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [group, command, batchId] = positionals;
  if (values.help || (group !== 'batch' && group !== 'predictions') || !command) {
    if (values.help) {
      process.stdout.write(`${USAGE}\n`);
      return EXIT.OK;
    }
    throw new CliError(USAGE, EXIT.USAGE);
  }
  let client: InferqClient;
  try {
    client = new InferqClient(values.url ? { baseUrl: values.url } : {});
  } catch (error) {
    throw new CliError((error as Error).message, EXIT.USAGE);
  }
  try {
    if (group === 'predictions') {
      if (command !== 'export') throw new CliError(`unknown command predictions ${command}\n\n${USAGE}`, EXIT.USAGE);
      return await exportPredictions(client, values);
    }
    if (command === 'submit') return await submit(client, values);
    if (!batchId) throw new CliError(`${command} needs a BATCH_ID\n\n${USAGE}`, EXIT.USAGE);
    switch (command) {
      case 'status': {
        const view = await client.batches.get(batchId);
        process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
        return FINAL.has(view.status) ? exitCodeFor(view) : EXIT.OK;
      }
      case 'results': {
        const view = await client.batches.get(batchId);
        const results = await writeResults(client.batches, batchId, values.output);
        process.stderr.write(batchSummary(view, results, values.output));
        return exitCodeFor(view);
      }
      case 'cancel': {
        const view = await client.batches.cancel(batchId);
        process.stderr.write(`${view.batch_id} ${view.status}\n`);
        return EXIT.OK;
      }
      default:
        throw new CliError(`unknown command ${command}\n\n${USAGE}`, EXIT.USAGE);
    }
  } catch (error) {
    throw error instanceof InferqError ? cliErrorFrom(error) : error;
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

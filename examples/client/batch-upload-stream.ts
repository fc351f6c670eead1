import { Readable } from 'node:stream';
import { InferqClient } from '@inferq/client';

const client = new InferqClient();
// Any stream of NDJSON (or CSV, with format: 'csv'): a Node Readable, a web ReadableStream, a generator.
const rows = Readable.from((function* () {
  for (let i = 0; i < 1000; i++) yield `${JSON.stringify({ id: i, inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 64], data: new Array(64).fill(i / 1000) }] })}\n`;
})());
const batch = await client.batches.upload(rows, { model: 'wide-mlp', ttlSeconds: 3600 });
console.log(batch.batch_id, batch.total, 'rows'); // batch-… 1000 rows

import { InferqClient } from '@inferq/client';

const client = new InferqClient();
const { batch_id } = await client.batches.upload('examples/client/rows.ndjson', { model: 'fraud-risk' });
await client.batches.wait(batch_id);
// One parsed line per input row, in input order, streamed: millions of lines are never held at once.
for await (const line of client.batches.results(batch_id)) {
  console.log(line.row, line.id, 'error' in line ? line.error.code : JSON.stringify(line.result));
}

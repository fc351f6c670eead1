import { InferqClient } from '@inferq/client';

const client = new InferqClient();
const { batch_id } = await client.batches.upload('examples/client/rows.ndjson', { model: 'fraud-risk' });
const batch = await client.batches.wait(batch_id, {
  timeoutMs: 10 * 60_000,
  onUpdate: (b) => console.log(`${b.status} ${b.succeeded + b.failed}/${b.total}`),
});
console.log(batch.status, `${batch.succeeded} succeeded, ${batch.failed} failed`); // succeeded 3 succeeded, 1 failed

import { InferqClient } from '@inferq/client';

const client = new InferqClient();
const { batch_id } = await client.batches.upload('examples/client/rows.ndjson', { model: 'fraud-risk' });
const batch = await client.batches.get(batch_id); // counts so far
console.log(batch.batch_id, batch.status, `${batch.percent}%`);

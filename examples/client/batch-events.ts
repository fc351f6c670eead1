import { InferqClient } from '@inferq/client';

const client = new InferqClient();
const { batch_id } = await client.batches.upload('examples/client/rows.ndjson', { model: 'fraud-risk' });
for await (const event of client.batches.events(batch_id)) {
  console.log(event.type, `${event.data.percent}%`); // progress with counts, then the batch's end
}

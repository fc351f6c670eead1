import { InferqClient } from '@inferq/client';

const client = new InferqClient();
// Streamed from disk, never read whole; .csv files go as CSV, anything else as NDJSON.
const batch = await client.batches.upload('examples/client/rows.ndjson', {
  model: 'fraud-risk',
  onProgress: ({ bytesSent, totalBytes }) => console.log(`sent ${bytesSent} of ${totalBytes} bytes`),
});
console.log(batch.batch_id, batch.total, 'rows'); // batch-… 4 rows

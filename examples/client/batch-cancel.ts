import { InferqClient } from '@inferq/client';
import { InferqConflictError } from '@inferq/client/client-errors';

const client = new InferqClient();
const rows = Array.from({ length: 5000 }, () => `{"inputs":[{"name":"x","datatype":"FP32","shape":[1,64],"data":[${new Array(64).fill(0.1)}]}]}\n`);
const { batch_id } = await client.batches.upload(rows.values(), { model: 'wide-mlp' });
try {
  const batch = await client.batches.cancel(batch_id); // chunks no worker has started report CANCELED
  console.log(batch.status, `${batch.canceled} rows canceled`);
} catch (error) {
  if (!(error instanceof InferqConflictError)) throw error;
  console.log('too late:', error.code); // BATCH_NOT_CANCELABLE: it had already finished
}

import { InferqClient } from '@inferq/client';
import { InferqConflictError } from '@inferq/client/client-errors';

const client = new InferqClient();
const { job_id } = await client.submit({ model: 'wide-mlp', priority: 9,
  inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 64], data: new Array(64).fill(0.5) }] });
try {
  const job = await client.cancel(job_id);
  console.log(job.job_id, job.status); // wide-mlp.01M8… canceled
} catch (error) {
  if (!(error instanceof InferqConflictError)) throw error;
  console.log('too late:', error.code); // JOB_NOT_CANCELABLE: it had already finished
}

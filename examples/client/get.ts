import { InferqClient } from '@inferq/client';

const client = new InferqClient();
const { job_id } = await client.submit({ model: 'fraud-risk', version: '1', inputs: [
  { name: 'features', datatype: 'FP32', shape: [1, 8], data: [25, 14, 0.05, 2000, 2, 3, 0, 1] }] });
const job = await client.get(job_id); // now: queued, running, or finished with its result
console.log(job_id, job.status);

import { InferqClient } from '@inferq/client';

const client = new InferqClient();
const { job_id } = await client.submit({ model: 'fraud-risk', features: { amount: 25, hour_of_day: 14,
  merchant_risk: 0.05, account_age_days: 2000, txn_count_24h: 2, distance_from_home_km: 3, is_foreign: 0, card_present: 1 } });
// Long-polls (?wait=20) until the job ends; backs off as Retry-After says when the API is busy.
const job = await client.wait(job_id, { timeoutMs: 60_000 });
console.log(job.status, job.result); // succeeded { probability: 0.0…, label: 'legit' }

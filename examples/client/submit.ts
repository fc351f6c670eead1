import { InferqClient } from '@inferq/client';

const client = new InferqClient(); // $INFERQ_URL, else http://127.0.0.1:3000
const job = await client.submit({
  model: 'fraud-risk',
  features: { amount: 2500, hour_of_day: 3, merchant_risk: 0.9, account_age_days: 10,
              txn_count_24h: 20, distance_from_home_km: 900, is_foreign: 1, card_present: 0 },
});
console.log(job.job_id, job.status); // fraud-risk.01M87… queued

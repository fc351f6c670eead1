import { InferqClient } from '@inferq/client';

const client = new InferqClient();
// One call: the submit is held until the job ends (Prefer: wait=10), then long-polls if need be.
const job = await client.run({ model: 'fraud-risk', features: [
  { amount: 2500, hour_of_day: 3, merchant_risk: 0.9, account_age_days: 10, txn_count_24h: 20, distance_from_home_km: 900, is_foreign: 1, card_present: 0 },
  { amount: 25, hour_of_day: 14, merchant_risk: 0.05, account_age_days: 2000, txn_count_24h: 2, distance_from_home_km: 3, is_foreign: 0, card_present: 1 },
] });
console.log(job.status, JSON.stringify(job.result)); // succeeded {"predictions":[{…"label":"fraud"},{…"label":"legit"}]}

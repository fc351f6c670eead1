import { InferqClient } from '@inferq/client';

const client = new InferqClient();
const safe = { amount: 25, hour_of_day: 14, merchant_risk: 0.05, account_age_days: 2000,
               txn_count_24h: 2, distance_from_home_km: 3, is_foreign: 0, card_present: 1 };
const items = await client.bulk([
  { model: 'fraud-risk', features: safe },
  { model: 'fraud-risk', features: { ...safe, amount: 'lots' } }, // refused alone
]);
for (const item of items) console.log('error' in item ? `refused: ${item.error.code}` : `queued: ${item.job_id}`);

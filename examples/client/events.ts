import { InferqClient } from '@inferq/client';

const client = new InferqClient();
const { job_id } = await client.submit({ model: 'fraud-risk', features: { amount: 25, hour_of_day: 14,
  merchant_risk: 0.05, account_age_days: 2000, txn_count_24h: 2, distance_from_home_km: 3, is_foreign: 0, card_present: 1 } });
// The state now, then each change; the loop ends after the finished job. A dropped connection
// is resumed with Last-Event-ID, so no event is missed.
for await (const event of client.events(job_id)) {
  console.log(event.id, event.type, event.data.status); // … queued, … running, … succeeded
}

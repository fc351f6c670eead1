import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InferqClient } from '@inferq/client';
import { verifyWebhook } from '@inferq/client/verify-webhook';

const secret = process.env.INFERQ_WEBHOOK_SECRET ?? ''; // the secret inferq signs with
// A receiver: verify the raw body before trusting anything in it.
const receiver = createServer(async (req, res) => {
  let body = '';
  for await (const chunk of req) body += chunk;
  try {
    const event = verifyWebhook(body, req.headers, secret); // throws if forged, altered or > 5 min old
    console.log('verified', event.type, req.headers['webhook-id']);
    res.writeHead(204).end();
    receiver.close();
  } catch (error) {
    console.log('refused:', (error as Error).message);
    res.writeHead(400).end();
  }
}).listen(0, '127.0.0.1');
await new Promise((resolve) => receiver.once('listening', resolve));

const client = new InferqClient();
await client.submit({ model: 'fraud-risk', webhook: { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook` },
  features: { amount: 25, hour_of_day: 14, merchant_risk: 0.05, account_age_days: 2000, txn_count_24h: 2,
              distance_from_home_km: 3, is_foreign: 0, card_present: 1 } });

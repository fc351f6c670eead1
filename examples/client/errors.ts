import { InferqClient } from '@inferq/client';
import { InferqNotFoundError, InferqValidationError } from '@inferq/client/client-errors';

const client = new InferqClient();
try {
  await client.submit({ model: 'fraud-risk', features: { amount: 25 } });
} catch (error) {
  if (!(error instanceof InferqValidationError)) throw error;
  console.log(error.status, error.code, error.details?.missing); // 422 FEATURE_MISSING [ 'hour_of_day', … ]
}
await client.get('fraud-risk.01M87MDTB3PNGHXNGA8VGPR9WMQ4Z8KD').catch((error) => {
  if (error instanceof InferqNotFoundError) console.log(error.status, error.code); // 404 JOB_NOT_FOUND
});

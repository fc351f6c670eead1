/**
 * Request bodies that /docs ("Try it out") fills in and that work as sent against the demo
 * models: one per request body, and for a job one per model type. Without them Swagger UI makes
 * up values from the schemas (`"model": "4j4yd81"`, shape `[-9007199254740991]`), which fail.
 * test/e2e/openapi-examples.test.ts sends every one of them to a running API and worker.
 */

/** A card transaction the demo fraud-risk model scores as legit (the tests' SAFE_TRANSACTION too). */
/** Stands for a job id of the reader's in the examples that name one (labels). */
export const EXAMPLE_JOB_ID = 'fraud-risk.01M8V104Q8NXTDQZNX5MEJ9J00YXAM7G';

export const TRANSACTION = {
  amount: 25,
  hour_of_day: 14,
  merchant_risk: 0.05,
  account_age_days: 2000,
  txn_count_24h: 2,
  distance_from_home_km: 3,
  is_foreign: 0,
  card_present: 1,
};

/** "No 42", one line of text as a 99×42 PNG, for the image models. */
const TEXT_LINE_PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAGMAAAAqAgMAAADaAg2iAAAADFBMVEX///8ICAheXl62trZoZQgeAAAACXBIWXMAAAsTAAALEwEAmpwYAAAA8ElEQVQ4y+3Rsa3CMBAG4J9YKV4RSpggt0GQ0KNghBTEpEjhivqNYNFRvC4SG0SiS0NBxxDACDSsgAR3hMQWEyDEFdEvffLd2QE+r/o1ftt8garqTn5SUJs1kix3kncSaMQ37WTeSVRhgthJxaKuEsMzf5J9J9s9cXvLkeRw6GRlCced4XgQSVy3/z9CrgqOhcjAydKQSlHyakZk7cQWFKQ48GpTlsfhVkoKDIYymyUyngyfMpKLJdaT+ClxlhU4wZPw3MwRUbkv0YLHlpLJH8PS05g1K5E/hkVpHDemEe7oXsfybxk/3u1FmrriW+9XdyWxOBp73T6DAAAAAElFTkSuQmCC';

export interface RequestExample {
  summary: string;
  value: unknown;
}

/** The examples of each request body, keyed as in the document (`examples` of a media type). */
export const REQUEST_EXAMPLES = {
  job: {
    features: { summary: 'Named features (fraud-risk)', value: { model: 'fraud-risk', features: TRANSACTION } },
    feature_rows: {
      summary: 'Several rows of named features in one job',
      value: { model: 'fraud-risk', features: [TRANSACTION, { ...TRANSACTION, amount: 2500, hour_of_day: 3, merchant_risk: 0.9, is_foreign: 1, card_present: 0 }] },
    },
    tensors: {
      summary: 'V2 tensors, pinned to a version (fraud-risk 1)',
      value: { model: 'fraud-risk', version: '1', inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 8], data: Object.values(TRANSACTION) }] },
    },
    wide_tensor: {
      summary: 'A 64-value tensor row (wide-mlp)',
      value: { model: 'wide-mlp', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 64], data: Array.from({ length: 64 }, (_, i) => Math.round((i % 8) * 12.5) / 100) }] },
    },
    image: { summary: 'A base64 image of one text line (textline-ocr)', value: { model: 'textline-ocr', image: { data: TEXT_LINE_PNG } } },
    orientation: { summary: 'The same line, upright or upside down? (text-orientation)', value: { model: 'text-orientation', image: { data: TEXT_LINE_PNG } } },
    detection: { summary: 'The text lines on a page, as boxes (text-detection)', value: { model: 'text-detection', image: { data: TEXT_LINE_PNG } } },
    document: { summary: 'A page read line by line: detection, orientation, recognition (the document-ocr pipeline)', value: { model: 'document-ocr', image: { data: TEXT_LINE_PNG } } },
  },
  bulk: {
    jobs: {
      summary: 'Two jobs for two models in one call',
      value: { jobs: [{ model: 'fraud-risk', features: TRANSACTION }, { model: 'textline-ocr', image: { data: TEXT_LINE_PNG } }] },
    },
  },
  batchJson: {
    rows: {
      summary: 'Rows as JSON (fraud-risk)',
      value: { model: 'fraud-risk', rows: [{ id: 'txn-1', features: TRANSACTION }, { id: 'txn-2', features: { ...TRANSACTION, amount: 480 } }] },
    },
  },
  batchNdjson: {
    rows: { summary: 'One row per line; send with ?model=fraud-risk', value: `${JSON.stringify({ id: 'txn-1', features: TRANSACTION })}\n${JSON.stringify({ id: 'txn-2', features: { ...TRANSACTION, amount: 480 } })}\n` },
  },
  batchCsv: {
    rows: { summary: 'A header row of feature names; send with ?model=fraud-risk', value: `id,${Object.keys(TRANSACTION).join(',')}\ntxn-1,${Object.values(TRANSACTION).join(',')}\n` },
  },
  schedule: {
    nightly: { summary: 'Score a folder every night at 02:00, Paris time', value: { cron: '0 2 * * *', tz: 'Europe/Paris', model: 'fraud-risk', input: '/data/incoming', output: '/data/scores' } },
  },
  label: {
    one: { summary: 'The true label of one logged prediction (put a job id of yours)', value: { job_id: EXAMPLE_JOB_ID, label: 'fraud' } },
  },
  labelNdjson: {
    rows: { summary: 'One label per line (put job ids of yours)', value: `${JSON.stringify({ job_id: EXAMPLE_JOB_ID, label: 'fraud' })}\n` },
  },
  v2Infer: {
    fraud_risk: {
      summary: 'One fraud-risk row as a V2 tensor, asking for the probability output (model fraud-risk, version 2)',
      value: { id: '42', inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 8], data: Object.values(TRANSACTION) }], outputs: [{ name: 'probability' }] },
    },
  },
  routing: {
    all_on_two: { summary: 'All traffic to version 2, version 1 answers if it fails (fraud-risk)', value: { weights: { '2': 100 }, fallback: '1' } },
  },
} satisfies Record<string, Record<string, RequestExample>>;

/** A card transaction the demo fraud-risk model scores as fraud: the launcher's example and the tests' fixture. */
export const RISKY_TRANSACTION = {
  amount: 2500,
  hour_of_day: 3,
  merchant_risk: 0.9,
  account_age_days: 10,
  txn_count_24h: 20,
  distance_from_home_km: 900,
  is_foreign: 1,
  card_present: 0,
};

// The fault-injection suite: real Redis, API and worker processes, faults injected with bounded
// loops. Each scenario prints its figures as one JSON line; the run fails on any lost job (a 202
// whose job never reached a terminal state readable by GET), a missing final webhook, or a
// scenario that could not run. INFERQ_FAULTS_PROFILE=short (CI) or full (default);
// arguments name the scenarios to run (default: all).
import { stopAll } from '../support/services.ts';
import type { Figures, Profile } from './harness.ts';
import { SCENARIOS } from './scenarios.ts';

const profile = (process.env.INFERQ_FAULTS_PROFILE ?? 'full') as Profile;
if (profile !== 'short' && profile !== 'full') {
  console.error(`INFERQ_FAULTS_PROFILE must be short or full, not ${String(profile)}`);
  process.exit(2);
}
const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !SCENARIOS.some((s) => s.name === w));
if (unknown.length > 0) {
  console.error(`unknown scenarios: ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  process.exit(2);
}

/** Why a scenario's figures fail the run; empty when they pass. */
function problems(f: Figures): string[] {
  const found: string[] = [];
  if (f.lost > 0) found.push(`${f.lost} accepted jobs lost`);
  if (typeof f.webhooks_missing === 'number' && f.webhooks_missing > 0) found.push(`${f.webhooks_missing} final webhooks never delivered`);
  if (f.refused_to_start === false) found.push('started against a Redis that evicts keys');
  if (typeof f.batches_left_receiving === 'number' && f.batches_left_receiving > 0) found.push(`${f.batches_left_receiving} batches left receiving`);
  if (typeof f.rows_model_version_unavailable === 'number' && f.rows_model_version_unavailable > 0) found.push(`${f.rows_model_version_unavailable} rows failed MODEL_VERSION_UNAVAILABLE`);
  return found;
}

const started = Date.now();
let failures = 0;
for (const scenario of SCENARIOS.filter((s) => wanted.length === 0 || wanted.includes(s.name))) {
  const t0 = Date.now();
  try {
    const figures = await scenario.run(profile);
    const found = problems(figures);
    console.log(JSON.stringify({ ...figures, profile, seconds: Math.round((Date.now() - t0) / 1000), ok: found.length === 0, ...(found.length > 0 ? { problems: found } : {}) }));
    if (found.length > 0) failures += 1;
  } catch (error) {
    failures += 1;
    console.log(JSON.stringify({ scenario: scenario.name, profile, ok: false, error: (error as Error).message, seconds: Math.round((Date.now() - t0) / 1000) }));
  } finally {
    await stopAll();
  }
}
console.log(`faults: ${failures === 0 ? 'all scenarios passed' : `${failures} scenario(s) failed`} in ${Math.round((Date.now() - started) / 1000)} s (${profile} profile)`);
process.exit(failures === 0 ? 0 : 1);

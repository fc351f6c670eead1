import assert from 'node:assert/strict';
import os from 'node:os';
import { describe, test } from 'node:test';
import { BUNDLED_MODEL_DIR, ConfigError, loadConfig } from '../../packages/core/src/config.ts';

describe('config: option, then environment variable, then default', () => {
  test('defaults apply when nothing is set', () => {
    const config = loadConfig({}, {});
    assert.equal(config.port, 3000);
    assert.equal(config.redisUrl, 'redis://127.0.0.1:6379');
    assert.equal(config.modelDir, BUNDLED_MODEL_DIR);
    assert.deepEqual(config.executionProviders, ['cpu']);
    assert.equal(config.resolvedIntraOpThreads, os.availableParallelism(), 'every core for the model');
    assert.equal(config.inferenceNice, 10, 'inference yields to the event loop');
    assert.equal(config.intraOpSpinning, false);
  });

  test('an environment variable beats the default; an explicit option beats both', () => {
    assert.equal(loadConfig({}, { PORT: '8080' }).port, 8080);
    assert.equal(loadConfig({ port: 9090 }, { PORT: '8080' }).port, 9090);
    assert.deepEqual(loadConfig({}, { INFERQ_EXECUTION_PROVIDERS: 'cuda, cpu' }).executionProviders, ['cuda', 'cpu']);
    assert.equal(loadConfig({}, { INFERQ_INFERENCE_THREADS: '2', INFERQ_INTRA_OP_THREADS: '0' }).resolvedIntraOpThreads, Math.max(1, Math.floor(os.availableParallelism() / 2)));
    assert.equal(loadConfig({}, { INFERQ_INTRA_OP_SPINNING: 'true' }).intraOpSpinning, true);
    assert.equal(loadConfig({}, { INFERQ_INFERENCE_NICE: '0' }).inferenceNice, 0);
  });

  test('every invalid value is reported at once, by variable name', () => {
    try {
      loadConfig({}, { PORT: '70000', INFERQ_EXECUTION_PROVIDERS: 'tpu', REDIS_URL: 'localhost:6379' });
      assert.fail('expected a ConfigError');
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.problems.length, 3);
      assert.match(error.message, /PORT="70000"/);
      assert.match(error.message, /INFERQ_EXECUTION_PROVIDERS="tpu"/);
      assert.match(error.message, /REDIS_URL="localhost:6379"/);
    }
  });

  test('a default TTL above the maximum is refused', () => {
    assert.throws(() => loadConfig({}, { INFERQ_RESULT_TTL_SECONDS: '100', INFERQ_MAX_RESULT_TTL_SECONDS: '10' }), ConfigError);
  });
});

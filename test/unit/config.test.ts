import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../config';

describe('loadConfig', () => {
  it('hands plugins the SLIPWAY_* variables that are set, read once, and nothing else', () => {
    const config = loadConfig({ SLIPWAY_WEBHOOK_URL: 'https://deployer.example.com/deploy', SLIPWAY_WEBHOOK_SECRET: '', HOME: '/home/x', SLIPWAY_LOCAL_SERVING_DIR: '/tmp/serving' });
    assert.deepEqual(config.pluginSettings, { SLIPWAY_WEBHOOK_URL: 'https://deployer.example.com/deploy', SLIPWAY_LOCAL_SERVING_DIR: '/tmp/serving' });
    assert.ok(Object.isFrozen(config.pluginSettings));
    assert.equal(config.localServingDir, '/tmp/serving');
  });

  it('reads the API edge settings and refuses a bad request budget or a short metrics token, naming the setting', () => {
    assert.deepEqual(loadConfig({}).apiEdge, { requestsPerMinute: undefined, metricsToken: undefined });
    assert.deepEqual(loadConfig({ SLIPWAY_API_REQUESTS_PER_MINUTE: '120', SLIPWAY_METRICS_TOKEN: 'a'.repeat(32) }).apiEdge, { requestsPerMinute: 120, metricsToken: 'a'.repeat(32) });
    for (const bad of ['0', '-5', '1.5', 'lots']) assert.throws(() => loadConfig({ SLIPWAY_API_REQUESTS_PER_MINUTE: bad }), /SLIPWAY_API_REQUESTS_PER_MINUTE must be a whole number/);
    assert.throws(() => loadConfig({ SLIPWAY_METRICS_TOKEN: 'short' }), /SLIPWAY_METRICS_TOKEN must be at least 16 characters/);
    assert.throws(() => loadConfig({ SLIPWAY_METRICS_TOKEN: 'has a space in it 0123456789' }), /SLIPWAY_METRICS_TOKEN must not contain spaces/);
  });
});

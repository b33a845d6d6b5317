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
});

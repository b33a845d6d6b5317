import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pluginContext } from '../../test/support/plugin-context';
import { webhookTargetFactory } from './index';

describe('webhook target factory', () => {
  it('builds nothing when neither variable is set', () => {
    assert.equal(webhookTargetFactory(pluginContext({ SLIPWAY_OTHER: 'x' })), null);
  });

  it('builds the `webhook` target from SLIPWAY_WEBHOOK_URL and SLIPWAY_WEBHOOK_SECRET', () => {
    const target = webhookTargetFactory(pluginContext({ SLIPWAY_WEBHOOK_URL: 'https://deployer.example.com/deploy', SLIPWAY_WEBHOOK_SECRET: 's'.repeat(32) }));
    assert.deepEqual([target?.name, target?.supportsWeights], ['webhook', true]);
  });

  it('refuses half a configuration, or a bad value, naming the variable', () => {
    assert.throws(() => webhookTargetFactory(pluginContext({ SLIPWAY_WEBHOOK_URL: 'https://deployer.example.com/deploy' })), {
      message: 'the webhook target needs both SLIPWAY_WEBHOOK_URL and SLIPWAY_WEBHOOK_SECRET (or neither)',
    });
    assert.throws(() => webhookTargetFactory(pluginContext({ SLIPWAY_WEBHOOK_URL: 'ftp://x', SLIPWAY_WEBHOOK_SECRET: 's'.repeat(32) })), {
      message: 'webhook target: SLIPWAY_WEBHOOK_URL must be an http(s) URL',
    });
    assert.throws(() => webhookTargetFactory(pluginContext({ SLIPWAY_WEBHOOK_URL: 'https://deployer.example.com/deploy', SLIPWAY_WEBHOOK_SECRET: 'short' })), /^Error: webhook target: SLIPWAY_WEBHOOK_SECRET must be at least 16 characters/);
  });
});

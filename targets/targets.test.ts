import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pluginContext } from '../test/support/plugin-context';
import { buildTargets } from './index';
import { TARGET_NAMES, WEIGHTED_TARGETS } from './names';

const names = (settings: Record<string, string> = {}, serving = false) => buildTargets(pluginContext(settings, serving)).map((t) => t.name);

describe('the deploy-target list', () => {
  it('builds only the registry target on a worker configured for nothing else', () => {
    assert.deepEqual(names(), ['registry']);
  });

  it('adds the local target when the worker serves models, and the webhook target when its settings name an endpoint', () => {
    assert.deepEqual(names({}, true), ['registry', 'local']);
    assert.deepEqual(names({ SLIPWAY_WEBHOOK_URL: 'https://deployer.example.com/deploy', SLIPWAY_WEBHOOK_SECRET: 's'.repeat(32) }, true), ['registry', 'local', 'webhook']);
  });

  it('lists under TARGET_NAMES exactly the names the fully configured targets answer to, so pipeline checks on apply match the worker', () => {
    assert.deepEqual(names({ SLIPWAY_WEBHOOK_URL: 'https://deployer.example.com/deploy', SLIPWAY_WEBHOOK_SECRET: 's'.repeat(32) }, true), [...TARGET_NAMES]);
  });

  it('lists under WEIGHTED_TARGETS exactly the targets that split traffic by weight, so a canary is refused on apply where it would be 100% at once', () => {
    const built = buildTargets(pluginContext({ SLIPWAY_WEBHOOK_URL: 'https://deployer.example.com/deploy', SLIPWAY_WEBHOOK_SECRET: 's'.repeat(32) }, true));
    assert.deepEqual(built.filter((t) => t.supportsWeights).map((t) => t.name), [...WEIGHTED_TARGETS]);
  });
});

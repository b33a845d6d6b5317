import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pluginContext } from '../test/support/plugin-context';
import { buildHealthSources } from './index';
import { HEALTH_SOURCE_NAMES } from './names';

describe('the health-source list', () => {
  it('builds the registry source everywhere and the local one only where the worker serves models', () => {
    assert.deepEqual(buildHealthSources(pluginContext()).map((h) => h.name), ['registry']);
    assert.deepEqual(buildHealthSources(pluginContext({}, true)).map((h) => h.name), ['registry', 'local']);
  });

  it('lists under HEALTH_SOURCE_NAMES exactly the names the fully configured sources answer to', () => {
    assert.deepEqual(buildHealthSources(pluginContext({}, true)).map((h) => h.name), [...HEALTH_SOURCE_NAMES]);
  });
});

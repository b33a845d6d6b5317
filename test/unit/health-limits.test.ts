import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePipeline } from '../../domain/pipeline';
import { REGISTERED_PLUGINS, checkPluginNames } from '../../registry/policy';

const check = (stage: string, extra = REGISTERED_PLUGINS) => checkPluginNames(parsePipeline(`name: p\nstages:\n  - env: dev\n${stage}`, 'p.yaml'), 'p.yaml', extra);

describe('health limits a stage asks of its health source', () => {
  it('refuses maxPredictionDrift on the registry source, in a bake and in canary analysis, naming the field and the fix', () => {
    assert.deepEqual(check('    bake: 1m\n    healthChecks: { maxPredictionDrift: 0.1 }\n').map((i) => i.path), ['stages[0].healthChecks.maxPredictionDrift']);
    const issues = check('    healthSource: registry\n    strategy: { canary: { steps: [100], interval: 1m, analysis: { maxPredictionDrift: 0.1 } } }\n');
    assert.equal(issues[0]?.path, 'stages[0].strategy.canary.analysis.maxPredictionDrift');
    assert.match(issues[0]?.reason ?? '', /registry health source cannot judge maxPredictionDrift; remove it, or set healthSource to one that can \(local\)/);
  });

  it('accepts what each source judges: minReports and error limits on registry, drift on local, anything on a custom source', () => {
    assert.deepEqual(check('    bake: 1m\n    healthChecks: { minReports: 2, maxErrorRate: 0.1, maxLatencyP99Ms: 200 }\n'), []);
    assert.deepEqual(check('    healthSource: local\n    bake: 1m\n    healthChecks: { maxPredictionDrift: 0.1, minReports: 30 }\n'), []);
    assert.deepEqual(check('    healthSource: prom\n    healthChecks: { maxPredictionDrift: 0.1 }\n', { ...REGISTERED_PLUGINS, healthSources: [...REGISTERED_PLUGINS.healthSources, 'prom'] }), []);
  });
});

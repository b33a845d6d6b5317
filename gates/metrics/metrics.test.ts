import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkOf, fakeVersion, gateContext } from '../../test/support/gate-context';
import { metricsGate } from './index';
import { metricsGateSchema } from './schema';

const config = (fields: Record<string, unknown>) => metricsGateSchema.parse({ type: 'metrics', ...fields });

describe('metrics gate', () => {
  it('passes a version whose registered metrics meet every threshold', async () => {
    const result = await metricsGate.run(gateContext(fakeVersion('v2', { metrics: { accuracy: 0.93, latency_p99_ms: 120 } })), config({ require: { accuracy: '>= 0.9', latency_p99_ms: '<= 250' } }));
    assert.deepEqual([result.type, result.name, result.passed], ['metrics', 'metrics', true]);
    assert.deepEqual(result.checks.map((c) => [c.metric, c.passed]), [['accuracy', true], ['latency_p99_ms', true]]);
  });

  it('fails a version below a threshold or missing a required metric, saying which', async () => {
    const result = await metricsGate.run(gateContext(fakeVersion('v2', { metrics: { accuracy: 0.85 } })), config({ name: 'floor', require: { accuracy: '>= 0.9', auc: '>= 0.8' } }));
    assert.equal(result.passed, false);
    assert.equal(result.name, 'floor');
    assert.equal(checkOf(result, 'accuracy').reason, 'accuracy = 0.85 does not satisfy >= 0.9');
    assert.equal(checkOf(result, 'auc').reason, 'metric auc is not registered on this version');
  });

  it('compares with the live version, lower being better where the config says so', async () => {
    const live = fakeVersion('v1', { metrics: { auc: 0.9, latency_p99_ms: 100 } });
    const within = await metricsGate.run(gateContext(fakeVersion('v2', { metrics: { auc: 0.89, latency_p99_ms: 105 } }), live), config({ noWorseThanLive: { auc: 0.02, latency_p99_ms: 10 }, higherIsBetter: { latency_p99_ms: false } }));
    assert.equal(within.passed, true, JSON.stringify(within));
    const slower = await metricsGate.run(gateContext(fakeVersion('v3', { metrics: { auc: 0.95, latency_p99_ms: 130 } }), live), config({ noWorseThanLive: { latency_p99_ms: 10 }, higherIsBetter: { latency_p99_ms: false } }));
    assert.equal(slower.passed, false);
    assert.match(checkOf(slower, 'latency_p99_ms').reason, /30 worse than live 100, more than the allowed 10 \(lower is better\)/);
  });

  it('rejects a config that checks nothing, or orders a metric it does not compare', () => {
    const nothing = metricsGateSchema.safeParse({ type: 'metrics' });
    assert.equal(nothing.success, false);
    assert.match(nothing.error?.issues[0]?.message ?? '', /a metrics gate checks nothing/);
    const stray = metricsGateSchema.safeParse({ type: 'metrics', require: { auc: '>= 0.8' }, higherIsBetter: { auc: true } });
    assert.deepEqual(stray.error?.issues.map((i) => i.path), [['higherIsBetter', 'auc']]);
  });
});

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../../serving/model-runtime';
import { checkOf, fraudVersion, gateContext } from '../../test/support/gate-context';
import { evalGate } from './index';
import { evalGateSchema } from './schema';

const HOLDOUT = 'models/fraud/data/holdout.csv';
const registered = (v: string) => JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'models', 'fraud', v, 'metrics.json'), 'utf8')) as Record<string, number>;

describe('eval gate', () => {
  it('measures the candidate on held-out rows and finds the figures it was registered with', async () => {
    const result = await evalGate.run(gateContext(fraudVersion('v1')), evalGateSchema.parse({ type: 'eval', dataset: HOLDOUT, require: { auc: '>= 0.85', f1: '>= 0.6' } }));
    assert.equal(result.passed, true, JSON.stringify(result));
    assert.equal(checkOf(result, 'auc').value, registered('v1').auc);
    assert.equal(checkOf(result, 'non_finite_scores').value, 0);
  });

  it('fails a candidate that falls too far below the live version on the same rows', async () => {
    const result = await evalGate.run(gateContext(fraudVersion('v2'), fraudVersion('v1')), evalGateSchema.parse({ type: 'eval', dataset: HOLDOUT, noWorseThanLive: { auc: 0.02 } }));
    assert.equal(result.passed, false);
    assert.match(checkOf(result, 'auc').reason, /worse than live .*more than the allowed 0\.02 .*live v1, same 2000 rows of holdout\.csv/);
  });

  it('answers a failed verdict naming the problem when its dataset is missing: asking again would not help', async () => {
    const result = await evalGate.run(gateContext(fraudVersion('v1')), evalGateSchema.parse({ type: 'eval', dataset: 'models/fraud/data/nope.csv', require: { auc: '>= 0.5' } }));
    assert.deepEqual([result.passed, result.checks], [false, []]);
    assert.match(result.error ?? '', /^cannot evaluate fraud@v1: .*nope\.csv/);
  });

  it('fills in defaults and rejects metrics it does not compute', () => {
    assert.deepEqual(evalGateSchema.parse({ type: 'eval', dataset: HOLDOUT, require: { auc: '>= 0.8' } }), { type: 'eval', dataset: HOLDOUT, label: 'label', threshold: 0.5, require: { auc: '>= 0.8' } });
    const rmse = evalGateSchema.safeParse({ type: 'eval', dataset: HOLDOUT, require: { rmse: '<= 1' } });
    assert.match(rmse.error?.issues[0]?.message ?? '', /is not a metric the eval gate computes; use one of accuracy, auc, f1, precision, recall/);
  });
});

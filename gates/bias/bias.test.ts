import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkOf, fraudVersion, gateContext } from '../../test/support/gate-context';
import { biasGate } from './index';
import { biasGateSchema } from './schema';

const HOLDOUT = 'models/fraud/data/holdout.csv';

describe('bias gate', () => {
  it('measures the demographic-parity gap across the sensitive group and holds it to the limit', async () => {
    const lenient = await biasGate.run(gateContext(fraudVersion('v1')), biasGateSchema.parse({ type: 'bias', dataset: HOLDOUT, maxDemographicParityDiff: 0.1 }));
    assert.equal(lenient.passed, true, JSON.stringify(lenient));
    const gap = checkOf(lenient, 'demographic_parity_diff').value as number;
    const strict = await biasGate.run(gateContext(fraudVersion('v1')), biasGateSchema.parse({ type: 'bias', dataset: HOLDOUT, maxDemographicParityDiff: gap / 2 }));
    assert.equal(strict.passed, false);
    assert.equal(checkOf(strict, 'demographic_parity_diff').value, gap, 'the same gap, judged against a tighter limit');
  });

  it('does not pass when too few rows per group leave nothing to measure', async () => {
    const result = await biasGate.run(gateContext(fraudVersion('v1')), biasGateSchema.parse({ type: 'bias', dataset: HOLDOUT, maxEqualOpportunityDiff: 0.1, minGroupSize: 100_000 }));
    assert.equal(result.passed, false);
    assert.match(checkOf(result, 'equal_opportunity_diff').reason, /cannot be measured/);
  });

  it('answers a failed verdict when the group column is missing', async () => {
    const result = await biasGate.run(gateContext(fraudVersion('v1')), biasGateSchema.parse({ type: 'bias', dataset: HOLDOUT, group: 'region', maxDemographicParityDiff: 0.1 }));
    assert.equal(result.passed, false);
    assert.match(result.error ?? '', /^cannot measure bias of fraud@v1: .*no column "region"/);
  });

  it('rejects a config that checks nothing', () => {
    const nothing = biasGateSchema.safeParse({ type: 'bias', dataset: HOLDOUT });
    assert.match(nothing.error?.issues[0]?.message ?? '', /a bias gate checks nothing/);
  });
});

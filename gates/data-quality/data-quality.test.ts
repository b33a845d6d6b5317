import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { GateContext } from '../types';
import { checkOf, fakeVersion, gateContext, testSandbox } from '../../test/support/gate-context';
import { dataQualityGate } from './index';
import { dataQualityGateSchema } from './schema';

describe('data-quality gate', () => {
  let dir: string;
  let reference: string;
  let current: string;
  // A candidate whose artifact is not a local file: the columns come from the reference's header.
  let ctx: GateContext;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-dq-unit-'));
    ctx = gateContext(fakeVersion('v1'), null, testSandbox({ SLIPWAY_FILE_ROOTS: dir }));
    reference = path.join(dir, 'reference.csv');
    current = path.join(dir, 'current.csv');
    const rows = (f: (i: number) => string) => Array.from({ length: 200 }, (_, i) => f(i)).join('\n');
    fs.writeFileSync(reference, `amount,hour\n${rows((i) => `${(i % 50) + 1},${i % 24}`)}\n`);
    // Refunds (negative amounts) and a few empty hours in the traffic under test.
    fs.writeFileSync(current, `amount,hour\n${rows((i) => `${i % 10 === 0 ? -5 : (i % 50) + 1},${i % 40 === 0 ? '' : i % 24}`)}\n`);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('passes a sample that looks like its reference', async () => {
    const result = await dataQualityGate.run(ctx, dataQualityGateSchema.parse({ type: 'data-quality', reference, current: reference, ranges: { amount: { min: 0 } } }));
    assert.equal(result.passed, true, JSON.stringify(result));
    assert.equal(checkOf(result, 'schema_current').reason, 'reference.csv (200 rows) has the 2 columns from the header of reference.csv, all numeric');
  });

  it('flags values out of range and null cells, with the numbers it measured', async () => {
    const result = await dataQualityGate.run(ctx, dataQualityGateSchema.parse({ type: 'data-quality', reference, current, maxNullRate: 0.01, ranges: { amount: { min: 0 } } }));
    assert.equal(result.passed, false);
    assert.deepEqual([checkOf(result, 'min[amount]').passed, checkOf(result, 'min[amount]').reason], [false, '20 of 200 values of amount are below 0 (lowest -5) in current.csv']);
    assert.deepEqual([checkOf(result, 'null_rate[hour]').value, checkOf(result, 'null_rate[hour]').passed], [0.025, false]);
  });

  it('answers a failed verdict naming the file it could not read', async () => {
    const result = await dataQualityGate.run(ctx, dataQualityGateSchema.parse({ type: 'data-quality', reference, current: path.join(dir, 'nope.csv') }));
    assert.equal(result.passed, false);
    assert.match(result.error ?? '', /^cannot check data quality for fraud@v1: .*nope\.csv/);
  });

  it('fills in PSI defaults', () => {
    const config = dataQualityGateSchema.parse({ type: 'data-quality', reference: 'r.csv', current: 'c.csv' });
    assert.deepEqual([config.maxNullRate, config.psi], [0, { max: 0.2, bins: 10, epsilon: 0.0001, outOfRangeBins: false }]);
  });
});

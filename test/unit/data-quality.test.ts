import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CsvError,
  binIndex,
  binShares,
  isNullCell,
  parseCsv,
  parseNumericCell,
  populationStabilityIndex,
  profileColumn,
  psiBetween,
  quantileBinEdges,
  rangeViolations,
} from '../../domain/data-quality';
import { dataQualityGateSchema } from '../../gates/data-quality/schema';

const close = (actual: number, expected: number, what: string, tolerance = 1e-12) => assert.ok(Math.abs(actual - expected) < tolerance, `${what}: ${actual} != ${expected}`);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const EPS = 1e-4;

describe('population-stability index on crafted distributions', () => {
  it('is 0.109861 for deciles that lose 5 points at the bottom and gain them at the top: 0.1·ln 2 + 0.1·ln 1.5', () => {
    const expected = Array(10).fill(0.1) as number[];
    const actual = [0.05, 0.05, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.15, 0.15];
    // Two bins at (0.05 − 0.1)·ln(0.5) = 0.05·ln 2 each, two at (0.15 − 0.1)·ln(1.5) = 0.05·ln 1.5 each.
    close(populationStabilityIndex(expected, actual), 0.1 * Math.log(2) + 0.1 * Math.log(1.5), 'psi');
    close(populationStabilityIndex(expected, actual), 0.1098612289, 'psi to 10 places', 1e-10);
  });

  it('is symmetric and zero for identical shares', () => {
    const e = [0.2, 0.3, 0.5];
    const a = [0.25, 0.25, 0.5];
    close(populationStabilityIndex(e, a), populationStabilityIndex(a, e), 'swap');
    assert.equal(populationStabilityIndex(e, e), 0);
  });

  it('clips an empty bin to epsilon instead of dividing by zero', () => {
    // (1 − 0.5)·ln(1/0.5) + (ε − 0.5)·ln(ε/0.5)
    const expected = 0.5 * Math.log(2) + (EPS - 0.5) * Math.log(EPS / 0.5);
    close(populationStabilityIndex([0.5, 0.5], [1, 0]), expected, 'psi with an empty bin');
    close(populationStabilityIndex([0.5, 0.5], [1, 0], 0.01), 0.5 * Math.log(2) + (0.01 - 0.5) * Math.log(0.01 / 0.5), 'larger epsilon');
    assert.throws(() => populationStabilityIndex([1], [0.5, 0.5]), /expected has 1 bins but actual has 2/);
    assert.throws(() => populationStabilityIndex([1], [1], 0), /epsilon must be between 0 and 1/);
  });

  it('takes decile edges from the reference by nearest rank: 1..100 gives 10, 20, ..., 90', () => {
    const reference = range(1, 100);
    assert.deepEqual(quantileBinEdges(reference), [10, 20, 30, 40, 50, 60, 70, 80, 90]);
    assert.deepEqual(binShares(reference, quantileBinEdges(reference)), Array(10).fill(0.1));
    // Bins are (edge[i-1], edge[i]]: an edge value belongs to the bin below it.
    assert.deepEqual([binIndex(10, [10, 20]), binIndex(10.5, [10, 20]), binIndex(20, [10, 20]), binIndex(21, [10, 20]), binIndex(-5, [10, 20])], [0, 1, 1, 2, 0]);
  });

  it('is 0 for the same distribution and 3.797 when the current sample fills only the lower half of the deciles', () => {
    const reference = range(1, 100);
    assert.equal(psiBetween(reference, [...reference].reverse()).psi, 0);
    // Each of 1..50 twice: the five lower deciles hold 20% each, the five upper ones nothing (clipped to ε).
    const lowerHalf = [...range(1, 50), ...range(1, 50)];
    const result = psiBetween(reference, lowerHalf);
    close(result.psi, 5 * 0.1 * Math.log(2) + 5 * (EPS - 0.1) * Math.log(EPS / 0.1), 'psi');
    close(result.psi, 3.796998, 'psi to 6 places', 1e-6);
    assert.deepEqual(result.bins.map((b) => b.actual), [0.2, 0.2, 0.2, 0.2, 0.2, 0, 0, 0, 0, 0]);
    assert.deepEqual(result.bins.map((b) => b.range).slice(0, 2), ['<= 10', '(10, 20]']);
  });

  it('collapses repeated edges of a discrete column: a 50/50 binary reference has two bins', () => {
    const reference = [...Array(50).fill(0), ...Array(50).fill(1)] as number[];
    assert.deepEqual(quantileBinEdges(reference), [0]);
    const current = [...Array(80).fill(0), ...Array(20).fill(1)] as number[];
    // (0.8 − 0.5)·ln(1.6) + (0.2 − 0.5)·ln(0.4)
    close(psiBetween(reference, current).psi, 0.3 * Math.log(1.6) + 0.3 * Math.log(2.5), 'psi');
    close(psiBetween(reference, current).psi, 0.415888, 'psi to 6 places', 1e-6);
    assert.deepEqual(quantileBinEdges([7, 7, 7]), [], 'a constant column is one bin');
    assert.equal(psiBetween([7, 7, 7], [1, 2, 3]).psi, 0);
  });

  it('misses values below the reference when they replace its lowest decile, unless out-of-range values get bins of their own', () => {
    const reference = range(1, 100);
    // 1..10 replaced by ten refunds of -5: the open-ended lowest bin still holds 10%.
    const current = [...Array(10).fill(-5), ...range(11, 100)] as number[];
    const plain = psiBetween(reference, current);
    assert.equal(plain.psi, 0);
    assert.equal(plain.belowReference, 10);
    const separate = psiBetween(reference, current, { outOfRangeBins: true });
    // Underflow bin 0 -> 10% and lowest decile 10% -> 0: 2 · (0.1 − ε) · ln(0.1/ε).
    close(separate.psi, 2 * (0.1 - EPS) * Math.log(0.1 / EPS), 'psi with out-of-range bins');
    close(separate.psi, 1.380169, 'psi to 6 places', 1e-6);
    assert.equal(separate.bins.length, 12);
    assert.deepEqual([separate.bins[0]?.range, separate.bins[0]?.actual, separate.bins[11]?.actual], ['< 1 (below the reference)', 0.1, 0]);
  });

  it('refuses to bin without reference values or with fewer than two bins', () => {
    assert.throws(() => quantileBinEdges([]), /no values/);
    assert.throws(() => quantileBinEdges([1, 2], 1), /bins must be a whole number >= 2/);
    assert.throws(() => psiBetween([1, 2], []), /current sample has no values/);
  });
});

describe('CSV cells, null rates and ranges', () => {
  const table = parseCsv(['amount,hour,note', '10.5,3,ok', ',4,"a, quoted ""cell"""', 'NA,5,x', '-2,null,y', '7,abc,z', ''].join('\r\n'));

  it('reads quoted cells with commas and escaped quotes, keeping each row\'s line', () => {
    assert.deepEqual(table.columns, ['amount', 'hour', 'note']);
    assert.equal(table.rows[1]?.[2], 'a, quoted "cell"');
    assert.deepEqual(table.lines, [2, 3, 4, 5, 6]);
  });

  it('counts empty, NA and null cells as nulls and text as non-numeric', () => {
    const amount = profileColumn(table, 'amount');
    assert.deepEqual([amount.nulls, amount.nullRate, amount.nonNumeric, amount.values, amount.min, amount.max], [2, 0.4, 0, [10.5, -2, 7], -2, 10.5]);
    const hour = profileColumn(table, 'hour');
    assert.deepEqual([hour.nulls, hour.nullRate, hour.nonNumeric, hour.firstNonNumeric], [1, 0.2, 1, { line: 6, cell: 'abc' }]);
    assert.throws(() => profileColumn(table, 'amout'), /no column "amout"; columns: amount, hour, note/);
    assert.deepEqual(['', ' NA ', 'n/a', 'NaN', 'None', 'NULL', '0', 'nan1'].map(isNullCell), [true, true, true, true, true, true, false, false]);
    assert.deepEqual(['1', '-2.5', '1e3', '.5', '0x10', 'Infinity', '1,5', ''].map(parseNumericCell), [1, -2.5, 1000, 0.5, undefined, undefined, undefined, undefined]);
  });

  it('counts values outside a range, with the extremes', () => {
    assert.deepEqual(rangeViolations([-3, -1, 0, 5, 12, 20], { min: 0, max: 10 }), { below: 2, above: 2, lowest: -3, highest: 20 });
    assert.deepEqual(rangeViolations([0, 10], { min: 0, max: 10 }), { below: 0, above: 0, lowest: null, highest: null }, 'bounds are inclusive');
    assert.deepEqual(rangeViolations([-1, 99], { max: 50 }), { below: 0, above: 1, lowest: null, highest: 99 });
  });

  it('names the line of a row with the wrong number of cells, and an unclosed quote', () => {
    assert.throws(() => parseCsv('a,b\n1,2\n3\n'), (err: unknown) => err instanceof CsvError && err.message === 'line 3: 1 cells, but the header has 2 (a, b)');
    assert.throws(() => parseCsv('a,b\n1,"2\n'), /line 2: a quoted cell is never closed/);
    assert.throws(() => parseCsv(''), /empty/);
  });
});

describe('data-quality gate config', () => {
  it('fills in PSI defaults (deciles, 0.2, epsilon 0.0001) and rejects a range with no bound or min above max', () => {
    const config = dataQualityGateSchema.parse({ type: 'data-quality', reference: 'r.csv', current: 'c.csv' });
    assert.deepEqual(config.psi, { max: 0.2, bins: 10, epsilon: 0.0001, outOfRangeBins: false });
    assert.equal(config.maxNullRate, 0);
    const bad = dataQualityGateSchema.safeParse({ type: 'data-quality', reference: 'r.csv', current: 'c.csv', ranges: { amount: {}, hour: { min: 5, max: 1 }, 'bad-name': { min: 0 } } });
    assert.equal(bad.success, false);
    const issues = bad.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? [];
    assert.ok(issues.includes('ranges.amount: gives no bound: set "min" and/or "max"'), issues.join('\n'));
    assert.ok(issues.includes('ranges.hour.max: must be at least min (5)'), issues.join('\n'));
    assert.ok(issues.some((i) => i.startsWith('ranges.bad-name: is not a column name')), issues.join('\n'));
  });
});

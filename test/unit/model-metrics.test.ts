import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  accuracy,
  classificationMetrics,
  confusion,
  demographicParityDifference,
  equalOpportunityDifference,
  f1,
  histogramQuantile,
  precision,
  recall,
  rocAuc,
} from '../../domain/model-metrics';
import { Rng, SEED, generateTransactions } from '../../models/train';

const close = (actual: number, expected: number, what: string) => assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: ${actual} != ${expected}`);

describe('classification metrics on crafted vectors', () => {
  // Worked by hand at threshold 0.5: predicted positive at 0, 1, 3, 4, 8 -> tp 3 (0, 1, 3), fp 2 (4, 8), fn 1 (2), tn 4.
  const labels = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0];
  const scores = [0.9, 0.8, 0.4, 0.6, 0.7, 0.2, 0.1, 0.3, 0.55, 0.05];

  it('counts the confusion matrix and derives accuracy, precision, recall and F1 from it', () => {
    const c = confusion(labels, scores, 0.5);
    assert.deepEqual(c, { tp: 3, fp: 2, tn: 4, fn: 1 });
    close(accuracy(c), 0.7, 'accuracy');
    close(precision(c), 0.6, 'precision');
    close(recall(c), 0.75, 'recall');
    close(f1(c), 2 / 3, 'f1 = 2tp / (2tp + fp + fn) = 6/9');
  });

  it('computes AUC as the share of positive-negative pairs ranked right', () => {
    // Pairs won by each positive: 0.9 -> 6, 0.8 -> 6, 0.6 -> 5 (loses to 0.7), 0.4 -> 4; 21 of 24.
    close(rocAuc(labels, scores), 21 / 24, 'auc');
    close(classificationMetrics(labels, scores).auc, 0.875, 'classificationMetrics.auc');
  });

  it('counts tied scores as half a win', () => {
    // Pairs: (0.8 vs 0.8) 0.5, (0.8 vs 0.1) 1, (0.3 vs 0.8) 0, (0.3 vs 0.1) 1 -> 2.5 / 4.
    close(rocAuc([1, 0, 1, 0], [0.8, 0.8, 0.3, 0.1]), 0.625, 'auc with a tie');
    close(rocAuc([1, 0, 1, 0], [0.5, 0.5, 0.5, 0.5]), 0.5, 'all tied');
    close(rocAuc([1, 1, 0, 0], [0.9, 0.8, 0.2, 0.1]), 1, 'perfect');
    close(rocAuc([1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9]), 0, 'perfectly wrong');
  });

  it('gives 0 for undefined ratios instead of NaN, and refuses what it cannot compute', () => {
    const none = confusion([0, 0, 1], [0.1, 0.2, 0.3], 0.5);
    assert.equal(precision(none), 0);
    assert.equal(f1(none), 0);
    assert.throws(() => rocAuc([1, 1], [0.2, 0.3]), /both classes/);
    assert.throws(() => rocAuc([1, 0], [Number.NaN, 0.3]), /not a finite number/);
    assert.throws(() => confusion([1, 2], [0.2, 0.3]), /labels must be 0 or 1/);
    assert.throws(() => confusion([1], [0.2, 0.3]), /equal lengths/);
  });
});

describe('fairness gaps across a sensitive group', () => {
  const groups = ['a', 'a', 'a', 'a', 'b', 'b', 'b', 'b'];
  const labels = [1, 1, 0, 0, 1, 1, 0, 0];
  const scores = [0.9, 0.7, 0.6, 0.1, 0.8, 0.2, 0.3, 0.1];

  it('measures demographic parity as the gap in positive-prediction rates', () => {
    // a: 3 of 4 predicted positive; b: 1 of 4.
    const gap = demographicParityDifference(groups, scores, 0.5);
    close(gap.difference, 0.5, 'parity gap');
    assert.deepEqual(gap.groups, [
      { group: 'a', rate: 0.75, n: 4 },
      { group: 'b', rate: 0.25, n: 4 },
    ]);
  });

  it('measures equal opportunity as the gap in true-positive rates', () => {
    // Positives: a has 2, both caught; b has 2, one caught.
    const gap = equalOpportunityDifference(labels, groups, scores, 0.5);
    close(gap.difference, 0.5, 'opportunity gap');
    assert.deepEqual(gap.groups.map((g) => [g.group, g.rate, g.n]), [['a', 1, 2], ['b', 0.5, 2]]);
  });

  it('leaves groups below the minimum size out of the gap but still lists them', () => {
    const gap = demographicParityDifference([...groups, 'c'], [...scores, 0.99], 0.5, 2);
    close(gap.difference, 0.5, 'c (one row, rate 1) is not judged');
    assert.equal(gap.groups.find((g) => g.group === 'c')?.n, 1);
    assert.equal(demographicParityDifference(['a', 'b'], [0.9, 0.1], 0.5, 2).difference, 0, 'no group big enough: no gap measured');
  });
});

describe('histogram quantiles (Prometheus histogram_quantile)', () => {
  const buckets = [
    { le: 0.1, count: 50 },
    { le: 0.2, count: 90 },
    { le: 0.5, count: 100 },
    { le: Infinity, count: 100 },
  ];

  it('interpolates inside the bucket that holds the rank', () => {
    close(histogramQuantile(0.99, buckets) as number, 0.2 + (0.3 * 9) / 10, 'p99 in (0.2, 0.5]');
    close(histogramQuantile(0.5, buckets) as number, 0.1, 'p50 at the top of the first bucket');
  });

  it('answers the highest finite bound for ranks in +Inf, and null for no observations', () => {
    assert.equal(histogramQuantile(0.99, [{ le: 0.1, count: 1 }, { le: Infinity, count: 10 }]), 0.1);
    assert.equal(histogramQuantile(0.99, [{ le: 0.1, count: 0 }, { le: Infinity, count: 0 }]), null);
  });
});

describe('the synthetic fraud data behind models/fraud', () => {
  it('is the same for the same seed, so the committed models can be rebuilt', () => {
    const a = generateTransactions(new Rng(SEED), 200);
    const b = generateTransactions(new Rng(SEED), 200);
    assert.deepEqual(a, b);
    assert.notDeepEqual(generateTransactions(new Rng(SEED + 1), 200), a);
  });

  it('has both classes, both groups and positive amounts', () => {
    const rows = generateTransactions(new Rng(SEED), 2000);
    const fraudRate = rows.filter((r) => r.label === 1).length / rows.length;
    const groupRate = rows.filter((r) => r.group === 1).length / rows.length;
    assert.ok(fraudRate > 0.1 && fraudRate < 0.4, `fraud rate ${fraudRate}`);
    assert.ok(groupRate > 0.2 && groupRate < 0.4, `group 1 share ${groupRate}`);
    assert.ok(rows.every((r) => (r.features[0] as number) > 0), 'training never sees refunds');
  });
});

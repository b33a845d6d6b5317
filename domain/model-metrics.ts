/**
 * Model-quality and fairness math for the computing gates and the trainer:
 * confusion counts, accuracy / precision / recall / F1, ROC AUC, the
 * demographic-parity and equal-opportunity gaps across a sensitive group, and
 * Prometheus-style histogram quantiles for serving latency.
 *
 * Pure: no I/O, so the same numbers come out of the trainer, the gates and
 * the tests.
 */

/** Confusion holds the four counts of a binary classifier at one threshold. */
export interface Confusion {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}

/** ClassificationMetrics are the held-out figures the eval gate checks. */
export interface ClassificationMetrics {
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
  auc: number;
  rows: number;
  positives: number;
}

/** confusion counts predictions (score >= threshold is positive) against 0/1 labels. */
export function confusion(labels: ArrayLike<number>, scores: ArrayLike<number>, threshold = 0.5): Confusion {
  sameLength(labels, scores);
  const c: Confusion = { tp: 0, fp: 0, tn: 0, fn: 0 };
  for (let i = 0; i < labels.length; i++) {
    const actual = label(labels[i] as number, i);
    const predicted = (scores[i] as number) >= threshold;
    if (predicted && actual) c.tp++;
    else if (predicted) c.fp++;
    else if (actual) c.fn++;
    else c.tn++;
  }
  return c;
}

/** accuracy is the share of correct predictions (0 for no rows). */
export function accuracy(c: Confusion): number {
  const n = c.tp + c.fp + c.tn + c.fn;
  return n === 0 ? 0 : (c.tp + c.tn) / n;
}

/** precision is tp / (tp + fp); 0 when nothing was predicted positive. */
export function precision(c: Confusion): number {
  return c.tp + c.fp === 0 ? 0 : c.tp / (c.tp + c.fp);
}

/** recall (true-positive rate) is tp / (tp + fn); 0 when there are no positives. */
export function recall(c: Confusion): number {
  return c.tp + c.fn === 0 ? 0 : c.tp / (c.tp + c.fn);
}

/** f1 is the harmonic mean of precision and recall, 2tp / (2tp + fp + fn); 0 when undefined. */
export function f1(c: Confusion): number {
  const d = 2 * c.tp + c.fp + c.fn;
  return d === 0 ? 0 : (2 * c.tp) / d;
}

/**
 * rocAuc is the area under the ROC curve: the chance that a random positive
 * scores above a random negative (ties count half), by the rank-sum
 * (Mann-Whitney) formula. Throws when either class is missing.
 */
export function rocAuc(labels: ArrayLike<number>, scores: ArrayLike<number>): number {
  sameLength(labels, scores);
  const n = labels.length;
  const order = Array.from({ length: n }, (_, i) => i);
  for (const i of order) {
    if (!Number.isFinite(scores[i] as number)) throw new Error(`score ${i} is not a finite number (${String(scores[i])}); AUC needs finite scores`);
  }
  order.sort((a, b) => (scores[a] as number) - (scores[b] as number));
  let positives = 0;
  let positiveRankSum = 0;
  // Tied scores share the average of the ranks they span (1-based).
  for (let start = 0; start < n; ) {
    let end = start;
    while (end + 1 < n && scores[order[end + 1] as number] === scores[order[start] as number]) end++;
    const averageRank = (start + end + 2) / 2;
    for (let k = start; k <= end; k++) {
      const i = order[k] as number;
      if (label(labels[i] as number, i)) {
        positives++;
        positiveRankSum += averageRank;
      }
    }
    start = end + 1;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) throw new Error(`AUC needs both classes; got ${positives} positive and ${negatives} negative rows`);
  return (positiveRankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** classificationMetrics computes every eval figure at once. */
export function classificationMetrics(labels: ArrayLike<number>, scores: ArrayLike<number>, threshold = 0.5): ClassificationMetrics {
  const c = confusion(labels, scores, threshold);
  return {
    accuracy: accuracy(c),
    precision: precision(c),
    recall: recall(c),
    f1: f1(c),
    auc: rocAuc(labels, scores),
    rows: labels.length,
    positives: c.tp + c.fn,
  };
}

/** GroupRate is one sensitive group's rate and how many rows it rests on. */
export interface GroupRate {
  group: string;
  rate: number;
  /** Rows the rate is computed over (all rows of the group, or its positives for equal opportunity). */
  n: number;
}

/** GroupGap is the largest difference of a rate across groups, with each group's rate. */
export interface GroupGap {
  difference: number;
  groups: GroupRate[];
}

/**
 * demographicParityDifference is max - min over groups of the share of rows
 * predicted positive. Groups with fewer than minGroupSize rows are listed but
 * left out of the gap, since their rate is mostly noise.
 */
export function demographicParityDifference(
  groups: ArrayLike<number | string>,
  scores: ArrayLike<number>,
  threshold = 0.5,
  minGroupSize = 1,
): GroupGap {
  sameLength(groups, scores);
  const tally = new Map<string, { positive: number; n: number }>();
  for (let i = 0; i < groups.length; i++) {
    const t = bucket(tally, String(groups[i]));
    t.n++;
    if ((scores[i] as number) >= threshold) t.positive++;
  }
  return gap([...tally].map(([group, t]) => ({ group, rate: t.n === 0 ? 0 : t.positive / t.n, n: t.n })), minGroupSize);
}

/**
 * equalOpportunityDifference is max - min over groups of the true-positive
 * rate (recall among rows whose label is 1); groups with fewer than
 * minGroupSize positives are listed but left out of the gap.
 */
export function equalOpportunityDifference(
  labels: ArrayLike<number>,
  groups: ArrayLike<number | string>,
  scores: ArrayLike<number>,
  threshold = 0.5,
  minGroupSize = 1,
): GroupGap {
  sameLength(labels, scores);
  sameLength(groups, scores);
  const tally = new Map<string, { positive: number; n: number }>();
  for (let i = 0; i < labels.length; i++) {
    const t = bucket(tally, String(groups[i]));
    if (!label(labels[i] as number, i)) continue;
    t.n++;
    if ((scores[i] as number) >= threshold) t.positive++;
  }
  return gap([...tally].map(([group, t]) => ({ group, rate: t.n === 0 ? 0 : t.positive / t.n, n: t.n })), minGroupSize);
}

/** HistogramBucket is one cumulative Prometheus bucket: how many observations were <= le. */
export interface HistogramBucket {
  le: number;
  count: number;
}

/**
 * histogramQuantile estimates a quantile from cumulative buckets the way
 * Prometheus's histogram_quantile does: linear inside the bucket that holds
 * it; the highest finite bound when it falls in the +Inf bucket; null for no
 * observations.
 */
export function histogramQuantile(q: number, buckets: HistogramBucket[]): number | null {
  if (!(q >= 0 && q <= 1)) throw new Error(`quantile must be between 0 and 1; got ${q}`);
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const total = sorted.at(-1)?.count ?? 0;
  if (total === 0) return null;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const b of sorted) {
    if (b.count >= rank) {
      if (b.le === Infinity) return lowerBound;
      const inBucket = b.count - lowerCount;
      return inBucket === 0 ? b.le : lowerBound + ((b.le - lowerBound) * (rank - lowerCount)) / inBucket;
    }
    lowerBound = b.le;
    lowerCount = b.count;
  }
  return lowerBound;
}

function gap(rates: GroupRate[], minGroupSize: number): GroupGap {
  const groups = rates.sort((a, b) => a.group.localeCompare(b.group, 'en'));
  const judged = groups.filter((g) => g.n >= minGroupSize);
  if (judged.length < 2) return { difference: 0, groups };
  const values = judged.map((g) => g.rate);
  return { difference: Math.max(...values) - Math.min(...values), groups };
}

function bucket(tally: Map<string, { positive: number; n: number }>, key: string): { positive: number; n: number } {
  let t = tally.get(key);
  if (!t) {
    t = { positive: 0, n: 0 };
    tally.set(key, t);
  }
  return t;
}

function label(value: number, i: number): boolean {
  if (value === 1) return true;
  if (value === 0) return false;
  throw new Error(`label ${i} is ${String(value)}; labels must be 0 or 1`);
}

function sameLength(a: ArrayLike<unknown>, b: ArrayLike<unknown>): void {
  if (a.length !== b.length) throw new Error(`expected equal lengths, got ${a.length} and ${b.length}`);
}

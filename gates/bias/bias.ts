/**
 * The `bias` gate: runs the candidate on a held-out CSV that carries a
 * sensitive-group column the model never sees, and checks the
 * demographic-parity gap (difference in positive-prediction rates between
 * groups) and the equal-opportunity gap (difference in true-positive rates)
 * against the stage's limits.
 */
import path from 'node:path';
import { demographicParityDifference, equalOpportunityDifference, type GroupGap } from '../../domain/model-metrics';
import type { GateCheck } from '../../domain/thresholds';
import { columnValues, loadDataset, scoreVersion } from '../../lib/dataset-scoring';
import { isSandboxRefusal } from '../../lib/sandbox';
import type { GateRun } from '../types';
import { failedVerdict } from '../verdicts';
import type { BiasGateConfig } from './schema';

/** runBiasGate measures the candidate's fairness gaps across the sensitive group and checks them. */
export const runBiasGate: GateRun<BiasGateConfig> = async (ctx, config) => {
  const name = config.name ?? 'bias';
  try {
    const dataset = await loadDataset(config.dataset, ctx.sandbox.files);
    const labels = columnValues(dataset, config.label);
    const groups = columnValues(dataset, config.group);
    const scores = await scoreVersion(ctx.candidate, dataset, { features: config.features, exclude: [config.label, config.group] }, ctx.sandbox.files);
    const keep = labels.map((_, i) => i).filter((i) => Number.isFinite(scores[i]));
    const pick = <T>(values: ArrayLike<T>) => keep.map((i) => values[i] as T);
    const rows = `${keep.length} rows of ${path.basename(dataset.file)}`;
    const checks: GateCheck[] = [];
    if (config.maxDemographicParityDiff !== undefined) {
      const gap = demographicParityDifference(pick(groups), pick(scores), config.threshold, config.minGroupSize);
      checks.push(gapCheck('demographic_parity_diff', 'positive-prediction rate', gap, config.maxDemographicParityDiff, config.minGroupSize, rows));
    }
    if (config.maxEqualOpportunityDiff !== undefined) {
      const gap = equalOpportunityDifference(pick(labels), pick(groups), pick(scores), config.threshold, config.minGroupSize);
      checks.push(gapCheck('equal_opportunity_diff', 'true-positive rate', gap, config.maxEqualOpportunityDiff, config.minGroupSize, rows));
    }
    return { type: 'bias', name, passed: checks.every((c) => c.passed), checks };
  } catch (err) {
    // A refusal is the gate activity's to record and audit.
    if (isSandboxRefusal(err)) throw err;
    return failedVerdict('bias', name, `cannot measure bias of ${ctx.candidate.model}@${ctx.candidate.version}: ${(err as Error).message}`);
  }
};

// One gap as a check; fewer than two groups big enough to judge fails, since nothing was measured.
function gapCheck(metric: string, rateName: string, gap: GroupGap, max: number, minGroupSize: number, rows: string): GateCheck {
  const byGroup = gap.groups.map((g) => `${g.group} = ${(g.rate * 100).toFixed(1)}% (n=${g.n}${g.n < minGroupSize ? ', too few to judge' : ''})`).join(', ');
  const judged = gap.groups.filter((g) => g.n >= minGroupSize).length;
  const value = Number(gap.difference.toFixed(4));
  if (judged < 2) {
    return { metric, value: null, threshold: `<= ${max}`, passed: false, reason: `${rateName} by group: ${byGroup}; fewer than two groups have ${minGroupSize}+ rows, so the gap cannot be measured (${rows})` };
  }
  const passed = value <= max;
  return { metric, value, threshold: `<= ${max}`, passed, reason: `${rateName} by group: ${byGroup}; gap ${value} ${passed ? '<=' : '>'} ${max} (${rows})` };
}

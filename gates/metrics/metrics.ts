/**
 * The `metrics` gate: thresholds on the candidate's registered metrics, and
 * "no worse than the live version by more than X".
 */
import { checkNoWorseThan, checkThreshold } from '../../domain/thresholds';
import type { GateRun } from '../types';
import type { MetricsGateConfig } from './schema';

/** runMetricsGate compares registered metrics with thresholds and with the live version. */
export const runMetricsGate: GateRun<MetricsGateConfig> = async (ctx, config) => {
  const metrics = ctx.candidate.metrics ?? {};
  const checks = Object.entries(config.require ?? {}).map(([metric, comparator]) =>
    checkThreshold(metric, metrics[metric], comparator),
  );
  for (const [metric, maxDrop] of Object.entries(config.noWorseThanLive ?? {})) {
    const higherIsBetter = config.higherIsBetter?.[metric] ?? true;
    checks.push(checkNoWorseThan(metric, metrics[metric], ctx.live?.metrics?.[metric], maxDrop, higherIsBetter));
  }
  return { type: 'metrics', name: config.name ?? 'metrics', passed: checks.every((c) => c.passed), checks };
};

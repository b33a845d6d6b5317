/**
 * The `metrics` gate: thresholds on the candidate's registered metrics, and
 * "no worse than the live version by more than X".
 */
import { metricsGateSchema, type MetricsGateConfig } from '../../domain/pipeline';
import { checkNoWorseThan, checkThreshold } from '../../domain/thresholds';
import type { Gate } from './types';

/** metricsGate compares registered metrics with thresholds and with the live version. */
export const metricsGate: Gate<MetricsGateConfig> = {
  type: 'metrics',
  configSchema: metricsGateSchema,
  async run(ctx, config) {
    const metrics = ctx.candidate.metrics ?? {};
    const checks = Object.entries(config.require ?? {}).map(([metric, comparator]) =>
      checkThreshold(metric, metrics[metric], comparator),
    );
    for (const [metric, maxDrop] of Object.entries(config.noWorseThanLive ?? {})) {
      const higherIsBetter = config.higherIsBetter?.[metric] ?? true;
      checks.push(checkNoWorseThan(metric, metrics[metric], ctx.live?.metrics?.[metric], maxDrop, higherIsBetter));
    }
    return { type: 'metrics', name: config.name ?? 'metrics', passed: checks.every((c) => c.passed), checks };
  },
};

/** The `metrics` gate's config: thresholds on the candidate's registered metrics, and how far below the live version it may fall. */
import { z } from 'zod';
import { comparatorSchema, metricMap } from '../../domain/fields';
import { defineGateConfig } from '../fields';

/** metricsGateSchema checks a version's registered metrics against fixed thresholds and against the live version. */
export const metricsGateSchema = defineGateConfig('metrics', {
  // Metric name -> comparison the candidate must satisfy, e.g. accuracy: ">= 0.90".
  require: metricMap(comparatorSchema).optional(),
  // Metric name -> largest allowed drop from the live version, in the metric's own units.
  noWorseThanLive: metricMap(z.number().min(0, 'must be the largest allowed drop, a number >= 0 (0 means no worse at all)')).optional(),
  // Metric name -> false for metrics where lower is better (latency); missing means higher is better.
  higherIsBetter: metricMap(z.boolean({ error: 'must be true or false' })).optional(),
}).superRefine((gate, ctx) => {
  const required = Object.keys(gate.require ?? {}).length;
  const compared = Object.keys(gate.noWorseThanLive ?? {}).length;
  if (required + compared === 0) {
    ctx.addIssue({ code: 'custom', message: 'a metrics gate checks nothing: give "require" and/or "noWorseThanLive" with at least one metric' });
  }
  for (const metric of Object.keys(gate.higherIsBetter ?? {})) {
    if (!Object.hasOwn(gate.noWorseThanLive ?? {}, metric)) {
      ctx.addIssue({
        code: 'custom',
        path: ['higherIsBetter', metric],
        message: `only applies to metrics under noWorseThanLive; add noWorseThanLive.${metric} or remove this entry`,
      });
    }
  }
});

/** MetricsGateConfig is the config of a `metrics` gate. */
export type MetricsGateConfig = z.output<typeof metricsGateSchema>;

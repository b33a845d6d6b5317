/** The `eval` gate's config: a held-out CSV, and the classification metrics the candidate must reach on it. */
import { z } from 'zod';
import { comparatorSchema, metricMap } from '../../domain/fields';
import { columnNameSchema, datasetPathSchema, defineGateConfig, featureColumnsSchema, scoreThresholdSchema } from '../fields';

/** EVAL_METRICS are the metrics the eval gate computes. */
export const EVAL_METRICS = ['accuracy', 'auc', 'f1', 'precision', 'recall'];

/** evalGateSchema runs the candidate (and the live version) on a held-out CSV and checks accuracy, AUC, F1, precision, recall. */
export const evalGateSchema = defineGateConfig('eval', {
  dataset: datasetPathSchema,
  // Column holding the true 0/1 label.
  label: columnNameSchema.default('label'),
  features: featureColumnsSchema.optional(),
  threshold: scoreThresholdSchema.default(0.5),
  // Metric -> comparison the candidate must satisfy, e.g. auc: ">= 0.85".
  require: metricMap(comparatorSchema).optional(),
  // Metric -> largest allowed drop from the live version, both measured on the same rows.
  noWorseThanLive: metricMap(z.number().min(0, 'must be the largest allowed drop, a number >= 0 (0 means no worse at all)')).optional(),
}).superRefine((gate, ctx) => {
  for (const field of ['require', 'noWorseThanLive'] as const) {
    for (const metric of Object.keys(gate[field] ?? {})) {
      if (!EVAL_METRICS.includes(metric)) ctx.addIssue({ code: 'custom', path: [field, metric], message: `is not a metric the eval gate computes; use one of ${EVAL_METRICS.join(', ')}` });
    }
  }
  if (Object.keys(gate.require ?? {}).length + Object.keys(gate.noWorseThanLive ?? {}).length === 0) {
    ctx.addIssue({ code: 'custom', message: `an eval gate checks nothing: give "require" and/or "noWorseThanLive" with at least one of ${EVAL_METRICS.join(', ')}` });
  }
});

/** EvalGateConfig is the config of an `eval` gate. */
export type EvalGateConfig = z.output<typeof evalGateSchema>;

/** The `bias` gate's config: a held-out CSV with a sensitive-group column, and the largest fairness gaps allowed. */
import { z } from 'zod';
import { rateSchema } from '../../domain/fields';
import { columnNameSchema, datasetPathSchema, defineGateConfig, featureColumnsSchema, scoreThresholdSchema } from '../fields';

/** biasGateSchema measures fairness across a sensitive group on a held-out CSV: demographic-parity and equal-opportunity gaps. */
export const biasGateSchema = defineGateConfig('bias', {
  dataset: datasetPathSchema,
  // Column holding the true 0/1 label (equal opportunity compares true-positive rates).
  label: columnNameSchema.default('label'),
  // Column holding each row's sensitive group: measured, never fed to the model.
  group: columnNameSchema.default('group'),
  features: featureColumnsSchema.optional(),
  threshold: scoreThresholdSchema.default(0.5),
  // Largest allowed gap between the groups' shares of positive predictions.
  maxDemographicParityDiff: rateSchema.optional(),
  // Largest allowed gap between the groups' true-positive rates.
  maxEqualOpportunityDiff: rateSchema.optional(),
  // Smaller groups (fewer positives, for equal opportunity) are shown but not judged: their rates are mostly noise.
  minGroupSize: z.number({ error: 'must be a whole number >= 1' }).int('must be a whole number >= 1').min(1, 'must be at least 1').default(30),
}).superRefine((gate, ctx) => {
  if (gate.maxDemographicParityDiff === undefined && gate.maxEqualOpportunityDiff === undefined) {
    ctx.addIssue({ code: 'custom', message: 'a bias gate checks nothing: give maxDemographicParityDiff and/or maxEqualOpportunityDiff' });
  }
});

/** BiasGateConfig is the config of a `bias` gate. */
export type BiasGateConfig = z.output<typeof biasGateSchema>;

/** The `data-quality` gate's config: a reference CSV and a traffic sample, with null-rate, range and PSI limits. */
import { z } from 'zod';
import { columnMap, isPlainObject, rateSchema, strictObject } from '../../domain/fields';
import { datasetPathSchema, defineGateConfig, featureColumnsSchema } from '../fields';

const valueRangeSchema = strictObject({
  min: z.number({ error: 'must be a number' }).optional(),
  max: z.number({ error: 'must be a number' }).optional(),
}).superRefine(
  (range, ctx) => {
    if (range.min === undefined && range.max === undefined) ctx.addIssue({ code: 'custom', message: 'gives no bound: set "min" and/or "max"' });
    if (typeof range.min === 'number' && typeof range.max === 'number' && range.min > range.max) {
      ctx.addIssue({ code: 'custom', path: ['max'], message: `must be at least min (${range.min})` });
    }
  },
  { when: (payload) => isPlainObject(payload.value) },
);

const psiSchema = strictObject({
  // Largest allowed index per column: < 0.1 stable, 0.1-0.25 moderate shift, > 0.25 major shift.
  max: z.number({ error: 'must be a number > 0, such as 0.2' }).positive('must be greater than 0, such as 0.2').default(0.2),
  // Equal-count bins taken from the reference (10: deciles).
  bins: z.number({ error: 'must be a whole number from 2 to 100' }).int('must be a whole number from 2 to 100').min(2, 'must be at least 2').max(100, 'must be at most 100').default(10),
  // Share an empty bin is clipped to, so ln(a/e) stays finite; smaller makes empty bins weigh more.
  epsilon: z.number({ error: 'must be a small share such as 0.0001' }).gt(0, 'must be greater than 0').max(0.01, 'must be at most 0.01').default(0.0001),
  // Columns compared; absent means every checked column.
  columns: featureColumnsSchema.optional(),
  // Values outside the reference's [min, max] get bins of their own (expected share 0) instead of joining the outer bins.
  outOfRangeBins: z.boolean({ error: 'must be true or false' }).default(false),
});

/** dataQualityGateSchema checks a recent traffic sample against a reference CSV: schema, null rates, value ranges, PSI per column. */
export const dataQualityGateSchema = defineGateConfig('data-quality', {
  // The training snapshot or held-out CSV the bins and the schema come from.
  reference: datasetPathSchema,
  // The recent traffic sample under test.
  current: datasetPathSchema,
  // Columns that must be present and numeric; absent means the candidate's manifest.json features, else the reference's columns.
  columns: featureColumnsSchema.optional(),
  // Largest share of null cells (empty, NA, NaN, null, None) in any column of the current sample.
  maxNullRate: rateSchema.default(0),
  // Per-column overrides of maxNullRate.
  maxNullRateByColumn: columnMap(rateSchema).optional(),
  // Column -> allowed [min, max] of the current sample's values, e.g. amount: { min: 0 }.
  ranges: columnMap(valueRangeSchema).optional(),
  psi: psiSchema.prefault({}),
});

/** DataQualityGateConfig is the config of a `data-quality` gate. */
export type DataQualityGateConfig = z.output<typeof dataQualityGateSchema>;

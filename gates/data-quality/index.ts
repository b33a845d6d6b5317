/** The `data-quality` gate: a traffic sample against a reference CSV (schema, null rates, ranges, PSI). */
import { defineGate } from '../types';
import { dataQualityGateSchema } from './schema';

/** dataQualityGate registers the `data-quality` gate: its config schema now, its implementation when it first runs. */
export const dataQualityGate = defineGate({
  type: 'data-quality',
  configSchema: dataQualityGateSchema,
  load: () => (require('./data-quality') as typeof import('./data-quality')).runDataQualityGate,
});

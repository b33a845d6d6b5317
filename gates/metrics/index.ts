/** The `metrics` gate: thresholds on the candidate's registered metrics, and how far below the live version it may fall. */
import { defineGate } from '../types';
import { metricsGateSchema } from './schema';

/** metricsGate registers the `metrics` gate: its config schema now, its implementation when it first runs. */
export const metricsGate = defineGate({
  type: 'metrics',
  configSchema: metricsGateSchema,
  load: () => (require('./metrics') as typeof import('./metrics')).runMetricsGate,
});

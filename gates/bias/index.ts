/** The `bias` gate: demographic-parity and equal-opportunity gaps of the candidate across a sensitive group. */
import { defineGate } from '../types';
import { biasGateSchema } from './schema';

/** biasGate registers the `bias` gate: its config schema now, its implementation when it first runs. */
export const biasGate = defineGate({
  type: 'bias',
  configSchema: biasGateSchema,
  load: () => (require('./bias') as typeof import('./bias')).runBiasGate,
});

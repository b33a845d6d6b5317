/** The `eval` gate: the candidate's ONNX model scored on a held-out CSV, its accuracy, AUC, F1, precision and recall checked. */
import { defineGate } from '../types';
import { evalGateSchema } from './schema';

/** evalGate registers the `eval` gate: its config schema now, its implementation when it first runs. */
export const evalGate = defineGate({
  type: 'eval',
  configSchema: evalGateSchema,
  load: () => (require('./eval') as typeof import('./eval')).runEvalGate,
});

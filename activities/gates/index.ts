/** Gates registered by type; the release runs whichever its pipeline names. */
import { biasGate } from './bias';
import { evalGate } from './eval';
import { metricsGate } from './metrics';
import type { Gate } from './types';

/** GateRegistry maps a gate type to its implementation. */
export type GateRegistry = Map<string, Gate>;

/** defaultGates are the gates every worker registers. */
export function defaultGates(): GateRegistry {
  return new Map<string, Gate>([
    [metricsGate.type, metricsGate as Gate],
    [evalGate.type, evalGate as Gate],
    [biasGate.type, biasGate as Gate],
  ]);
}

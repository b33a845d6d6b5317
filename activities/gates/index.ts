/** Gates registered by type; the release runs whichever its pipeline names. */
import { biasGate } from './bias';
import { dataQualityGate } from './data-quality';
import { evalGate } from './eval';
import { metricsGate } from './metrics';
import { promptSuiteGate } from './prompt-suite';
import type { Gate } from './types';
import { webhookGate } from './webhook';

/** GateRegistry maps a gate type to its implementation. */
export type GateRegistry = Map<string, Gate>;

/** defaultGates are the gates every worker registers. */
export function defaultGates(): GateRegistry {
  return new Map<string, Gate>([
    [metricsGate.type, metricsGate as Gate],
    [evalGate.type, evalGate as Gate],
    [biasGate.type, biasGate as Gate],
    [webhookGate.type, webhookGate as Gate],
    [dataQualityGate.type, dataQualityGate as Gate],
    [promptSuiteGate.type, promptSuiteGate as Gate],
  ]);
}

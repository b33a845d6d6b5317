/**
 * Every gate type, in one list: pipeline validation (domain/pipeline.ts)
 * takes each type's config schema from here, and the worker runs whichever
 * type a pipeline names. Adding a gate is a folder (schema.ts, the
 * implementation, its test, index.ts) and its entry below (with its import).
 *
 * Pure, because pipeline parsing imports it (the CLI and the API parse
 * pipelines too): each folder's index.ts holds only the schema and loads its
 * implementation, with the files, HTTP and onnxruntime that brings, when the
 * gate first runs in a worker.
 */
import { biasGate } from './bias';
import { dataQualityGate } from './data-quality';
import { evalGate } from './eval';
import { metricsGate } from './metrics';
import { promptSuiteGate } from './prompt-suite';
import type { Gate } from './types';
import { webhookGate } from './webhook';

/** GATES are the registered gate types. */
export const GATES = [
  metricsGate,
  evalGate,
  biasGate,
  webhookGate,
  dataQualityGate,
  promptSuiteGate,
] as const;

/** GateRegistry maps a gate type to its implementation. */
export type GateRegistry = Map<string, Gate>;

/** defaultGates are the gates every worker registers. */
export function defaultGates(): GateRegistry {
  return new Map<string, Gate>(GATES.map((gate) => [gate.type, gate as Gate]));
}

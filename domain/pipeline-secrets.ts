/**
 * The secret variables a pipeline names (each gate type declares its fields,
 * gates/types.ts `secretEnvFields`), checked against SLIPWAY_SECRET_ENV_ALLOW
 * (secret-env.ts) by `pipeline apply` and by the worker loading a release's policy.
 */
import { GATES } from '../gates';
import type { Pipeline, PipelineIssue } from './pipeline';
import { secretEnvRefusal, type SecretEnvAllow } from './secret-env';

/** SecretEnvRef is one place a pipeline names a secret's variable. */
export interface SecretEnvRef {
  path: string;
  name: string;
}

/** pipelineSecretEnvs lists every variable a pipeline's gates name as a secret, at its path (the fields each gate type declares). */
export function pipelineSecretEnvs(pipeline: Pipeline): SecretEnvRef[] {
  const fields = new Map<string, readonly string[]>(GATES.map((g) => [g.type, g.secretEnvFields]));
  const refs: SecretEnvRef[] = [];
  pipeline.stages.forEach((stage, i) => {
    (stage.gates ?? []).forEach((gate, j) => {
      const config = gate as unknown as Record<string, unknown>;
      for (const field of fields.get(String(config.type)) ?? []) {
        const value = config[field];
        if (typeof value === 'string') refs.push({ path: `stages[${i}].gates[${j}].${field}`, name: value });
      }
    });
  });
  return refs;
}

/** checkPipelineSecrets lists each secret variable a pipeline names that the allowlist refuses, at its path. */
export function checkPipelineSecrets(pipeline: Pipeline, file: string, allow: SecretEnvAllow): PipelineIssue[] {
  return pipelineSecretEnvs(pipeline).flatMap((ref) => {
    const reason = secretEnvRefusal(ref.name, allow);
    return reason === undefined ? [] : [{ file, path: ref.path, reason }];
  });
}

/**
 * In-memory versions and gate contexts for the pure gate tests beside each
 * gate (gates/<type>/<type>.test.ts): no registry database involved.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { GateContext } from '../../gates/types';
import { createSandbox, type Sandbox } from '../../lib/sandbox';
import type { ModelRegistry, VersionDoc } from '../../registry/types';
import { REPO_ROOT, sha256Hex } from '../../serving/model-runtime';
import type { GateResult } from '../../workflows/release/api';

/** fakeVersion is a registered version as the registry would hand it to a gate. */
export function fakeVersion(version: string, fields: Partial<VersionDoc> = {}): VersionDoc {
  return {
    _id: `fraud@${version}`,
    model: 'fraud',
    version,
    artifact: { uri: `s3://models/fraud/${version}.onnx`, sha256: 'c'.repeat(64) },
    metrics: {},
    registeredBy: 'ci',
    registeredAt: new Date(0),
    contentHash: 'unit',
    ...fields,
  } as VersionDoc;
}

/** fraudVersion is one of the committed fraud models (models/fraud/<v>/model.onnx) with its real digest. */
export function fraudVersion(v: string): VersionDoc {
  const uri = `models/fraud/${v}/model.onnx`;
  return fakeVersion(v, { artifact: { uri, sha256: sha256Hex(fs.readFileSync(path.join(REPO_ROOT, uri))) } });
}

/** testSandbox is a worker sandbox for tests: the given settings (SLIPWAY_SECRET_ENV_ALLOW, SLIPWAY_FILE_ROOTS, …) and secret values; defaults otherwise. */
export function testSandbox(settings: Record<string, string> = {}, secrets: Record<string, string> = {}): Sandbox {
  return createSandbox({ settings, secrets });
}

/** gateContext is what the gate activity hands a gate, with no registry behind it (the default sandbox unless one is given). */
export function gateContext(candidate: VersionDoc, live: VersionDoc | null = null, sandbox: Sandbox = testSandbox()): GateContext {
  return { releaseId: 'rel-unit', env: 'dev', candidate, live, registry: {} as ModelRegistry, sandbox };
}

/** checkOf finds one check of a verdict by metric, failing with the verdict when it is missing. */
export function checkOf(result: GateResult, metric: string) {
  const found = result.checks.find((c) => c.metric === metric);
  if (!found) throw new Error(`no ${metric} check in ${JSON.stringify(result)}`);
  return found;
}

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parsePipeline } from '../../domain/pipeline';
import { REGISTERED_PLUGINS, checkPluginNames } from '../../registry/policy';

const CANARY = 'strategy: { canary: { steps: [10, 50, 100], interval: 1m } }';
const check = (stage: string, known = REGISTERED_PLUGINS) =>
  checkPluginNames(parsePipeline(`name: p\nstages:\n  - env: dev\n  - env: prod\n${stage}`, 'p.yaml'), 'p.yaml', known);

describe('canary strategies and the targets that split traffic', () => {
  it('refuses a canary on the registry target, named or by default, naming the path and the fix', () => {
    for (const stage of [`    target: registry\n    ${CANARY}\n`, `    ${CANARY}\n`]) {
      assert.deepEqual(check(stage), [
        {
          file: 'p.yaml',
          path: 'stages[1].strategy.canary',
          reason: 'the registry target cannot split traffic, so a canary would send 100% at once; set target to one that splits traffic (local, webhook), or use strategy: direct',
        },
      ]);
    }
  });

  it('accepts a canary on local and webhook, on a custom target declared as splitting, and a one-step canary anywhere', () => {
    assert.deepEqual(check(`    target: local\n    ${CANARY}\n`), []);
    assert.deepEqual(check(`    target: webhook\n    ${CANARY}\n`), []);
    const custom = { ...REGISTERED_PLUGINS, targets: [...REGISTERED_PLUGINS.targets, 'weighted'], weightedTargets: [...REGISTERED_PLUGINS.weightedTargets, 'weighted'] };
    assert.deepEqual(check(`    target: weighted\n    ${CANARY}\n`, custom), []);
    // All traffic in one step is what the registry does anyway: the analysis still runs, nothing is claimed that is not done.
    assert.deepEqual(check('    strategy: { canary: { steps: [100], interval: 1m } }\n'), []);
  });

  it('refuses a canary on a custom target that is registered but not declared as splitting', () => {
    const custom = { ...REGISTERED_PLUGINS, targets: [...REGISTERED_PLUGINS.targets, 'plain'] };
    assert.equal(check(`    target: plain\n    ${CANARY}\n`, custom)[0]?.path, 'stages[1].strategy.canary');
  });

  it('passes every example pipeline through the checks on apply', () => {
    const folder = join(__dirname, '..', '..', 'examples', 'pipelines');
    const files = readdirSync(folder).filter((f) => f.endsWith('.yaml'));
    assert.ok(files.includes('fraud.yaml'));
    for (const file of files) {
      assert.deepEqual(checkPluginNames(parsePipeline(readFileSync(join(folder, file), 'utf8'), file), file, REGISTERED_PLUGINS), [], file);
    }
  });
});

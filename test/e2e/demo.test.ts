import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ReleaseService } from '../../client/releases';
import { runDemo } from '../../demo/run-demo';
import { openTestDb, startTestWorker, uniqueName, type TestDb, type TestTemporal } from '../support/stack';

describe('the demo, end to end on real model servers with live traffic', () => {
  let t: TestDb;
  let temporal: TestTemporal;
  let workDir: string;

  before(async () => {
    t = await openTestDb();
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-demo-'));
    temporal = await startTestWorker(t.db, { localServingDir: path.join(workDir, 'serving') });
  });
  after(async () => {
    await temporal?.close();
    await t?.close();
    if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
  });

  it('promotes v1 after approval, stops v2 at its eval gate, and rolls v3 back from the prod canary to v1', { timeout: 180_000 }, async () => {
    const service = new ReleaseService({ temporal: temporal.client, db: t.db, taskQueue: temporal.taskQueue, bootstrapFromFolder: true });
    const lines: string[] = [];
    const outcome = await runDemo({
      service,
      supervisor: temporal.supervisor!,
      workDir,
      model: uniqueName('fraud').replace(/_/g, '-'),
      autoApproveAs: 'alice',
      print: (line) => lines.push(line),
    });
    assert.deepEqual(outcome.statuses, { v1: 'succeeded', v2: 'failed', v3: 'rolled_back' }, lines.join('\n'));
    assert.deepEqual(outcome.live, { dev: 'v1', staging: 'v1', prod: 'v1' });
    assert.ok(lines.some((l) => /slipway approve release-.*--stage prod --as alice/.test(l)), 'the demo prints how to approve from the CLI');
    assert.ok(lines.some((l) => /Send a Signal "approve"/.test(l)), 'and from the Web UI');
    assert.ok(lines.some((l) => /v2 ended failed: gate failed at dev/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /v3 ended rolled_back: canary analysis failed at 50% in prod/.test(l)), lines.join('\n'));
    assert.ok((outcome.traffic['prod error'] ?? 0) > 0, 'v3 failed on real requests in prod');
    assert.equal(await service.registry.deployments.countDocuments({ model: outcome.model, version: 'v2' }), 0, 'v2 never deployed');
  });
});

import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import type { Collection } from 'mongodb';
import type { DeployTarget } from '../../targets/types';
import { ReleaseService } from '../../client/releases';
import type { ReleaseState } from '../../workflows/release/api';
import { registerModel, waitForState, writePipelines } from '../support/releases';
import { openTestDb, startTestWorker, type TestDb, type TestTemporal } from '../support/stack';

const PIPELINES = {
  canary: `
name: canary
stages:
  - env: prod
    target: weighted
    strategy: { canary: { steps: [25, 50, 100], interval: 1s, analysis: { maxErrorRate: 0.05 } } }
`,
  frozen: `
name: frozen
stages:
  - env: dev
    freeze: [{ cron: "* * * * *", duration: 2m, timezone: Europe/Berlin }]
`,
  waiting: `
name: waiting
stages:
  - env: prod
    approval: { required: 1, approvers: [alice], timeout: 1h }
`,
};

interface TargetCall {
  kind: 'deploy' | 'undo';
  model: string;
  version: string;
  weight: number | null;
  opKey: string;
}

/** A target with a real traffic split, recorded in the registry DB so the test sees every call. */
function weightedTarget(calls: Collection<TargetCall>): DeployTarget {
  return {
    name: 'weighted',
    supportsWeights: true,
    async deploy(req) {
      // Idempotent by (opKey, weight): a retried step changes nothing twice.
      await calls.updateOne(
        { opKey: req.opKey, weight: req.weight ?? 100, kind: 'deploy' },
        { $setOnInsert: { model: req.model, version: req.version } },
        { upsert: true },
      );
      return { previousVersion: 'stable' };
    },
    async undo(req) {
      await calls.updateOne({ opKey: req.opKey, kind: 'undo' }, { $setOnInsert: { model: req.model, version: req.failedVersion, weight: null } }, { upsert: true });
      return { restoredTo: 'stable' };
    },
  };
}

describe('release strategies, freezes and visibility', () => {
  let t: TestDb;
  let temporal: TestTemporal;
  let service: ReleaseService;
  let calls: Collection<TargetCall>;

  before(async () => {
    t = await openTestDb();
    calls = t.db.collection<TargetCall>('target_calls');
    temporal = await startTestWorker(t.db, { extensions: { targets: [weightedTarget(calls)] } });
    service = new ReleaseService({ temporal: temporal.client, db: t.db, taskQueue: temporal.taskQueue, pipelinesDir: await writePipelines(PIPELINES), bootstrapFromFolder: true, extraPlugins: { targets: ['weighted'], weightedTargets: ['weighted'] } });
  });
  after(async () => {
    await temporal?.close();
    await t?.close();
  });

  it('walks canary steps on a weighted target, analysing health after each partial step', async () => {
    const model = await registerModel(service.registry, { c1: { accuracy: 0.9 } });
    const started = await service.start({ model, version: 'c1', pipeline: 'canary', requestedBy: 'ci' });
    // Analysis needs at least one report since the stage began (minReports defaults to 1).
    await waitForState(service, started.releaseId, (s) => s.stages[0]?.canaryWeight === 25);
    await service.releases.reportHealth({ model, env: 'prod', version: 'c1', healthy: true, errorRate: 0.01, source: 'test' });
    const final = await service.result(started.releaseId);
    assert.equal(final.status, 'succeeded', final.summary);
    const weights = (await calls.find({ model, kind: 'deploy' }).toArray()).map((c) => c.weight).sort((a, b) => (a ?? 0) - (b ?? 0));
    assert.deepEqual(weights, [25, 50, 100]);
    assert.equal(final.stages[0]?.canaryWeight, 100);
    assert.equal(final.stages[0]?.healthChecks.length, 2, 'analysis after the 25% and 50% steps');
  });

  it('rolls back when canary analysis sees an error rate above the limit', async () => {
    const model = await registerModel(service.registry, { c2: { accuracy: 0.9 } });
    const started = await service.start({ model, version: 'c2', pipeline: 'canary', requestedBy: 'ci' });
    await waitForState(service, started.releaseId, (s) => s.stages[0]?.canaryWeight === 25);
    await service.releases.reportHealth({ model, env: 'prod', version: 'c2', healthy: true, errorRate: 0.3, source: 'test' });
    const final = await service.result(started.releaseId);
    assert.equal(final.status, 'rolled_back');
    assert.match(final.outcome?.reason ?? '', /canary analysis failed at 25% in prod/);
    assert.equal(await calls.countDocuments({ model, kind: 'deploy', weight: 50 }), 0, 'no step after the failed analysis');
    assert.equal(await calls.countDocuments({ model, kind: 'undo' }), 1);
  });

  it('waits out a freeze window and says why in its status', async () => {
    const model = await registerModel(service.registry, { f1: { accuracy: 0.9 } });
    const started = await service.start({ model, version: 'f1', pipeline: 'frozen', requestedBy: 'ci' });
    const frozen = await waitForState(service, started.releaseId, (s) => s.status === 'frozen');
    assert.match(frozen.summary, /dev is frozen until \d{4}-\d\d-\d\dT/);
    assert.equal(frozen.stages[0]?.status, 'frozen');
    await temporal.client.workflow.getHandle(started.workflowId).cancel();
    const final = await service.result(started.releaseId);
    assert.equal(final.status, 'cancelled');
    assert.equal(await service.registry.deployments.countDocuments({ model }), 0, 'nothing deploys during a freeze');
  });

  it('sets search attributes so the Web UI can list releases awaiting approval', async () => {
    const model = await registerModel(service.registry, { w1: { accuracy: 0.9 } });
    const started = await service.start({ model, version: 'w1', pipeline: 'waiting', requestedBy: 'ci' });
    await waitForState(service, started.releaseId, (s) => s.status === 'awaiting_approval');
    const query = `SlipwayModel = '${model}' AND SlipwayStatus = 'awaiting_approval' AND SlipwayStage = 'prod'`;
    let found: string[] = [];
    // Visibility is eventually consistent.
    for (let i = 0; i < 50 && found.length === 0; i++) {
      found = [];
      for await (const wf of temporal.client.workflow.list({ query })) found.push(wf.workflowId);
      if (found.length === 0) await sleep(200);
    }
    assert.deepEqual(found, [started.workflowId]);
    const description = await temporal.client.workflow.getHandle(started.workflowId).describe();
    assert.match(String(await description.staticSummary()), new RegExp(`Release ${model}@w1`));
    await temporal.client.workflow.getHandle(started.workflowId).terminate('test done');
  });

  it('records the waiting release, with its quorum, in the registry', async () => {
    const model = await registerModel(service.registry, { g1: { accuracy: 0.9 } });
    const started = await service.start({ model, version: 'g1', pipeline: 'waiting', requestedBy: 'ci' });
    await waitForState(service, started.releaseId, (s) => s.status === 'awaiting_approval');
    // The snapshot is written by an activity right after the status changes.
    let recorded = await service.releases.get(started.releaseId);
    for (let i = 0; i < 50 && recorded?.status !== 'awaiting_approval'; i++) {
      await sleep(100);
      recorded = await service.releases.get(started.releaseId);
    }
    assert.equal(recorded?.status, 'awaiting_approval');
    assert.equal((recorded as unknown as ReleaseState).stages[0]?.quorum?.required, 1);
    await temporal.client.workflow.getHandle(started.workflowId).terminate('test done');
  });
});

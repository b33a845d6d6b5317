import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import type { Collection } from 'mongodb';
import { ReleaseService } from '../../client/releases';
import type { Registry } from '../../registry/registry';
import { registryTarget } from '../../targets/registry/registry-target';
import type { DeployTarget } from '../../targets/types';
import { recordHistory, registerModel, waitForState, writePipelines } from '../support/releases';
import { openTestDb, startTestWorker, type TestDb, type TestTemporal } from '../support/stack';

const GOOD = { accuracy: 0.95 };

const PIPELINES = {
  plain: `
name: plain
stages:
  - env: prod
`,
  failing: `
name: failing
stages:
  - env: prod
    target: applies-then-fails
`,
};

/** A target whose platform applies the change (the registry's live pointer moves) but whose answer never arrives: every attempt fails. */
function appliesThenFails(registry: () => Registry, attempts: { count: number }): DeployTarget {
  const real = () => registryTarget(registry());
  return {
    name: 'applies-then-fails',
    supportsWeights: false,
    async deploy(req) {
      attempts.count += 1;
      await real().deploy(req);
      // Retryable, with a short delay so the ten attempts run out in about a second.
      throw ApplicationFailure.create({ message: 'the platform applied the change, then the connection dropped', nextRetryDelay: '50ms' });
    },
    undo: (req) => real().undo(req),
  };
}

interface StepCall {
  opKey: string;
  weight: number;
  at: Date;
}

/** A target with traffic weights that records when each canary step reached it. */
function steppedTarget(calls: () => Collection<StepCall>): DeployTarget {
  return {
    name: 'stepped',
    supportsWeights: true,
    async deploy(req) {
      await calls().updateOne({ opKey: req.opKey, weight: req.weight ?? 100 }, { $setOnInsert: { at: new Date() } }, { upsert: true });
      return { previousVersion: null };
    },
    async undo() {
      return { restoredTo: null, skipped: 'not used here' };
    },
  };
}

// Cron has minute resolution: a window opening at the next whole minute at least `leadMs` away.
function nextWholeMinute(leadMs: number): Date {
  return new Date(Math.ceil((Date.now() + leadMs) / 60_000) * 60_000);
}

describe('every promise kept at deploy time', () => {
  let t: TestDb;
  let temporal: TestTemporal;
  let service: ReleaseService;
  const attempts = { count: 0 };
  let steps: Collection<StepCall>;

  before(async () => {
    t = await openTestDb();
    steps = t.db.collection<StepCall>('step_calls');
    temporal = await startTestWorker(t.db, { extensions: { targets: [appliesThenFails(() => service.registry, attempts), steppedTarget(() => steps)] } });
    service = new ReleaseService({
      temporal: temporal.client,
      db: t.db,
      taskQueue: temporal.taskQueue,
      pipelinesDir: await writePipelines(PIPELINES),
      bootstrapFromFolder: true,
      extraPlugins: { targets: ['applies-then-fails', 'stepped'], weightedTargets: ['stepped'] },
    });
  });
  after(async () => {
    await temporal?.close();
    await t?.close();
  });

  it('waits out a freeze that opened while the stage awaited approval, deploying only after the window ends', { timeout: 90_000 }, async () => {
    // The window opens at the next whole minute at least 6s away and lasts 8s.
    const opensAt = nextWholeMinute(6_000);
    const endsAt = new Date(opensAt.getTime() + 8_000);
    const cron = `${opensAt.getUTCMinutes()} ${opensAt.getUTCHours()} * * *`;
    const frozenLater = service.withPipelines(
      await writePipelines({
        'frozen-later': `
name: frozen-later
stages:
  - env: prod
    approval: { required: 1, approvers: [alice], timeout: 1h }
    freeze: [{ cron: "${cron}", duration: 8s, timezone: UTC }]
`,
      }),
    );
    const model = await registerModel(service.registry, { z1: GOOD });
    await sleep(opensAt.getTime() - 5_000 - Date.now());
    const started = await frozenLater.start({ model, version: 'z1', pipeline: 'frozen-later', requestedBy: 'ci' });
    const awaiting = await waitForState(service, started.releaseId, (s) => s.status === 'awaiting_approval');
    assert.equal(Date.now() < opensAt.getTime(), true, 'the stage was not frozen when it started');
    assert.equal(awaiting.stages[0]?.status, 'awaiting_approval');

    await sleep(opensAt.getTime() + 1_000 - Date.now());
    await service.approve({ releaseId: started.releaseId, stage: 'prod', approver: 'alice' });
    const frozen = await waitForState(service, started.releaseId, (s) => s.status === 'frozen');
    assert.match(frozen.summary, new RegExp(`prod is frozen until ${endsAt.toISOString().replace(/\./g, '\\.')}`));
    assert.equal(frozen.stages[0]?.status, 'frozen');
    assert.equal(await service.registry.deployments.countDocuments({ model }), 0, 'nothing deploys inside the window');
    // The frozen status is stored as a snapshot too, so the registry shows why it waits.
    let recorded = await service.releases.get(started.releaseId);
    for (let i = 0; i < 50 && recorded?.status !== 'frozen'; i++) {
      await sleep(100);
      recorded = await service.releases.get(started.releaseId);
    }
    assert.equal(recorded?.status, 'frozen');

    const final = await service.result(started.releaseId);
    assert.equal(final.status, 'succeeded', final.summary);
    const history = await service.registry.deploymentHistory(model, 'prod');
    assert.deepEqual(history.map((d) => d.version), ['z1']);
    assert.ok(history[0]!.startedAt.getTime() >= endsAt.getTime(), `deployed at ${history[0]!.startedAt.toISOString()}, before the window ended at ${endsAt.toISOString()}`);
    await recordHistory(started.workflowId, 'release-frozen-at-deploy');
  });

  it('waits out a freeze that opened between two canary steps before taking the next step', { timeout: 120_000 }, async () => {
    // The 50% step lands a few seconds before the window opens; its analysis ends inside the window.
    const opensAt = nextWholeMinute(8_000);
    const endsAt = new Date(opensAt.getTime() + 10_000);
    const frozenMidCanary = service.withPipelines(
      await writePipelines({
        'frozen-mid-canary': `
name: frozen-mid-canary
stages:
  - env: prod
    target: stepped
    strategy: { canary: { steps: [50, 100], interval: 6s, analysis: { minReports: 0 } } }   # evidence is not what this tests
    freeze: [{ cron: "${opensAt.getUTCMinutes()} ${opensAt.getUTCHours()} * * *", duration: 10s, timezone: UTC }]
`,
      }),
    );
    const model = await registerModel(service.registry, { k1: GOOD });
    await sleep(opensAt.getTime() - 4_000 - Date.now());
    const started = await frozenMidCanary.start({ model, version: 'k1', pipeline: 'frozen-mid-canary', requestedBy: 'ci' });
    const frozen = await waitForState(service, started.releaseId, (s) => s.status === 'frozen');
    assert.equal(frozen.stages[0]?.canaryWeight, 50, 'frozen after the 50% step, before the 100% step');
    assert.match(frozen.summary, new RegExp(`prod is frozen until ${endsAt.toISOString().replace(/\./g, '\\.')}`));

    const final = await service.result(started.releaseId);
    assert.equal(final.status, 'succeeded', final.summary);
    const calls = await steps.find({ opKey: { $regex: started.releaseId } }).sort({ weight: 1 }).toArray();
    assert.deepEqual(calls.map((c) => c.weight), [50, 100]);
    assert.ok(calls[0]!.at.getTime() < opensAt.getTime(), `the 50% step (${calls[0]!.at.toISOString()}) should land before the window opened at ${opensAt.toISOString()}`);
    assert.ok(calls[1]!.at.getTime() >= endsAt.getTime(), `the 100% step at ${calls[1]!.at.toISOString()} came before the window ended at ${endsAt.toISOString()}`);
  });

  it('undoes a deploy the target applied even though its activity failed until its retries ran out', { timeout: 90_000 }, async () => {
    const model = await registerModel(service.registry, { u1: GOOD, u2: GOOD });
    const first = await service.result((await service.start({ model, version: 'u1', pipeline: 'plain', requestedBy: 'ci' })).releaseId);
    assert.equal(first.status, 'succeeded', first.summary);
    attempts.count = 0;

    const started = await service.start({ model, version: 'u2', pipeline: 'failing', requestedBy: 'ci' });
    const final = await service.result(started.releaseId);
    assert.equal(final.status, 'errored', final.summary);
    assert.match(final.outcome?.reason ?? '', /^error at prod/);
    assert.equal(attempts.count, 10, 'every attempt of the deploy activity ran and failed');
    assert.deepEqual(final.compensations.map((c) => [c.env, c.status, c.restoredTo, c.version]), [['prod', 'done', 'u1', 'u2']]);
    assert.equal((await service.registry.getLive(model, 'prod'))?.version, 'u1', 'the previous version is live again');
    const history = await service.registry.deploymentHistory(model, 'prod');
    assert.deepEqual(history.map((d) => [d.version, d.health]), [['u1', 'ok'], ['u2', 'failed'], ['u1', 'ok']]);
    await recordHistory(started.workflowId, 'release-deploy-failed-undone');
  });
});

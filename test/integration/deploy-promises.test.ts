import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
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

describe('every promise kept at deploy time', () => {
  let t: TestDb;
  let temporal: TestTemporal;
  let service: ReleaseService;
  const attempts = { count: 0 };

  before(async () => {
    t = await openTestDb();
    temporal = await startTestWorker(t.db, { extensions: { targets: [appliesThenFails(() => service.registry, attempts)] } });
    service = new ReleaseService({
      temporal: temporal.client,
      db: t.db,
      taskQueue: temporal.taskQueue,
      pipelinesDir: await writePipelines(PIPELINES),
      bootstrapFromFolder: true,
      extraPlugins: { targets: ['applies-then-fails'] },
    });
  });
  after(async () => {
    await temporal?.close();
    await t?.close();
  });

  it('waits out a freeze that opened while the stage awaited approval, deploying only after the window ends', { timeout: 90_000 }, async () => {
    // Cron has minute resolution: the window opens at the next whole minute at least 6s away and lasts 8s.
    const opensAt = new Date(Math.ceil((Date.now() + 6_000) / 60_000) * 60_000);
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

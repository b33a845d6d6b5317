/**
 * A lock grant Signal is not proof of the lock: anyone with raw Temporal
 * access can send one. A release waiting for an environment another release
 * holds ignores a forged grant (patch `verified-lock-grant`: the registry
 * lease is checked first), records and audits it, and keeps waiting until the
 * queue really grants it the lease. Real Temporal dev server and registry.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ReleaseService } from '../../client/releases';
import { envQueueWorkflowId } from '../../locks/api';
import { EnvLeases } from '../../locks/leases';
import { approveSignal, type ReleaseState } from '../../workflows/release/api';
import { recordHistory, registerModel, waitFor, waitForState, openReleaseHarness, type ReleaseHarness } from '../support/releases';
import { type TestDb, type TestTemporal } from '../support/stack';

const PIPELINES = {
  queued: `
name: queued
concurrency: queue
stages:
  - env: prod
    approval: { required: 1, approvers: [alice], timeout: 1h }
`,
};

const GOOD = { accuracy: 0.95, latency_p99_ms: 120 };

describe('forged environment lock grants', () => {
  let t: TestDb;
  let temporal: TestTemporal;
  let service: ReleaseService;

  let harness: ReleaseHarness | undefined;
  before(async () => {
    harness = await openReleaseHarness(PIPELINES);
    ({ t, temporal, service } = harness);
  });
  after(() => harness?.close());

  it('ignores a grant Signal sent over raw Temporal while another release holds the lease, audits it, and keeps waiting for the real grant', async () => {
    const model = await registerModel(service.registry, { h1: GOOD, f1: GOOD });
    const leases = new EnvLeases(t.db);
    const holder = await service.start({ model, version: 'h1', pipeline: 'queued', requestedBy: 'dave' });
    await waitForState(service, holder.releaseId, (s) => s.status === 'awaiting_approval');
    const waiting = await service.start({ model, version: 'f1', pipeline: 'queued', requestedBy: 'mallory' });
    await waitForState(service, waiting.releaseId, (s) => s.status === 'waiting_for_lock');
    assert.equal(await leases.holderOf(model, 'prod'), holder.workflowId);

    // What someone with Temporal access could send: the queue's grant, by its wire name, from outside the queue.
    await temporal.client.workflow.getHandle(waiting.workflowId).signal('lockGranted', { lockId: envQueueWorkflowId(model, 'prod'), env: 'prod' });

    const ignored = await waitForState(service, waiting.releaseId, (s) => s.ignoredMessages.some((m) => m.kind === 'lock_grant'));
    assert.equal(ignored.status, 'waiting_for_lock', 'the release still waits for the lock');
    assert.equal(ignored.stages[0]!.status, 'waiting_for_lock');
    const refusal = ignored.ignoredMessages.find((m) => m.kind === 'lock_grant')!;
    assert.match(refusal.reason, new RegExp(`lock grant for prod ignored: the registry lease is held by ${holder.workflowId}, not by this release`));
    assert.equal(await leases.holderOf(model, 'prod'), holder.workflowId, 'the lease did not move');
    assert.deepEqual(await service.registry.deploymentHistory(model, 'prod'), [], 'nothing was deployed on the forged grant');
    // The snapshot is stored before its refusals are audited, in the same activity.
    const audited = await waitFor(async () => {
      const found = await service.registry.audit.events.find({ action: 'release.lock_grant_refused', 'subject.releaseId': waiting.releaseId }).toArray();
      return found.length > 0 ? found : undefined;
    });
    assert.equal(audited.length, 1, 'the refusal is in the audit chain once');
    assert.match(audited[0]!.reason ?? '', /not by this release/);

    // The real grant still works: once the holder finishes, the queue grants the lease and the release goes on.
    await temporal.client.workflow.getHandle(holder.workflowId).signal(approveSignal, { stage: 'prod', approver: 'alice' });
    assert.equal(((await temporal.client.workflow.getHandle(holder.workflowId).result()) as ReleaseState).status, 'succeeded');
    await waitForState(service, waiting.releaseId, (s) => s.status === 'awaiting_approval');
    assert.equal(await leases.holderOf(model, 'prod'), waiting.workflowId);
    await temporal.client.workflow.getHandle(waiting.workflowId).signal(approveSignal, { stage: 'prod', approver: 'alice' });
    const done = (await temporal.client.workflow.getHandle(waiting.workflowId).result()) as ReleaseState;
    assert.equal(done.status, 'succeeded');
    assert.equal(done.ignoredMessages.filter((m) => m.kind === 'lock_grant').length, 1, 'the real grant was not refused');
    assert.deepEqual((await service.registry.deploymentHistory(model, 'prod')).map((d) => d.version), ['f1', 'h1']);
    const auditedAtEnd = await service.registry.audit.events.countDocuments({ action: 'release.lock_grant_refused', 'subject.releaseId': waiting.releaseId });
    assert.equal(auditedAtEnd, 1, 'later snapshots carrying the refusal append nothing');
    await recordHistory(waiting.workflowId, 'release-forged-lock-grant-ignored');
  });
});

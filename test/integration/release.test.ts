import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ReleaseService } from '../../client/releases';
import { envQueueWorkflowId, lockStateQuery, type LockState } from '../../locks/api';
import { EnvLeases } from '../../locks/leases';
import { approveSignal, deployOpKey, rejectSignal, type ReleaseState } from '../../workflows/release/api';
import { recordHistory, registerModel, temporalCli, waitFor, waitForState, openReleaseHarness, type ReleaseHarness } from '../support/releases';
import { type TestDb, type TestTemporal } from '../support/stack';

const PIPELINES = {
  three: `
name: three
stages:
  - env: dev
    gates:
      - type: metrics
        require: { accuracy: ">= 0.90", latency_p99_ms: "<= 250" }
  - env: staging
  - env: prod
    approval: { required: 2, approvers: [alice, bob, carol], timeout: 1h }
`,
  bake: `
name: bake
stages:
  - env: dev
  - env: staging
    bake: 4s
    healthChecks: { interval: 1s, maxErrorRate: 0.1 }
`,
  expiring: `
name: expiring
stages:
  - env: dev
  - env: prod
    approval: { required: 1, approvers: [alice, bob], timeout: 2s }
`,
  gated: `
name: gated
stages:
  - env: dev
  - env: prod
    approval: { required: 1, approvers: [alice, bob], timeout: 1h }
`,
  halting: `
name: halting
onFailure: halt
stages:
  - env: dev
  - env: staging
    bake: 3s
    healthChecks: { interval: 1s }
`,
  queued: `
name: queued
concurrency: queue
stages:
  - env: prod
    approval: { required: 1, approvers: [alice], timeout: 1h }
`,
  superseding: `
name: superseding
stages:
  - env: prod
    approval: { required: 1, approvers: [alice], timeout: 1h }
`,
};

const GOOD = { accuracy: 0.95, latency_p99_ms: 120 };

describe('release workflow on the real Temporal dev server and registry', () => {
  let t: TestDb;
  let temporal: TestTemporal;
  let service: ReleaseService;

  let harness: ReleaseHarness | undefined;
  before(async () => {
    harness = await openReleaseHarness(PIPELINES);
    ({ t, temporal, service } = harness);
  });
  after(() => harness?.close());

  const leaseHolder = (model: string, env: string) => new EnvLeases(t.db).holderOf(model, env);
  const queueState = async (model: string, env: string): Promise<LockState | undefined> =>
    temporal.client.workflow.getHandle(envQueueWorkflowId(model, env)).query(lockStateQuery).catch(() => undefined);

  it('promotes dev → staging → prod once two of three approvers approve by Signal, as the Web UI sends it', async () => {
    const model = await registerModel(service.registry, { '1.0.0': GOOD });
    const started = await service.start({ model, version: '1.0.0', pipeline: 'three', requestedBy: 'dave' });
    assert.equal(started.releaseId, `release-${model}-1.0.0`);
    const waiting = await waitForState(service, started.releaseId, (s) => s.status === 'awaiting_approval');
    assert.equal(waiting.currentStage, 'prod');
    assert.match(waiting.summary, /0 of 2/);
    assert.equal((await service.registry.getLive(model, 'staging'))?.version, '1.0.0');
    assert.equal(await service.registry.getLive(model, 'prod'), null, 'prod must not deploy before approval');

    // Exactly what the Web UI / operator sends: the temporal CLI with a JSON input.
    await temporalCli(['workflow', 'signal', '--workflow-id', started.workflowId, '--name', 'approve', '--input', '{"stage":"prod","approver":"bob"}']);
    const one = await waitForState(service, started.releaseId, (s) => (s.stages[2]?.quorum?.approvedBy.length ?? 0) === 1);
    assert.equal(one.status, 'awaiting_approval');
    await temporal.client.workflow.getHandle(started.workflowId).signal(approveSignal, { stage: 'prod', approver: 'carol', comment: 'lgtm' });

    const final = await temporal.client.workflow.getHandle(started.workflowId).result() as ReleaseState;
    assert.equal(final.status, 'succeeded');
    assert.deepEqual(final.stages.map((s) => s.status), ['succeeded', 'succeeded', 'succeeded']);
    assert.deepEqual(final.stages[2]?.quorum?.approvedBy, ['bob', 'carol']);
    assert.equal(final.stages[0]?.gates[0]?.passed, true);
    assert.equal((await service.registry.getLive(model, 'prod'))?.version, '1.0.0');
    const record = await service.releases.get(started.releaseId);
    assert.equal(record?.status, 'succeeded', 'the outcome is recorded in the registry');
    assert.equal((await service.registry.audit.verify()).ok, true);
    await recordHistory(started.workflowId, 'release-succeeded-2-of-3-signals');
  });

  it('stops at a failing gate before deploying anything', async () => {
    const model = await registerModel(service.registry, { '2.0.0': { accuracy: 0.5, latency_p99_ms: 120 } });
    const { workflowId } = await service.start({ model, version: '2.0.0', pipeline: 'three', requestedBy: 'dave' });
    const final = await temporal.client.workflow.getHandle(workflowId).result() as ReleaseState;
    assert.equal(final.status, 'failed');
    assert.match(final.outcome?.reason ?? '', /gate failed at dev.*accuracy/);
    const gate = final.stages[0]?.gates[0];
    assert.equal(gate?.passed, false);
    assert.deepEqual(gate?.checks.map((c) => [c.metric, c.passed]), [['accuracy', false], ['latency_p99_ms', true]]);
    assert.equal(await service.registry.deployments.countDocuments({ model }), 0, 'nothing may be deployed');
    await recordHistory(workflowId, 'release-gate-failed');
  });

  it('rolls back to the previous version when a health check fails during the bake', async () => {
    const model = await registerModel(service.registry, { v1: GOOD, v2: GOOD });
    const first = await service.start({ model, version: 'v1', pipeline: 'bake', requestedBy: 'ci' });
    // Posted during the bake: a report from before the deploy is not evidence about it.
    await waitForState(service, first.releaseId, (s) => s.status === 'baking');
    await service.releases.reportHealth({ model, env: 'staging', version: 'v1', healthy: true, errorRate: 0.01, source: 'test' });
    assert.equal(((await temporal.client.workflow.getHandle(first.workflowId).result()) as ReleaseState).status, 'succeeded');

    const second = await service.start({ model, version: 'v2', pipeline: 'bake', requestedBy: 'ci' });
    await waitForState(service, second.releaseId, (s) => s.status === 'baking');
    await service.releases.reportHealth({ model, env: 'staging', version: 'v2', healthy: true, errorRate: 0.4, source: 'test' });
    const final = await temporal.client.workflow.getHandle(second.workflowId).result() as ReleaseState;
    assert.equal(final.status, 'rolled_back');
    assert.match(final.outcome?.reason ?? '', /bake health check failed in staging/);
    assert.deepEqual(final.compensations.map((c) => [c.env, c.status, c.restoredTo]), [['dev', 'done', 'v1'], ['staging', 'done', 'v1']]);
    // Undone newest first: staging (deployed last) before dev.
    const undoStaging = await service.registry.findMove(`${deployOpKey(second.releaseId, second.runId, 'staging')}:undo`);
    const undoDev = await service.registry.findMove(`${deployOpKey(second.releaseId, second.runId, 'dev')}:undo`);
    assert.ok(undoStaging && undoDev && undoStaging.startedAt <= undoDev.startedAt);
    assert.equal((await service.registry.getLive(model, 'staging'))?.version, 'v1');
    assert.equal((await service.registry.getLive(model, 'dev'))?.version, 'v1');
    const lkg = await service.registry.lastKnownGood(model, 'staging');
    assert.equal(lkg?.version, 'v1', 'the failed deployment never counts as last known good');
    await recordHistory(second.workflowId, 'release-bake-failed-rolled-back');
  });

  it('keeps what is deployed when the pipeline says onFailure: halt', async () => {
    const model = await registerModel(service.registry, { h1: GOOD });
    const started = await service.start({ model, version: 'h1', pipeline: 'halting', requestedBy: 'ci' });
    await waitForState(service, started.releaseId, (s) => s.status === 'baking');
    await service.releases.reportHealth({ model, env: 'staging', version: 'h1', healthy: false, source: 'test' });
    const final = await temporal.client.workflow.getHandle(started.workflowId).result() as ReleaseState;
    assert.equal(final.status, 'failed');
    assert.equal(final.compensations.every((c) => c.status === 'pending'), true);
    assert.equal((await service.registry.getLive(model, 'staging'))?.version, 'h1');
  });

  it('ends rejected when an approver rejects, undoing the earlier deploys', async () => {
    const model = await registerModel(service.registry, { r1: GOOD });
    const started = await service.start({ model, version: 'r1', pipeline: 'gated', requestedBy: 'dave' });
    await waitForState(service, started.releaseId, (s) => s.status === 'awaiting_approval');
    await temporal.client.workflow.getHandle(started.workflowId).signal(rejectSignal, { stage: 'prod', approver: 'alice', comment: 'bias report missing' });
    const final = await temporal.client.workflow.getHandle(started.workflowId).result() as ReleaseState;
    assert.equal(final.status, 'rejected');
    assert.match(final.outcome?.reason ?? '', /alice: bias report missing/);
    assert.equal((await service.registry.getLive(model, 'prod')), null);
    assert.equal((await service.registry.getLive(model, 'dev'))?.version ?? null, null, 'the first-ever dev deploy is undone');
    await recordHistory(started.workflowId, 'release-rejected');
  });

  it('ends approval_expired when the quorum is not met in time', async () => {
    const model = await registerModel(service.registry, { e1: GOOD });
    const started = await service.start({ model, version: 'e1', pipeline: 'expiring', requestedBy: 'dave' });
    const final = await temporal.client.workflow.getHandle(started.workflowId).result() as ReleaseState;
    assert.equal(final.status, 'approval_expired');
    assert.match(final.outcome?.reason ?? '', /expired after 2s with 0 of 1/);
    await recordHistory(started.workflowId, 'release-approval-expired');
  });

  it('refuses self-approval, counts a duplicate approver once, and records a malformed signal without crashing', async () => {
    const model = await registerModel(service.registry, { s1: GOOD });
    const started = await service.start({ model, version: 's1', pipeline: 'three', requestedBy: 'alice' });
    await waitForState(service, started.releaseId, (s) => s.status === 'awaiting_approval');
    const handle = temporal.client.workflow.getHandle(started.workflowId);

    const self = await service.approve({ releaseId: started.releaseId, stage: 'prod', approver: 'alice' });
    assert.equal(self.outcome, 'refused');
    assert.match(self.reason ?? '', /requested this release/);
    const first = await service.approve({ releaseId: started.releaseId, stage: 'prod', approver: 'bob' });
    assert.equal(first.outcome, 'counted');
    const dup = await service.approve({ releaseId: started.releaseId, stage: 'prod', approver: 'bob' });
    assert.equal(dup.outcome, 'duplicate');
    assert.deepEqual(dup.quorum?.approvedBy, ['bob']);

    await handle.signal(approveSignal, { stage: 'prod', approver: { $gt: '' } });
    await handle.signal(approveSignal, 'not even an object');
    await handle.signal(approveSignal, { stage: 'prod', approver: 'mallory' });
    await temporalCli(['workflow', 'signal', '--workflow-id', started.workflowId, '--name', 'approve', '--input', '[1,2,3]']);
    await assert.rejects(service.approve({ releaseId: started.releaseId, stage: 'prod', approver: 'x'.repeat(500) }), /approver is 500 characters long/);

    const s = await waitForState(service, started.releaseId, (st) => st.ignoredMessages.length >= 5);
    assert.equal(s.status, 'awaiting_approval', 'bad messages leave the release waiting, not crashed');
    assert.deepEqual(s.stages[2]?.quorum?.approvedBy, ['bob']);
    const reasons = s.ignoredMessages.map((m) => m.reason).join('\n');
    assert.match(reasons, /approver must be a string/);
    assert.match(reasons, /mallory is not an approver/);
    assert.match(reasons, /requested this release/);

    await handle.signal(approveSignal, { stage: 'prod', approver: 'carol' });
    assert.equal(((await handle.result()) as ReleaseState).status, 'succeeded');
    // Every refusal is in the model's audit chain too, once each, with the claimed approver marked unverified.
    const refusals = await service.registry.audit.events.find({ 'subject.releaseId': started.releaseId, action: /_refused$/ }).toArray();
    assert.equal(refusals.length, s.ignoredMessages.length);
    assert.ok(refusals.every((e) => e.actor.startsWith('unverified:')));
    assert.ok(refusals.some((e) => /mallory is not an approver/.test(e.reason ?? '')));
    assert.equal((await service.registry.audit.verify()).ok, true);
    await recordHistory(started.workflowId, 'release-refused-duplicate-malformed-approvals');
  });

  it('compensates when cancelled from outside', async () => {
    const model = await registerModel(service.registry, { c1: GOOD });
    const started = await service.start({ model, version: 'c1', pipeline: 'gated', requestedBy: 'dave' });
    await waitForState(service, started.releaseId, (s) => s.status === 'awaiting_approval');
    assert.equal((await service.registry.getLive(model, 'dev'))?.version, 'c1');
    const handle = temporal.client.workflow.getHandle(started.workflowId);
    await handle.cancel();
    const final = await service.result(started.releaseId);
    assert.equal(final.status, 'cancelled');
    assert.deepEqual(final.compensations.map((c) => [c.env, c.status]), [['dev', 'done']]);
    assert.equal((await service.registry.getLive(model, 'dev'))?.version ?? null, null);
    assert.deepEqual([await leaseHolder(model, 'dev'), await leaseHolder(model, 'prod')], [null, null], 'the cancelled release gave back every lease');
    await recordHistory(started.workflowId, 'release-cancelled');
  });

  it('deploys again when a version is started again after its release ended (rejected the first time)', async () => {
    const model = await registerModel(service.registry, { r0: GOOD, r1: GOOD });
    const base = await service.start({ model, version: 'r0', pipeline: 'gated', requestedBy: 'dave' });
    await waitForState(service, base.releaseId, (s) => s.status === 'awaiting_approval');
    await temporal.client.workflow.getHandle(base.workflowId).signal(approveSignal, { stage: 'prod', approver: 'bob' });
    assert.equal(((await temporal.client.workflow.getHandle(base.workflowId).result()) as ReleaseState).status, 'succeeded');

    const first = await service.start({ model, version: 'r1', pipeline: 'gated', requestedBy: 'dave' });
    await waitForState(service, first.releaseId, (s) => s.status === 'awaiting_approval');
    await temporal.client.workflow.getHandle(first.workflowId).signal(rejectSignal, { stage: 'prod', approver: 'alice', comment: 'not on a Friday' });
    assert.equal(((await temporal.client.workflow.getHandle(first.workflowId).result()) as ReleaseState).status, 'rejected');
    assert.equal((await service.registry.getLive(model, 'dev'))?.version, 'r0', 'the rejected release undid its dev deploy');

    const again = await service.start({ model, version: 'r1', pipeline: 'gated', requestedBy: 'dave' });
    assert.equal(again.alreadyRunning, false);
    assert.notEqual(again.runId, first.runId);
    await waitForState(service, again.releaseId, (s) => s.status === 'awaiting_approval');
    assert.equal((await service.registry.getLive(model, 'dev'))?.version, 'r1', 'dev deployed again, not skipped as done');
    await temporal.client.workflow.getHandle(again.workflowId).signal(approveSignal, { stage: 'prod', approver: 'bob' });
    assert.equal(((await temporal.client.workflow.getHandle(again.workflowId).result()) as ReleaseState).status, 'succeeded');
    assert.equal((await service.registry.getLive(model, 'prod'))?.version, 'r1');
    assert.ok(await service.registry.findMove(deployOpKey(again.releaseId, again.runId, 'prod')), 'the second run deployed under its own key');
  });

  it('returns the running release when the same version is started twice', async () => {
    const model = await registerModel(service.registry, { d1: GOOD });
    const a = await service.start({ model, version: 'd1', pipeline: 'gated', requestedBy: 'dave' });
    const b = await service.start({ model, version: 'd1', pipeline: 'gated', requestedBy: 'dave' });
    assert.equal(b.workflowId, a.workflowId);
    assert.equal(b.runId, a.runId);
    assert.deepEqual([a.alreadyRunning, b.alreadyRunning], [false, true], 'the second start says the release was already running');
    await waitForState(service, a.releaseId, (s) => s.status === 'awaiting_approval'); // approvals count only once prod asks
    await temporal.client.workflow.getHandle(a.workflowId).signal(approveSignal, { stage: 'prod', approver: 'bob' });
    assert.equal(((await temporal.client.workflow.getHandle(a.workflowId).result()) as ReleaseState).status, 'succeeded');
  });

  it('serialises two releases of one model in queue mode: the second waits for the lock', async () => {
    const model = await registerModel(service.registry, { q1: GOOD, q2: GOOD });
    const a = await service.start({ model, version: 'q1', pipeline: 'queued', requestedBy: 'dave' });
    await waitForState(service, a.releaseId, (s) => s.status === 'awaiting_approval');
    const b = await service.start({ model, version: 'q2', pipeline: 'queued', requestedBy: 'dave' });
    const waitingB = await waitForState(service, b.releaseId, (s) => s.status === 'waiting_for_lock');
    assert.match(waitingB.summary, /lock/);
    await temporal.client.workflow.getHandle(a.workflowId).signal(approveSignal, { stage: 'prod', approver: 'alice' });
    assert.equal(((await temporal.client.workflow.getHandle(a.workflowId).result()) as ReleaseState).status, 'succeeded');
    await waitForState(service, b.releaseId, (s) => s.status === 'awaiting_approval');
    await temporal.client.workflow.getHandle(b.workflowId).signal(approveSignal, { stage: 'prod', approver: 'alice' });
    assert.equal(((await temporal.client.workflow.getHandle(b.workflowId).result()) as ReleaseState).status, 'succeeded');
    const history = await service.registry.deploymentHistory(model, 'prod');
    assert.deepEqual(history.map((d) => d.version), ['q2', 'q1']);
    await recordHistory(b.workflowId, 'release-queued-behind-lock');
    await recordHistory(`envq-${model}-prod`, 'env-queue');
  });

  it('takes the lease back from a release that was terminated while holding it, so the next one is not stuck', async () => {
    const model = await registerModel(service.registry, { t1: GOOD, t2: GOOD });
    const a = await service.start({ model, version: 't1', pipeline: 'queued', requestedBy: 'dave' });
    await waitForState(service, a.releaseId, (s) => s.status === 'awaiting_approval');
    assert.equal(await leaseHolder(model, 'prod'), a.workflowId, 'the waiting release holds the prod lease');
    // Terminated, not cancelled: its finally block never runs, so it never gives the lease back.
    await temporal.client.workflow.getHandle(a.workflowId).terminate('operator pulled the plug');
    const b = await service.start({ model, version: 't2', pipeline: 'queued', requestedBy: 'dave' });
    await waitForState(service, b.releaseId, (s) => s.status === 'awaiting_approval');
    assert.equal(await leaseHolder(model, 'prod'), b.workflowId);
    await temporal.client.workflow.getHandle(b.workflowId).signal(approveSignal, { stage: 'prod', approver: 'alice' });
    assert.equal(((await temporal.client.workflow.getHandle(b.workflowId).result()) as ReleaseState).status, 'succeeded');
    assert.equal(await leaseHolder(model, 'prod'), null, 'the finished release gave the lease back');
  });

  it('lets a rollback queued behind a waiting release go before a release that queued earlier', async () => {
    const model = await registerModel(service.registry, { p0: GOOD, p1: GOOD, p2: GOOD });
    const first = await service.start({ model, version: 'p0', pipeline: 'queued', requestedBy: 'dave' });
    await waitForState(service, first.releaseId, (s) => s.status === 'awaiting_approval');
    await temporal.client.workflow.getHandle(first.workflowId).signal(approveSignal, { stage: 'prod', approver: 'alice' });
    assert.equal(((await temporal.client.workflow.getHandle(first.workflowId).result()) as ReleaseState).status, 'succeeded');

    const holder = await service.start({ model, version: 'p1', pipeline: 'queued', requestedBy: 'dave' });
    await waitForState(service, holder.releaseId, (s) => s.status === 'awaiting_approval');
    const queued = await service.start({ model, version: 'p2', pipeline: 'queued', requestedBy: 'dave' });
    await waitForState(service, queued.releaseId, (s) => s.status === 'waiting_for_lock');
    const rollback = await service.rollback({ model, env: 'prod', toVersion: 'p0', requestedBy: 'oncall', reason: 'p1 hurts conversion' });
    await waitFor(async () => (await queueState(model, 'prod'))?.queue.map((q) => q.holderId).includes(rollback.workflowId) || undefined);
    assert.deepEqual((await queueState(model, 'prod'))?.queue.map((q) => q.holderId), [rollback.workflowId, queued.workflowId], 'the rollback is first in line');

    await temporal.client.workflow.getHandle(holder.workflowId).signal(approveSignal, { stage: 'prod', approver: 'alice' });
    assert.deepEqual(await rollback.result, { model, env: 'prod', from: 'p1', to: 'p0', status: 'succeeded' });
    await waitForState(service, queued.releaseId, (s) => s.status === 'awaiting_approval');
    await temporal.client.workflow.getHandle(queued.workflowId).signal(approveSignal, { stage: 'prod', approver: 'alice' });
    assert.equal(((await temporal.client.workflow.getHandle(queued.workflowId).result()) as ReleaseState).status, 'succeeded');
    const history = await service.registry.deploymentHistory(model, 'prod');
    assert.deepEqual(history.map((d) => d.version), ['p2', 'p0', 'p1', 'p0'], 'p1, then the rollback to p0, then p2');
    await recordHistory(rollback.workflowId, 'rollback-queued-first');
  });

  it('supersedes an older release still waiting for approval when a newer one arrives', async () => {
    const model = await registerModel(service.registry, { s1: GOOD, s2: GOOD });
    const older = await service.start({ model, version: 's1', pipeline: 'superseding', requestedBy: 'dave' });
    await waitForState(service, older.releaseId, (s) => s.status === 'awaiting_approval');
    const newer = await service.start({ model, version: 's2', pipeline: 'superseding', requestedBy: 'dave' });
    const oldFinal = (await temporal.client.workflow.getHandle(older.workflowId).result()) as ReleaseState;
    assert.equal(oldFinal.status, 'superseded');
    assert.match(oldFinal.outcome?.reason ?? '', new RegExp(newer.workflowId));
    await waitForState(service, newer.releaseId, (s) => s.status === 'awaiting_approval');
    await temporal.client.workflow.getHandle(newer.workflowId).signal(approveSignal, { stage: 'prod', approver: 'alice' });
    assert.equal(((await temporal.client.workflow.getHandle(newer.workflowId).result()) as ReleaseState).status, 'succeeded');
    assert.equal((await service.registry.getLive(model, 'prod'))?.version, 's2');
    await recordHistory(older.workflowId, 'release-superseded');
  });

  it('rolls an environment back to the last known good version through the same lock', async () => {
    const model = await registerModel(service.registry, { a: GOOD, b: GOOD });
    for (const v of ['a', 'b']) {
      const r = await service.start({ model, version: v, pipeline: 'bake', requestedBy: 'ci' });
      await waitForState(service, r.releaseId, (s) => s.status === 'baking');
      await service.releases.reportHealth({ model, env: 'staging', version: v, healthy: true, errorRate: 0.01, source: 'test' });
      assert.equal(((await temporal.client.workflow.getHandle(r.workflowId).result()) as ReleaseState).status, 'succeeded');
    }
    assert.equal((await service.registry.getLive(model, 'staging'))?.version, 'b');
    const { result, workflowId: rollbackId } = await service.rollback({ model, env: 'staging', requestedBy: 'oncall', reason: 'p99 regression' });
    assert.deepEqual(await result, { model, env: 'staging', from: 'b', to: 'a', status: 'succeeded' });
    await recordHistory(rollbackId, 'rollback-to-last-good');
    assert.equal((await service.registry.getLive(model, 'staging'))?.version, 'a');
    const replaced = await service.registry.deployments.findOne({ model, env: 'staging', version: 'b' });
    assert.equal(replaced?.health, 'failed', 'the rolled-back deployment is marked failed');
    const explicit = await service.rollback({ model, env: 'staging', toVersion: 'a', requestedBy: 'oncall' });
    assert.equal((await explicit.result).status, 'noop');
  });
});

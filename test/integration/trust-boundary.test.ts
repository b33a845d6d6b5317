/**
 * The trust boundary tried from outside: a raw Temporal client (anyone who can
 * reach Temporal's port) and ordinary API tokens attempt each bypass, and see
 * it refused, recorded in the release and audited; the honest path through
 * the API still works.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { Authenticator } from '../../api/auth';
import { buildApi } from '../../api/server';
import { ReleaseService } from '../../client/releases';
import { parsePipeline } from '../../domain/pipeline';
import { PolicyStore } from '../../registry/policy';
import { Registry } from '../../registry/registry';
import { approveSignal, approveUpdate, rejectSignal, releaseWorkflowId, type ReleaseState } from '../../workflows/release/api';
import { recordHistory, registerModel, waitForState } from '../support/releases';
import { openTestDb, startTestWorker, TEST_SIGNER, uniqueName, type TestDb, type TestTemporal } from '../support/stack';
import { callApi, listenOnLoopback } from '../support/api';

const GUARDED = `
name: guarded
stages:
  - env: staging
    bake: 4s
    healthChecks: { minReports: 0 } # about identities, not evidence: nothing posts health reports here
  - env: prod
    approval: { required: 2, approvers: [alice, bob, carol, rita], selfApproval: false, timeout: 1h, channels: [api] }
`;
const LAX = `
name: lax
stages:
  - env: prod
`;
const TOKENS = { rita: 'rita-releaser-token-0123456789', alice: 'alice-approver-token-012345', bob: 'bob-approver-token-0123456789', carol: 'carol-approver-token-01234567' };

describe('trust boundary: what a raw Temporal client or a releaser token cannot do', () => {
  let t: TestDb;
  let temporal: TestTemporal;
  let service: ReleaseService;
  let registry: Registry;
  let policy: PolicyStore;
  let app: FastifyInstance;
  let base: string;

  const call = (method: string, url: string, token: string, body?: unknown) => callApi(base, method, url, token, body);
  const guardedModel = async () => {
    const model = await registerModel(registry, { '1.0.0': { accuracy: 0.95 } });
    await policy.bindModel(model, 'guarded', 'admin');
    return model;
  };
  const startAsRita = async (model: string) => {
    const res = await call('POST', '/releases', TOKENS.rita, { model, version: '1.0.0' });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.releaseId as string;
  };
  const prodOf = (s: ReleaseState) => s.stages.find((x) => x.env === 'prod')!;
  const audited = (model: string, action: string) => registry.audit.events.find({ 'subject.model': model, action }).toArray();

  before(async () => {
    t = await openTestDb();
    temporal = await startTestWorker(t.db);
    registry = new Registry(t.db);
    policy = new PolicyStore(t.db);
    await policy.applyPipeline(GUARDED, 'guarded.yaml', 'admin');
    await policy.applyPipeline(LAX, 'lax.yaml', 'admin');
    service = new ReleaseService({ temporal: temporal.client, db: t.db, taskQueue: temporal.taskQueue, signer: TEST_SIGNER, bootstrapFromFolder: false });
    const auth = new Authenticator({
      tokens: [
        { user: 'rita', token: TOKENS.rita, roles: ['releaser'], approves: ['prod'] },
        { user: 'alice', token: TOKENS.alice, roles: ['viewer'], approves: ['prod'] },
        { user: 'bob', token: TOKENS.bob, roles: ['viewer'], approves: ['prod'] },
        { user: 'carol', token: TOKENS.carol, roles: ['viewer'], approves: ['prod'] },
      ],
    });
    app = await buildApi({ db: t.db, releases: service, auth, signer: TEST_SIGNER, mutationsPerMinute: 100_000 });
    base = await listenOnLoopback(app);
  });
  after(async () => {
    await app?.close();
    await temporal?.close();
    await t?.close();
  });

  it('one person naming alice then bob over raw Temporal cannot meet an api-only prod quorum; verified approvals through the API can', async () => {
    const model = await guardedModel();
    const releaseId = await startAsRita(model);
    await waitForState(service, releaseId, (s) => prodOf(s).status === 'awaiting_approval', 60_000);
    const handle = temporal.client.workflow.getHandle(releaseId);
    // The old hole: a client-chosen channel "api" is refused, and recorded so the audit chain has it...
    const claimedApi = await handle.executeUpdate(approveUpdate, { args: [{ stage: 'prod', approver: 'alice', channel: 'api' }] });
    assert.equal(claimedApi.outcome, 'refused');
    assert.match(claimedApi.reason ?? '', /signed by the Slipway API/);
    // ...a malformed Update is still refused before it reaches history.
    await assert.rejects(handle.executeUpdate(approveUpdate, { args: [{ stage: 'prod', approver: 'alice', channel: 'ui' } as never] }), (err: unknown) => err instanceof WorkflowUpdateFailedError && /channel: leave it out/.test(err.cause?.message ?? ''));
    // ...and without a channel, a claim counts as cli, which prod does not take.
    for (const approver of ['alice', 'bob']) {
      const result = await handle.executeUpdate(approveUpdate, { args: [{ stage: 'prod', approver }] });
      assert.equal(result.outcome, 'refused');
      assert.match(result.reason ?? '', /accepted only via api; this one came via cli/);
    }
    // A forged "signed" decision made with another key is refused too.
    const forged = (await import('../../lib/signing')).Signer.generate().signDecision({ kind: 'release.approve', releaseId, stage: 'prod', approver: { user: 'carol', via: 'token' }, issuedAt: new Date().toISOString() });
    assert.match((await handle.executeUpdate(approveUpdate, { args: [{ decision: forged }] })).reason ?? '', /unknown key/);
    await handle.signal(approveSignal, { stage: 'prod', approver: 'carol' });
    const refused = await waitForState(service, releaseId, (s) => s.ignoredMessages.length >= 5);
    assert.equal(prodOf(refused).quorum?.approvedBy.length, 0);
    assert.deepEqual(refused.ignoredMessages.map((m) => m.channel).sort(), ['api', 'cli', 'cli', 'cli', 'ui']);

    for (const token of [TOKENS.alice, TOKENS.bob]) assert.equal((await call('POST', `/releases/${releaseId}/approvals`, token, { stage: 'prod' })).status, 200);
    const done = await service.result(releaseId);
    assert.equal(done.status, 'succeeded');
    assert.deepEqual(prodOf(done).quorum?.approvals?.map((a) => [a.approver, a.channel, a.verified]), [['alice', 'api', true], ['bob', 'api', true]]);
    assert.deepEqual(done.requester, { user: 'rita', verified: true, via: 'token' });

    const approvedEvents = await audited(model, 'release.approved');
    assert.deepEqual(approvedEvents.map((e) => e.actor).sort(), ['alice', 'bob']);
    const refusedEvents = await audited(model, 'release.approve_refused');
    assert.equal(refusedEvents.length, 5);
    assert.ok(refusedEvents.some((e) => /signed by the Slipway API/.test(e.reason ?? '')), 'the claimed api approval is in the audit chain');
    assert.ok(refusedEvents.every((e) => e.actor.startsWith('unverified:')));
    const started = await audited(model, 'release.started');
    assert.equal(started[0]?.actor, 'rita');
    assert.equal(started[0]?.details?.verified, true);
    await recordHistory(releaseId, 'server-policy-signed-approvals');
  });

  it('a releaser may not approve their own release through the API, and approvals before the stage asks are refused', async () => {
    const model = await guardedModel();
    const releaseId = await startAsRita(model);
    await waitForState(service, releaseId, (s) => s.currentStage === 'staging' && s.stages[0]!.status === 'baking', 60_000);
    const early = await call('POST', `/releases/${releaseId}/approvals`, TOKENS.alice, { stage: 'prod' });
    assert.equal(early.status, 403);
    assert.match(early.body.error.message, /not awaiting approval/);
    await waitForState(service, releaseId, (s) => prodOf(s).status === 'awaiting_approval', 60_000);
    const own = await call('POST', `/releases/${releaseId}/approvals`, TOKENS.rita, { stage: 'prod' });
    assert.equal(own.status, 403);
    assert.match(own.body.error.message, /rita requested this release/);
    // A Web UI reject of an api-only stage is ignored; a reject through the API ends the release.
    await temporal.client.workflow.getHandle(releaseId).signal(rejectSignal, { stage: 'prod', approver: 'carol', comment: 'from the UI' });
    const ignored = await waitForState(service, releaseId, (s) => s.ignoredMessages.some((m) => m.kind === 'reject'));
    assert.equal(prodOf(ignored).rejectedBy, null);
    assert.equal((await call('POST', `/releases/${releaseId}/approvals`, TOKENS.carol, { stage: 'prod', decision: 'reject', comment: 'bias numbers' })).status, 200);
    const done = await service.result(releaseId);
    assert.equal(done.status, 'rejected');
    assert.deepEqual({ ...prodOf(done).rejectedBy, at: undefined }, { approver: 'carol', reason: 'bias numbers', at: undefined, channel: 'api', verified: true });
    assert.equal((await audited(model, 'release.rejected'))[0]?.actor, 'carol');
    await recordHistory(releaseId, 'server-policy-refused-then-rejected');
  });

  it('a raw start that carries its own lax pipeline runs the bound one, and cannot reach an api-only stage with an unverified requester', async () => {
    const model = await guardedModel();
    const releaseId = releaseWorkflowId(model, '1.0.0');
    const lax = parsePipeline(LAX, 'lax.yaml');
    const handle = await temporal.client.workflow.start('releaseWorkflow', {
      workflowId: releaseId,
      taskQueue: temporal.taskQueue,
      args: [{ releaseId, model, version: '1.0.0', pipeline: lax, pipelineHash: 'f'.repeat(64), requestedBy: 'alice', requestedAt: new Date().toISOString() }],
    });
    const done = (await handle.result()) as ReleaseState;
    const bound = await policy.boundPipeline(model);
    assert.equal(done.pipeline, 'guarded');
    assert.equal(done.pipelineHash, bound?.hash);
    assert.deepEqual(done.requester, { user: 'alice', verified: false });
    assert.equal(done.status, 'rolled_back');
    assert.match(done.outcome?.reason ?? '', /requester must be verified too/);
    assert.equal((await audited(model, 'release.started'))[0]?.actor, 'unverified:claimed:alice');
    await recordHistory(releaseId, 'server-policy-unverified-requester');
  });

  it('a raw start of a model bound to no pipeline fails, naming the admin commands that fix it', async () => {
    const model = await registerModel(registry, { '1.0.0': { accuracy: 0.95 } });
    const releaseId = releaseWorkflowId(model, '1.0.0');
    const handle = await temporal.client.workflow.start('releaseWorkflow', {
      workflowId: releaseId,
      taskQueue: temporal.taskQueue,
      args: [{ releaseId, model, version: '1.0.0', pipeline: parsePipeline(LAX, 'lax.yaml'), pipelineHash: 'f'.repeat(64), requestedBy: uniqueName('x'), requestedAt: new Date().toISOString() }],
    });
    const done = (await handle.result()) as ReleaseState;
    assert.equal(done.status, 'failed');
    assert.match(done.outcome?.reason ?? '', /not bound to a pipeline.*slipway model bind/);
    assert.equal((await registry.getLive(model, 'prod'))?.version ?? null, null);
  });
});

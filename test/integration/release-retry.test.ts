/**
 * Retrying a release that ended badly, against the real Temporal dev server
 * and registry database: the stages that passed are kept (no deploy, no
 * approval asked again) when nothing they depend on changed; a changed live
 * pointer or pipeline revision makes the retry start earlier and say why; a
 * raw Temporal start claiming a retry keeps nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { Authenticator } from '../../api/auth';
import { buildApi } from '../../api/server';
import { ReleaseService } from '../../client/releases';
import { PolicyStore } from '../../registry/policy';
import { Registry } from '../../registry/registry';
import { buildEvidence } from '../../registry/evidence';
import { releaseWorkflowId, type ReleaseState } from '../../workflows/release/api';
import { recordHistory, registerModel, waitFor, waitForState } from '../support/releases';
import { openTestDb, startTestWorker, TEST_SIGNER, type TestDb, type TestTemporal } from '../support/stack';

const threeStages = (name: string, timeout = '1h') => `
name: ${name}
onFailure: halt
stages:
  - env: dev
  - env: test
    approval: { required: 1, approvers: [alice, bob], timeout: ${timeout} }
  - env: prod
    approval: { required: 1, approvers: [alice, bob], timeout: 1h }
`;
const TOKENS = { rita: 'rita-releaser-token-retry-0123', alice: 'alice-approver-token-retry-01', bob: 'bob-approver-token-retry-0123', vic: 'vic-viewer-token-retry-012345' };

describe('release retry: a new run keeps the stages that passed, as the worker checks them', () => {
  let t: TestDb;
  let temporal: TestTemporal;
  let service: ReleaseService;
  let registry: Registry;
  let policy: PolicyStore;
  let app: FastifyInstance;

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON bodies are explored by the assertions
  const call = async (method: 'GET' | 'POST', url: string, token: string, payload?: unknown): Promise<{ status: number; body: Record<string, any> }> => {
    const res = await app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
    return { status: res.statusCode, body: res.body ? (res.json() as Record<string, unknown>) : {} };
  };
  const stageOf = (s: ReleaseState, env: string) => s.stages.find((x) => x.env === env)!;
  const movesOf = async (model: string) => (await registry.deploymentHistory(model, undefined, 100)).filter((d) => d.version === '1.0.0');

  // A release of a fresh model bound to `pipeline`, approved at test and rejected at prod: ends rejected with dev and test live.
  const rejectedAtProd = async (pipeline: string) => {
    const model = await registerModel(registry, { '1.0.0': { accuracy: 0.95 }, '2.0.0': { accuracy: 0.95 } });
    await policy.bindModel(model, pipeline, 'admin');
    const started = await call('POST', '/releases', TOKENS.rita, { model, version: '1.0.0' });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    const releaseId = started.body.releaseId as string;
    await waitForState(service, releaseId, (s) => stageOf(s, 'test').status === 'awaiting_approval');
    assert.equal((await call('POST', `/releases/${releaseId}/approvals`, TOKENS.alice, { stage: 'test' })).status, 200);
    await waitForState(service, releaseId, (s) => stageOf(s, 'prod').status === 'awaiting_approval');
    assert.equal((await call('POST', `/releases/${releaseId}/approvals`, TOKENS.alice, { stage: 'prod', decision: 'reject', comment: 'not before the load test' })).status, 200);
    const ended = await service.result(releaseId);
    assert.equal(ended.status, 'rejected');
    await waitFor(async () => ((await service.releases.get(releaseId))?.status === 'rejected' ? true : undefined));
    return { model, releaseId, firstRunId: started.body.runId as string, ended };
  };

  before(async () => {
    t = await openTestDb();
    temporal = await startTestWorker(t.db);
    registry = new Registry(t.db);
    policy = new PolicyStore(t.db);
    for (const name of ['three', 'three-revised']) await policy.applyPipeline(threeStages(name), `${name}.yaml`, 'admin');
    service = new ReleaseService({ temporal: temporal.client, db: t.db, taskQueue: temporal.taskQueue, signer: TEST_SIGNER, bootstrapFromFolder: false });
    const auth = new Authenticator({
      tokens: [
        { user: 'rita', token: TOKENS.rita, roles: ['releaser'], approves: [] },
        { user: 'alice', token: TOKENS.alice, roles: ['viewer'], approves: ['test', 'prod'] },
        { user: 'bob', token: TOKENS.bob, roles: ['viewer'], approves: ['test', 'prod'] },
        { user: 'vic', token: TOKENS.vic, roles: ['viewer'], approves: [] },
      ],
    });
    app = await buildApi({ db: t.db, releases: service, auth, signer: TEST_SIGNER, mutationsPerMinute: 100_000 });
  });
  after(async () => {
    await app?.close();
    await temporal?.close();
    await t?.close();
  });

  it('keeps dev and test of a release rejected at prod (no new deploy, no approval asked again), runs prod, succeeds, and links the new run to the old', async () => {
    const { model, releaseId, firstRunId } = await rejectedAtProd('three');
    const deploysBefore = await movesOf(model);
    assert.deepEqual(deploysBefore.map((d) => d.env).sort(), ['dev', 'test']);

    const retried = await call('POST', `/releases/${releaseId}/retry`, TOKENS.rita, {});
    assert.equal(retried.status, 201, JSON.stringify(retried.body));
    assert.deepEqual(retried.body.carriedOver, ['dev', 'test']);
    assert.equal(retried.body.retryOf.runId, firstRunId);
    assert.equal(retried.body.retryOf.startFrom, 'prod');
    assert.notEqual(retried.body.runId, firstRunId);

    const waiting = await waitForState(service, releaseId, (s) => s.runId === retried.body.runId && stageOf(s, 'prod').status === 'awaiting_approval');
    for (const env of ['dev', 'test']) {
      assert.equal(stageOf(waiting, env).status, 'succeeded');
      assert.equal(stageOf(waiting, env).carriedOver?.fromRunId, firstRunId, `${env} is marked as kept from the first run`);
    }
    assert.deepEqual(stageOf(waiting, 'test').quorum?.approvedBy, ['alice'], 'the approval of test is the evidence kept, not a new one');
    assert.equal(stageOf(waiting, 'prod').carriedOver, undefined);
    assert.equal(waiting.retryOf?.runId, firstRunId);
    assert.equal(waiting.retryOf?.status, 'rejected');

    assert.equal((await call('POST', `/releases/${releaseId}/approvals`, TOKENS.bob, { stage: 'prod' })).status, 200);
    const done = await service.result(releaseId);
    assert.equal(done.status, 'succeeded');
    const deploysAfter = await movesOf(model);
    assert.deepEqual(deploysAfter.map((d) => d.env).sort(), ['dev', 'prod', 'test'], 'only prod was deployed by the retry');

    // The registry, the API and the evidence bundle all show the link and what was kept.
    const record = await waitFor(async () => {
      const r = await service.releases.get(releaseId);
      return r?.status === 'succeeded' ? r : undefined;
    });
    assert.equal(record.retryOf?.runId, firstRunId);
    assert.deepEqual((await service.releases.runs(releaseId)).map((r) => r.status), ['succeeded', 'rejected']);
    const viaApi = await call('GET', `/releases/${releaseId}`, TOKENS.vic);
    assert.equal(viaApi.body.retryOf.runId, firstRunId);
    assert.equal(viaApi.body.stages[1].carriedOver.fromRunId, firstRunId);
    const evidence = await buildEvidence(registry, done);
    const evidenceRelease = evidence.body.release as ReleaseState;
    assert.equal(evidenceRelease.stages[0]!.carriedOver?.fromRunId, firstRunId);
    const audit = await registry.audit.events.find({ chain: model, 'subject.releaseId': releaseId }).toArray();
    assert.equal(audit.filter((e) => e.action === 'release.retried').length, 1);
    assert.equal(audit.filter((e) => e.action === 'release.approved' && e.subject.env === 'test').length, 1, 'the kept approval is audited once, by the run that collected it');
    // The Web UI shows which run this one retries.
    const memo = (await temporal.client.workflow.getHandle(releaseId).describe()).memo as Record<string, unknown> | undefined;
    assert.equal(memo?.retryOf, firstRunId);
    await recordHistory(releaseId, 'release-retried-carried-over');
  });

  it('starts at test and says so when what is live in test changed since the rejected run', async () => {
    const { model, releaseId, firstRunId } = await rejectedAtProd('three');
    await registry.moveLivePointer({ model, env: 'test', version: '2.0.0', opKey: `manual-${model}-test`, by: 'ops', reason: 'hotfix by hand' });
    const retried = await call('POST', `/releases/${releaseId}/retry`, TOKENS.rita, {});
    assert.equal(retried.status, 201, JSON.stringify(retried.body));
    assert.deepEqual(retried.body.carriedOver, ['dev']);
    assert.equal(retried.body.retryOf.startFrom, 'test');
    assert.match(retried.body.retryOf.changes.join(' '), /test now runs 2\.0\.0/);
    const waiting = await waitForState(service, releaseId, (s) => s.runId === retried.body.runId && stageOf(s, 'test').status === 'awaiting_approval');
    assert.equal(stageOf(waiting, 'dev').carriedOver?.fromRunId, firstRunId);
    assert.equal(stageOf(waiting, 'test').carriedOver, undefined);
    assert.deepEqual(stageOf(waiting, 'test').quorum?.approvedBy, [], 'test asks for its approval again');
    await temporal.client.workflow.getHandle(releaseId).terminate('test done');
  });

  it('starts from dev and says why when the pipeline got a new revision; a --from later than that is refused and starts nothing', async () => {
    const { releaseId, firstRunId } = await rejectedAtProd('three-revised');
    await policy.applyPipeline(threeStages('three-revised', '2h'), 'three-revised.yaml', 'admin');
    const later = await call('POST', `/releases/${releaseId}/retry`, TOKENS.rita, { from: 'test' });
    assert.equal(later.status, 400, JSON.stringify(later.body));
    assert.match(later.body.error.message, /from/);
    assert.match(later.body.error.message, /test comes after dev, the first stage that must run again/);
    assert.equal((await service.releases.get(releaseId))?.runId, firstRunId, 'nothing started');

    const retried = await call('POST', `/releases/${releaseId}/retry`, TOKENS.rita, {});
    assert.equal(retried.status, 201, JSON.stringify(retried.body));
    assert.deepEqual(retried.body.carriedOver, []);
    assert.equal(retried.body.retryOf.startFrom, 'dev');
    assert.match(retried.body.retryOf.changes.join(' '), /pipeline three-revised changed since run .* \(revision 1 → 2\)/);
    const waiting = await waitForState(service, releaseId, (s) => s.runId === retried.body.runId && stageOf(s, 'test').status === 'awaiting_approval');
    assert.ok(waiting.stages.every((s) => s.carriedOver === undefined));
    assert.match(waiting.retryOf?.changes.join(' ') ?? '', /revision 1 → 2/);
    await temporal.client.workflow.getHandle(releaseId).terminate('test done');
  });

  it('starts at an earlier stage with --from, asking test for its approval again', async () => {
    const { releaseId, firstRunId } = await rejectedAtProd('three');
    const retried = await call('POST', `/releases/${releaseId}/retry`, TOKENS.rita, { from: 'test' });
    assert.equal(retried.status, 201, JSON.stringify(retried.body));
    assert.deepEqual(retried.body.carriedOver, ['dev']);
    const waiting = await waitForState(service, releaseId, (s) => s.runId === retried.body.runId && stageOf(s, 'test').status === 'awaiting_approval');
    assert.equal(stageOf(waiting, 'dev').carriedOver?.fromRunId, firstRunId);
    assert.equal(waiting.retryOf?.startFrom, 'test');
    await temporal.client.workflow.getHandle(releaseId).terminate('test done');
  });

  it('refuses to retry a running or succeeded release, an unknown one, a bad --from, and a viewer, naming why, and writes nothing', async () => {
    const model = await registerModel(registry, { '1.0.0': { accuracy: 0.95 } });
    await policy.bindModel(model, 'three', 'admin');
    const started = await call('POST', '/releases', TOKENS.rita, { model, version: '1.0.0' });
    const releaseId = started.body.releaseId as string;
    await waitForState(service, releaseId, (s) => stageOf(s, 'test').status === 'awaiting_approval');
    const running = await call('POST', `/releases/${releaseId}/retry`, TOKENS.rita, {});
    assert.equal(running.status, 400);
    assert.match(running.body.error.message, /is awaiting_approval; only a release that ended failed, rejected, approval_expired, cancelled can be retried: wait for it to end/);

    await call('POST', `/releases/${releaseId}/approvals`, TOKENS.alice, { stage: 'test' });
    await waitForState(service, releaseId, (s) => stageOf(s, 'prod').status === 'awaiting_approval');
    await call('POST', `/releases/${releaseId}/approvals`, TOKENS.bob, { stage: 'prod' });
    assert.equal((await service.result(releaseId)).status, 'succeeded');
    await waitFor(async () => ((await service.releases.get(releaseId))?.status === 'succeeded' ? true : undefined));
    const succeeded = await call('POST', `/releases/${releaseId}/retry`, TOKENS.rita, {});
    assert.equal(succeeded.status, 400);
    assert.match(succeeded.body.error.message, /is succeeded; .* it succeeded; start another version instead/);

    assert.equal((await call('POST', `/releases/release-${model}-9.9.9/retry`, TOKENS.rita, {})).status, 404);
    assert.equal((await call('POST', `/releases/${releaseId}/retry`, TOKENS.vic, {})).status, 403, 'retrying needs the releaser role');
    const badShape = await call('POST', `/releases/${releaseId}/retry`, TOKENS.rita, { from: '../prod' });
    assert.equal(badShape.status, 400);
    assert.match(JSON.stringify(badShape.body), /from/);
    const runs = await service.releases.runs(releaseId);
    assert.equal(runs.length, 1, 'no refused retry started a run');

    const { releaseId: rejected } = await rejectedAtProd('three');
    const unknownStage = await call('POST', `/releases/${rejected}/retry`, TOKENS.rita, { from: 'qa' });
    assert.equal(unknownStage.status, 400);
    assert.match(unknownStage.body.error.message, /no stage "qa" in pipeline three; its stages are dev, test, prod/);
    assert.equal((await service.releases.runs(rejected)).length, 1);
  });

  it('keeps nothing for a raw Temporal start claiming a retry, with no signature or with a signed plain start, and records the refusal', async () => {
    const { model, releaseId, firstRunId, ended } = await rejectedAtProd('three');
    const deploysBefore = (await movesOf(model)).length;
    const version = '1.0.0';
    const plainStart = TEST_SIGNER.signDecision({ kind: 'release.start', releaseId, model, version, requester: { user: 'rita', via: 'token' }, issuedAt: new Date().toISOString() });
    const handle = await temporal.client.workflow.start('releaseWorkflow', {
      workflowId: releaseWorkflowId(model, version),
      taskQueue: temporal.taskQueue,
      // A forged claim: the run to retry, a start decision the API signed for a plain start, and made-up kept stages.
      args: [{ releaseId, model, version, requestedBy: 'rita', requestedAt: new Date().toISOString(), pipelineName: ended.pipeline, pipelineHash: ended.pipelineHash, startDecision: plainStart, retry: { runId: firstRunId }, carriedOver: ['dev', 'test'], stages: ended.stages }],
    });
    const waiting = await waitForState(service, releaseId, (s) => s.runId === handle.firstExecutionRunId && stageOf(s, 'test').status === 'awaiting_approval');
    assert.ok(waiting.stages.every((s) => s.carriedOver === undefined), 'no stage kept');
    assert.equal(waiting.retryOf, undefined);
    assert.equal(stageOf(waiting, 'test').quorum?.approvedBy.length, 0);
    assert.match(waiting.ignoredMessages.map((m) => m.reason).join(' '), /retry request refused: the API signed no retry, not this one/);
    assert.equal((await movesOf(model)).length, deploysBefore + 1, 'dev was deployed again');
    const refusals = await waitFor(async () => {
      const events = await registry.audit.events.find({ chain: model, action: 'release.start_refused' }).toArray();
      return events.length > 0 ? events : undefined;
    });
    assert.match(refusals[0]!.reason ?? '', /retry request refused/);
    await handle.terminate('test done');
    await recordHistory(releaseId, 'release-retry-forged-refused');

    // Without any start decision the claim is refused too.
    const { model: m2, releaseId: r2, firstRunId: run2, ended: e2 } = await rejectedAtProd('three');
    const unsigned = await temporal.client.workflow.start('releaseWorkflow', {
      workflowId: r2,
      taskQueue: temporal.taskQueue,
      args: [{ releaseId: r2, model: m2, version, requestedBy: 'mallory', requestedAt: new Date().toISOString(), pipelineHash: e2.pipelineHash, retry: { runId: run2 } }],
    });
    const w2 = await waitForState(service, r2, (s) => s.runId === unsigned.firstExecutionRunId && stageOf(s, 'test').status === 'awaiting_approval');
    assert.ok(w2.stages.every((s) => s.carriedOver === undefined));
    assert.match(w2.ignoredMessages.map((m) => m.reason).join(' '), /not signed by the Slipway API/);
    await unsigned.terminate('test done');
  });
});

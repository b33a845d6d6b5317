/**
 * Quarantined versions against the real stack: refused at start (API, direct
 * service, raw Temporal start), a release of one in flight stops and
 * compensates, a rollback to one is refused and audited, and the quarantine
 * routes refuse hostile input and callers without the grant, writing nothing.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { Authenticator } from '../../api/auth';
import { buildApi } from '../../api/server';
import { ReleaseService } from '../../client/releases';
import { REPO_ROOT } from '../../devstack/stack';
import { InvalidInputError } from '../../registry/errors';
import { PolicyStore } from '../../registry/policy';
import { Registry } from '../../registry/registry';
import { releaseWorkflowId, rollbackWorkflowId, type ReleaseState } from '../../workflows/release/api';
import { recordHistory, registerModel, waitForState } from '../support/releases';
import { openTestDb, startTestWorker, TEST_SIGNER, type TestDb, type TestTemporal } from '../support/stack';
import { callApi, listenOnLoopback } from '../support/api';

const GATED = `
name: gated
stages:
  - env: staging
  - env: prod
    approval: { required: 1, approvers: [alice], timeout: 1h, channels: [api] }
`;
const BAKING = `
name: baking
stages:
  - env: staging
    bake: 5s
    healthChecks: { interval: 1s, minReports: 0 }
  - env: prod
`;
const TOKENS = { ada: 'ada-admin-token-0123456789abcd', rita: 'rita-releaser-token-0123456789', alice: 'alice-approver-token-012345', quinn: 'quinn-quarantiner-token-01234' };

/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies are explored by the assertions */
type Json = Record<string, any>;

describe('quarantined versions are never released or rolled back to', () => {
  let t: TestDb;
  let temporal: TestTemporal;
  let service: ReleaseService;
  let registry: Registry;
  let policy: PolicyStore;
  let app: FastifyInstance;
  let base: string;

  const call = (method: string, url: string, token: string, body?: unknown) => callApi(base, method, url, token, body);
  const gatedModel = async (versions: string[]) => {
    const model = await registerModel(registry, Object.fromEntries(versions.map((v) => [v, { accuracy: 0.95 }])));
    await policy.bindModel(model, 'gated', 'admin');
    return model;
  };
  const startAsRita = (model: string, version: string) => call('POST', '/releases', TOKENS.rita, { model, version });
  const quarantine = (model: string, version: string, token = TOKENS.ada, reason: unknown = 'leaks PII') => call('POST', `/models/${model}/versions/${version}/quarantine`, token, { reason });
  const events = (model: string, action: string) => registry.audit.events.find({ 'subject.model': model, action }).toArray();
  const prodOf = (s: ReleaseState) => s.stages.find((x) => x.env === 'prod')!;
  /** promote runs a version through both stages, alice approving prod through the API. */
  const promote = async (model: string, version: string) => {
    const started = await startAsRita(model, version);
    assert.equal(started.status, 201, JSON.stringify(started.body));
    await waitForState(service, started.body.releaseId, (s) => prodOf(s).status === 'awaiting_approval', 60_000);
    assert.equal((await call('POST', `/releases/${started.body.releaseId}/approvals`, TOKENS.alice, { stage: 'prod' })).status, 200);
    assert.equal((await service.result(started.body.releaseId)).status, 'succeeded');
  };

  before(async () => {
    t = await openTestDb();
    temporal = await startTestWorker(t.db, { lineRecheckMs: 1_000 });
    registry = new Registry(t.db);
    policy = new PolicyStore(t.db);
    await policy.applyPipeline(GATED, 'gated.yaml', 'admin');
    await policy.applyPipeline(BAKING, 'baking.yaml', 'admin');
    service = new ReleaseService({ temporal: temporal.client, db: t.db, taskQueue: temporal.taskQueue, signer: TEST_SIGNER, bootstrapFromFolder: false });
    const auth = new Authenticator({
      tokens: [
        { user: 'ada', token: TOKENS.ada, roles: ['admin'], approves: [] },
        { user: 'rita', token: TOKENS.rita, roles: ['releaser'], approves: [], rollsBack: ['*'] },
        { user: 'alice', token: TOKENS.alice, roles: ['viewer'], approves: ['prod'] },
        { user: 'quinn', token: TOKENS.quinn, roles: ['viewer'], approves: [], quarantines: true },
      ],
    });
    app = await buildApi({ db: t.db, releases: service, temporal: temporal.client, auth, signer: TEST_SIGNER, mutationsPerMinute: 100_000 });
    base = await listenOnLoopback(app);
  });
  after(async () => {
    await app?.close();
    await temporal?.close();
    await t?.close();
  });

  it('refuses to start a quarantined version through the API, the direct service and a raw Temporal start, and audits each', async () => {
    const model = await gatedModel(['1.0.0']);
    assert.equal((await quarantine(model, '1.0.0')).status, 201);
    const api = await startAsRita(model, '1.0.0');
    assert.equal(api.status, 400);
    assert.match(api.body.error.message, /is quarantined \(by ada.*leaks PII\)/);
    assert.equal(api.body.error.problems[0].field, 'version');
    const direct = new ReleaseService({ temporal: temporal.client, db: t.db, taskQueue: temporal.taskQueue, bootstrapFromFolder: true });
    await assert.rejects(direct.start({ model, version: '1.0.0', requestedBy: 'olga' }), (err: unknown) => err instanceof InvalidInputError && /quarantined/.test(err.message));
    assert.deepEqual((await events(model, 'release.refused')).map((e) => e.actor).sort(), ['rita', 'unverified:cli:olga']);

    // Anyone with Temporal access may start the workflow; the worker refuses it before any stage.
    const releaseId = releaseWorkflowId(model, '1.0.0');
    await temporal.client.workflow.start('releaseWorkflow', { workflowId: releaseId, taskQueue: temporal.taskQueue, args: [{ releaseId, model, version: '1.0.0', requestedBy: 'mallory', requestedAt: new Date().toISOString() }] });
    const ended = await service.result(releaseId);
    assert.equal(ended.status, 'failed');
    assert.match(ended.outcome?.reason ?? '', /quarantined/);
    assert.equal(await registry.getLive(model, 'staging'), null);
    assert.equal((await events(model, 'release.refused')).length, 3);
    assert.equal((await call('GET', `/quarantines?model=${model}`, TOKENS.rita)).body.quarantines[0].version, '1.0.0');
  });

  it('ends a release waiting for approval when its version is quarantined, compensating to the last good version', async () => {
    const model = await gatedModel(['1.0.0', '2.0.0']);
    await promote(model, '1.0.0');
    const started = await startAsRita(model, '2.0.0');
    assert.equal(started.status, 201);
    const releaseId = started.body.releaseId as string;
    await waitForState(service, releaseId, (s) => prodOf(s).status === 'awaiting_approval', 60_000);
    assert.equal((await registry.getLive(model, 'staging'))?.version, '2.0.0');
    const q = await quarantine(model, '2.0.0', TOKENS.quinn, 'bias found after staging');
    assert.equal(q.status, 201, JSON.stringify(q.body));
    assert.equal(q.body.releaseWoken, true);
    const ended = await service.result(releaseId);
    assert.equal(ended.status, 'rolled_back');
    assert.match(ended.outcome?.reason ?? '', /2\.0\.0 is quarantined \(by quinn.*bias found after staging/);
    assert.ok(ended.compensations.every((c) => c.status === 'done'), JSON.stringify(ended.compensations));
    assert.equal((await registry.getLive(model, 'staging'))?.version, '1.0.0');
    assert.equal((await registry.getLive(model, 'prod'))?.version, '1.0.0');
    assert.deepEqual((await events(model, 'version.quarantined')).map((e) => [e.actor, e.subject.version]), [['quinn', '2.0.0']]);
    await recordHistory(releaseId, 'release-quarantined-while-awaiting-approval');
  });

  it('ends a release whose version is quarantined during a bake once the bake is over, before the next stage, and undoes its deploy', async () => {
    const model = await registerModel(registry, { '1.0.0': { accuracy: 0.95 } });
    await policy.bindModel(model, 'baking', 'admin');
    const started = await startAsRita(model, '1.0.0');
    assert.equal(started.status, 201);
    await waitForState(service, started.body.releaseId, (s) => s.stages[0]?.status === 'baking', 60_000);
    assert.equal((await quarantine(model, '1.0.0')).status, 201);
    const ended = await service.result(started.body.releaseId);
    assert.equal(ended.status, 'rolled_back');
    assert.match(ended.outcome?.reason ?? '', /quarantined/);
    assert.ok(ended.stages[0]!.healthChecks.length > 0, 'the bake ran');
    assert.equal(prodOf(ended).deployedVersion, null);
    assert.equal((await registry.getLive(model, 'prod')), null);
    assert.equal((await registry.getLive(model, 'staging'))?.version ?? null, null);
  });

  it('refuses a rollback to a quarantined version through the API and a raw Temporal start, audits both, and never picks one as last known good', async () => {
    const model = await gatedModel(['1.0.0', '2.0.0']);
    await promote(model, '1.0.0');
    await promote(model, '2.0.0');
    assert.equal((await quarantine(model, '1.0.0')).status, 201);
    const api = await call('POST', '/rollbacks', TOKENS.rita, { model, env: 'prod', toVersion: '1.0.0', reason: 'go back' });
    assert.equal(api.status, 400);
    assert.match(api.body.error.message, /1\.0\.0 is quarantined.*nor rolled back to/);
    // Without --to, the last known good skips the quarantined version: there is none left.
    const lastGood = await call('POST', '/rollbacks', TOKENS.rita, { model, env: 'prod', reason: 'go back' });
    assert.equal(lastGood.status, 400);
    assert.match(lastGood.body.error.message, /no earlier good version/);

    const rollbackId = rollbackWorkflowId(model, 'prod', 'raw');
    const handle = await temporal.client.workflow.start('rollbackWorkflow', { workflowId: rollbackId, taskQueue: temporal.taskQueue, args: [{ rollbackId, model, env: 'prod', toVersion: '1.0.0', requestedBy: 'mallory', reason: 'raw' }] });
    // The workflow fails with the activity's non-retryable RollbackTargetNotGood.
    await assert.rejects(handle.result(), (err: unknown) => err instanceof WorkflowFailedError && /quarantined/.test(String((err.cause?.cause as Error | undefined)?.message)));
    assert.equal((await registry.getLive(model, 'prod'))?.version, '2.0.0');
    const refused = await events(model, 'rollback.refused');
    assert.deepEqual(refused.map((e) => e.actor).sort(), ['rita', 'unverified:claimed:mallory']);
  });

  it('refuses hostile quarantine requests by name, and callers without the grant, writing nothing', async () => {
    const model = await gatedModel(['1.0.0']);
    const before = await registry.audit.events.countDocuments({ 'subject.model': model });
    const cases: [string, string, string, Json | undefined, string, number, RegExp][] = [
      ['releaser', 'POST', `/models/${model}/versions/1.0.0/quarantine`, { reason: 'x' }, TOKENS.rita, 403, /rita may not quarantine.*quarantines: true/],
      ['approver', 'POST', `/models/${model}/versions/1.0.0/unquarantine`, { reason: 'x' }, TOKENS.alice, 403, /alice may not quarantine/],
      ['empty reason', 'POST', `/models/${model}/versions/1.0.0/quarantine`, { reason: '' }, TOKENS.ada, 400, /reason must not be empty/],
      ['no body', 'POST', `/models/${model}/versions/1.0.0/quarantine`, undefined, TOKENS.ada, 400, /body|reason/],
      ['unknown version', 'POST', `/models/${model}/versions/9.9.9/quarantine`, { reason: 'x' }, TOKENS.ada, 404, /version .*9\.9\.9 not found/],
      ['bad model name', 'POST', '/models/bad$name/versions/1.0.0/quarantine', { reason: 'x' }, TOKENS.ada, 400, /model/],
      ['not quarantined', 'POST', `/models/${model}/versions/1.0.0/unquarantine`, { reason: 'x' }, TOKENS.ada, 404, /quarantine .*1\.0\.0 not found; it is not quarantined/],
    ];
    for (const [what, method, url, body, token, status, message] of cases) {
      const res = await call(method, url, token, body);
      assert.equal(res.status, status, `${what}: ${JSON.stringify(res.body)}`);
      assert.match(res.body.error.message, message, what);
    }
    assert.deepEqual((await call('GET', `/quarantines?model=${model}`, TOKENS.rita)).body.quarantines, []);
    assert.equal(await registry.audit.events.countDocuments({ 'subject.model': model }), before);
    // Lifting one works, is audited, and the version may be released again.
    assert.equal((await quarantine(model, '1.0.0')).status, 201);
    assert.equal((await quarantine(model, '1.0.0')).status, 200, 'quarantining again changes nothing');
    assert.equal((await call('POST', `/models/${model}/versions/1.0.0/unquarantine`, TOKENS.quinn, { reason: 'false alarm' })).status, 200);
    assert.equal((await events(model, 'version.unquarantined'))[0]?.actor, 'quinn');
    assert.equal((await startAsRita(model, '1.0.0')).status, 201);
  });

  it('slipway model quarantine goes through the API as the token (a releaser is refused) and refuses an empty reason with exit 2', async () => {
    const model = await gatedModel(['1.0.0']);
    const { NODE_TEST_CONTEXT: _runnerOnly, ...inherited } = process.env;
    // Nothing listens at these: a verb that bypassed the API would fail with exit 5.
    const env = { ...inherited, TEMPORAL_ADDRESS: '127.0.0.1:1', SLIPWAY_MONGODB_URI: 'mongodb://127.0.0.1:1/none?serverSelectionTimeoutMS=500', SLIPWAY_API_URL: base };
    const empty = await slipway(['model', 'quarantine', model, '1.0.0', '--reason', '', '--json'], { ...env, SLIPWAY_TOKEN: TOKENS.quinn });
    assert.equal(empty.code, 2, empty.stderr);
    const releaser = await slipway(['model', 'quarantine', model, '1.0.0', '--reason', 'x', '--json'], { ...env, SLIPWAY_TOKEN: TOKENS.rita });
    assert.match(releaser.stdout, /rita may not quarantine/);
    assert.deepEqual((await call('GET', `/quarantines?model=${model}`, TOKENS.rita)).body.quarantines, []);
    const done = await slipway(['model', 'quarantine', model, '1.0.0', '--reason', 'bad outputs', '--json'], { ...env, SLIPWAY_TOKEN: TOKENS.quinn });
    assert.equal(done.code, 0, done.stderr);
    assert.equal(JSON.parse(done.stdout).quarantine.by, 'quinn');
  });
});

function slipway(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(REPO_ROOT, 'bin', 'slipway.js'), ...args], { cwd: REPO_ROOT, env, timeout: 90_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }),
    );
  });
}

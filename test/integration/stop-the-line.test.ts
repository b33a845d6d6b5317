/**
 * Stop the line against the real stack: releases finish the step they are in
 * and wait before their next deploy in the stopped scope, saying why, and
 * carry on after resume; a hotfix passes only with a signed break-glass
 * approval; the verbs and routes refuse hostile input and callers without
 * the grant, writing nothing.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { Authenticator } from '../../api/auth';
import { buildApi } from '../../api/server';
import { ReleaseService } from '../../client/releases';
import { REPO_ROOT } from '../../devstack/stack';
import { NAME_PATTERN } from '../../domain/model-version';
import { Signer } from '../../lib/signing';
import { PolicyStore } from '../../registry/policy';
import { Registry } from '../../registry/registry';
import { releaseWorkflowId, type ReleaseState } from '../../workflows/release/api';
import { recordHistory, registerModel, waitFor, waitForState } from '../support/releases';
import { openTestDb, startTestWorker, TEST_SIGNER, testEnv, type TestDb, type TestTemporal } from '../support/stack';
import { callApi, listenOnLoopback } from '../support/api';

const PIPELINES = {
  line: `
name: line
stages:
  - env: staging
  - env: prod
`,
  baking: `
name: baking
stages:
  - env: staging
    bake: 5s
    healthChecks: { interval: 1s, minReports: 0 }
  - env: prod
`,
  hot: `
name: hot
breakGlass: { approvers: [bob] }
stages:
  - env: staging
  - env: prod
`,
};
const TOKENS = { ada: 'ada-admin-token-0123456789abcd', rita: 'rita-releaser-token-0123456789', bob: 'bob-approver-token-0123456789', carol: 'carol-viewer-token-012345678', sam: 'sam-stopper-token-0123456789' };

/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies are explored by the assertions */
type Json = Record<string, any>;

describe('stop the line: releases wait before their next deploy in a stopped scope', () => {
  let t: TestDb;
  let temporal: TestTemporal;
  let service: ReleaseService;
  let registry: Registry;
  let policy: PolicyStore;
  let app: FastifyInstance;
  let base: string;

  const call = (method: string, url: string, token: string, body?: unknown) => callApi(base, method, url, token, body);
  const modelOn = async (pipeline: keyof typeof PIPELINES) => {
    const model = await registerModel(registry, { '1.0.0': { accuracy: 0.95 } });
    await policy.bindModel(model, pipeline, 'admin');
    return model;
  };
  const start = async (model: string, extra: Json = {}) => {
    const res = await call('POST', '/releases', TOKENS.rita, { model, version: '1.0.0', ...extra });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.releaseId as string;
  };
  const stageOf = (s: ReleaseState, env: string) => s.stages.find((x) => x.env === env)!;
  const held = (env: string) => (s: ReleaseState) => s.status === 'line_stopped' && s.waitingFor?.env === env;
  const stop = async (body: Json) => assert.equal((await call('POST', '/stops', TOKENS.ada, body)).status, 201);
  const resume = async (scope: string) => assert.equal((await call('POST', `/stops/${scope}/resume`, TOKENS.ada, { reason: 'fixed' })).status, 200);
  const globalEvents = (action: string) => registry.audit.events.find({ chain: '_global', action }).toArray();

  before(async () => {
    t = await openTestDb();
    temporal = await startTestWorker(t.db, { lineRecheckMs: 1_000 });
    registry = new Registry(t.db);
    policy = new PolicyStore(t.db);
    for (const [name, yaml] of Object.entries(PIPELINES)) await policy.applyPipeline(yaml, `${name}.yaml`, 'admin');
    service = new ReleaseService({ temporal: temporal.client, db: t.db, taskQueue: temporal.taskQueue, signer: TEST_SIGNER, bootstrapFromFolder: false });
    const auth = new Authenticator({
      tokens: [
        { user: 'ada', token: TOKENS.ada, roles: ['admin'], approves: [] },
        { user: 'rita', token: TOKENS.rita, roles: ['releaser'], approves: ['prod'], rollsBack: ['*'] },
        { user: 'bob', token: TOKENS.bob, roles: ['viewer'], approves: [] },
        { user: 'carol', token: TOKENS.carol, roles: ['viewer'], approves: ['prod'] },
        { user: 'sam', token: TOKENS.sam, roles: ['viewer'], approves: [], stopsLine: true },
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
  beforeEach(async () => {
    // Each test starts with the line running everywhere.
    assert.deepEqual((await call('GET', '/stops', TOKENS.carol)).body.stops, []);
  });

  it('waits before its deploy to a stopped env, saying why in GET /releases/:id, and completes after resume', async () => {
    const model = await modelOn('line');
    await stop({ env: 'prod', reason: 'incident 42: latency' });
    const releaseId = await start(model);
    const waiting = await waitForState(service, releaseId, held('prod'), 60_000);
    assert.equal(stageOf(waiting, 'staging').status, 'succeeded');
    assert.equal(stageOf(waiting, 'prod').status, 'line_stopped');
    assert.equal(stageOf(waiting, 'prod').deployedVersion, null);
    const shown = (await call('GET', `/releases/${releaseId}`, TOKENS.carol)).body;
    assert.deepEqual({ ...shown.waitingFor, since: undefined }, { kind: 'line-stop', env: 'prod', scope: 'prod', reason: 'incident 42: latency', by: 'ada', since: undefined });
    assert.match(shown.summary, /line stopped for prod by ada.*incident 42/);
    assert.equal(await registry.getLive(model, 'prod'), null);

    await resume('prod');
    const done = await service.result(releaseId);
    assert.equal(done.status, 'succeeded');
    assert.equal(done.waitingFor, null);
    assert.equal((await registry.getLive(model, 'prod'))?.version, '1.0.0');
    const [stopped] = await globalEvents('line.stopped');
    assert.deepEqual([stopped?.actor, stopped?.subject.env, stopped?.reason], ['ada', 'prod', 'incident 42: latency']);
    assert.equal((await globalEvents('line.resumed')).at(-1)?.actor, 'ada');
    await recordHistory(releaseId, 'release-line-stopped-resumed');
  });

  it('is not held by a stop on another environment', async () => {
    const model = await modelOn('line');
    await stop({ env: 'qa', reason: 'qa cluster down' });
    const done = await service.result(await start(model));
    assert.equal(done.status, 'succeeded');
    assert.ok(done.stages.every((s) => s.status === 'succeeded'));
    await resume('qa');
  });

  it('stop --all holds every environment, from the first deploy on', async () => {
    const model = await modelOn('line');
    await stop({ all: true, reason: 'region outage' });
    const releaseId = await start(model);
    const waiting = await waitForState(service, releaseId, held('staging'), 60_000);
    assert.equal(waiting.waitingFor?.scope, 'all');
    assert.equal(await registry.getLive(model, 'staging'), null);
    await resume('all');
    assert.equal((await service.result(releaseId)).status, 'succeeded');

  });

  it('lets a bake in progress finish, then holds the release before the next deploy', async () => {
    const model = await modelOn('baking');
    const releaseId = await start(model);
    await waitForState(service, releaseId, (s) => stageOf(s, 'staging').status === 'baking', 60_000);
    await stop({ all: true, reason: 'stop during bake' });
    const waiting = await waitForState(service, releaseId, held('prod'), 60_000);
    assert.equal(stageOf(waiting, 'staging').status, 'succeeded');
    assert.ok(stageOf(waiting, 'staging').healthChecks.length > 0, 'the bake ran its checks');
    await resume('all');
    assert.equal((await service.result(releaseId)).status, 'succeeded');
  });

  it('lets a hotfix pass a stop only with a signed break-glass approval from the pipeline list', async () => {
    const model = await modelOn('hot');
    await stop({ env: 'prod', reason: 'freeze for incident' });
    const releaseId = await start(model, { hotfix: true });
    const waiting = await waitForState(service, releaseId, held('prod'), 60_000);
    assert.equal(waiting.hotfix, true);
    // carol approves prod normally but is not a break-glass approver; rita started it.
    const carol = await call('POST', `/releases/${releaseId}/approvals`, TOKENS.carol, { stage: 'prod', breakGlass: true });
    assert.equal(carol.status, 403);
    assert.match(carol.body.error.message, /carol is not a break-glass approver of pipeline hot; they are bob/);
    const bob = await call('POST', `/releases/${releaseId}/approvals`, TOKENS.bob, { stage: 'prod', breakGlass: true, comment: 'customer outage fix' });
    assert.equal(bob.status, 200, JSON.stringify(bob.body));
    assert.equal(bob.body.outcome, 'counted');
    const done = await service.result(releaseId);
    assert.equal(done.status, 'succeeded');
    assert.equal((await registry.getLive(model, 'prod'))?.version, '1.0.0');
    assert.deepEqual(done.breakGlass?.map((b) => [b.stage, b.approver, Boolean(b.usedAt)]), [['prod', 'bob', true]]);
    const passed = await registry.audit.events.find({ 'subject.model': model, action: 'release.passed_line_stop' }).toArray();
    assert.deepEqual(passed.map((e) => e.actor), ['bob']);
    assert.equal((await registry.audit.events.find({ 'subject.model': model, action: 'release.approve_refused' }).toArray()).length, 1);
    // The stop still holds everyone else.
    assert.equal((await call('GET', '/stops', TOKENS.carol)).body.stops.length, 1);
    await recordHistory(releaseId, 'release-hotfix-break-glass');
    await resume('prod');
  });

  it('does not count a hotfix flag forged over raw Temporal, nor one signed by another key: the release waits like any other', async () => {
    const model = await modelOn('hot');
    await stop({ env: 'prod', reason: 'no forged hotfixes' });
    const releaseId = releaseWorkflowId(model, '1.0.0');
    const forgedDecision = Signer.generate().signDecision({ kind: 'release.start', releaseId, model, version: '1.0.0', requester: { user: 'rita', via: 'token' }, hotfix: true, issuedAt: new Date().toISOString() });
    await temporal.client.workflow.start('releaseWorkflow', {
      workflowId: releaseId,
      taskQueue: temporal.taskQueue,
      args: [{ releaseId, model, version: '1.0.0', requestedBy: 'rita', requestedAt: new Date().toISOString(), hotfix: true, startDecision: forgedDecision }],
    });
    const waiting = await waitForState(service, releaseId, held('prod'), 60_000);
    assert.equal(waiting.hotfix, undefined);
    assert.ok(waiting.ignoredMessages.some((m) => m.kind === 'start' && /hotfix claimed/.test(m.reason)), JSON.stringify(waiting.ignoredMessages));
    const bob = await call('POST', `/releases/${releaseId}/approvals`, TOKENS.bob, { stage: 'prod', breakGlass: true });
    assert.equal(bob.status, 403);
    assert.match(bob.body.error.message, /not a hotfix/);
    const still = await waitForState(service, releaseId, (s) => s.ignoredMessages.some((m) => /not a hotfix/.test(m.reason)));
    assert.equal(still.status, 'line_stopped');
    await resume('prod');
    assert.equal((await service.result(releaseId)).status, 'succeeded');
  });

  it('refuses hostile stop and resume requests by name, and callers without the grant, writing nothing', async () => {
    const changes = () => registry.audit.events.countDocuments({ chain: '_global', action: { $ne: 'api.refused' } });
    const refused = () => registry.audit.events.countDocuments({ action: 'api.refused', 'details.route': { $regex: ' /stops' } });
    const before = await changes();
    const refusedBefore = await refused();
    const refusals: [string, string, string, Json | undefined, number, RegExp][] = [
      ['rita (releaser) stops', 'POST', '/stops', { env: 'prod', reason: 'x' }, 403, /rita may not stop or resume the line.*stopsLine/],
      ['carol (viewer) resumes', 'POST', '/stops/prod/resume', {}, 403, /carol may not stop or resume/],
      ['bad env name', 'POST', '/stops', { env: 'prod.eu', reason: 'x' }, 400, /env/],
      ['operator-looking env', 'POST', '/stops', { env: '$where', reason: 'x' }, 400, /env/],
      ['empty reason', 'POST', '/stops', { env: 'prod', reason: '   ' }, 400, /reason must not be empty/],
      ['no reason', 'POST', '/stops', { env: 'prod' }, 400, /reason/],
      ['both env and all', 'POST', '/stops', { env: 'prod', all: true, reason: 'x' }, 400, /either --env <env> or --all, not both/],
      ['neither env nor all', 'POST', '/stops', { reason: 'x' }, 400, /--env <env>, or --all/],
      ['unknown field', 'POST', '/stops', { env: 'prod', reason: 'x', by: 'mallory' }, 400, /by|Unrecognized/i],
      ['resume a scope not stopped', 'POST', '/stops/prod/resume', {}, 404, /line stop prod not found.*not stopped anywhere/],
      ['resume a bad scope', 'POST', '/stops/pr%24od/resume', {}, 400, /scope/],
    ];
    for (const [what, method, url, body, status, message] of refusals) {
      const token = what.startsWith('rita') ? TOKENS.rita : what.startsWith('carol') ? TOKENS.carol : TOKENS.ada;
      const res = await call(method, url, token, body);
      assert.equal(res.status, status, `${what}: ${JSON.stringify(res.body)}`);
      assert.match(res.body.error.message, message, what);
    }
    assert.deepEqual((await call('GET', '/stops', TOKENS.carol)).body.stops, []);
    assert.equal(await changes(), before, 'no change audited, nothing written');
    // The two callers without the grant are recorded as refusals (api/refusals.ts), after their answers went out.
    await waitFor(async () => ((await refused()) === refusedBefore + 2 ? true : undefined), 10_000);
    // Any env or reason: a valid pair stops (and is resumed), anything else is a 400 naming the field, never a 500, and writes nothing.
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ maxLength: 70 }), fc.constantFrom('prod', 'all', '$gt', 'a.b', '')), fc.oneof(fc.string({ maxLength: 40 }), fc.constant(' \t ')), async (env, reason) => {
        const res = await call('POST', '/stops', TOKENS.ada, { env, reason });
        const valid = env !== 'all' && NAME_PATTERN.test(env) && reason.trim().length > 0;
        if (valid) {
          assert.equal(res.status, 201, JSON.stringify(res.body));
          assert.equal((await call('POST', `/stops/${encodeURIComponent(env)}/resume`, TOKENS.ada, {})).status, 200);
        } else {
          assert.equal(res.status, 400, `${JSON.stringify({ env, reason })}: ${JSON.stringify(res.body)}`);
          assert.match(res.body.error.message, /env|reason/);
        }
        assert.deepEqual((await call('GET', '/stops', TOKENS.carol)).body.stops, []);
      }),
      { numRuns: 40 },
    );
    // The dedicated grant works without admin.
    assert.equal((await call('POST', '/stops', TOKENS.sam, { env: 'dev', reason: 'sam may' })).status, 201);
    assert.equal((await call('POST', '/stops', TOKENS.sam, { env: 'dev', reason: 'again' })).status, 200, 'stopping again changes nothing');
    assert.equal((await call('POST', '/stops/dev/resume', TOKENS.sam, {})).status, 200);
  });

  it('slipway stop/resume work in direct mode, recorded as unverified, and refuse bad input with exit 2', async () => {
    const { temporalAddress } = testEnv();
    const env = { ...withoutRunnerVars(), TEMPORAL_ADDRESS: temporalAddress, SLIPWAY_MONGODB_URI: t.uri, SLIPWAY_TASK_QUEUE: temporal.taskQueue, SLIPWAY_USER: 'olga' };
    const bad = await slipway(['stop', '--env', 'prod', '--reason', '', '--json'], env);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(JSON.parse(bad.stdout).error.message, /reason must not be empty/);
    const both = await slipway(['stop', '--env', 'prod', '--all', '--reason', 'x', '--json'], env);
    assert.equal(both.code, 2, both.stderr);
    assert.deepEqual((await call('GET', '/stops', TOKENS.carol)).body.stops, []);
    const stopped = await slipway(['stop', '--env', 'prod', '--reason', 'cli stop', '--json'], env);
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.equal(JSON.parse(stopped.stdout).stop.by, 'unverified:cli:olga');
    const resumed = await slipway(['resume', '--env', 'prod', '--json'], env);
    assert.equal(resumed.code, 0, resumed.stderr);
    const unknown = await slipway(['resume', '--env', 'prod', '--json'], env);
    assert.equal(unknown.code, 3, unknown.stderr);
    // Through the API the token decides: a releaser is refused.
    const api = await slipway(['stop', '--all', '--reason', 'x', '--json'], { ...env, SLIPWAY_API_URL: base, SLIPWAY_TOKEN: TOKENS.rita });
    assert.notEqual(api.code, 0);
    assert.match(api.stdout, /rita may not stop or resume the line/);
    assert.deepEqual((await call('GET', '/stops', TOKENS.carol)).body.stops, []);
  });
});

function withoutRunnerVars(): NodeJS.ProcessEnv {
  const { NODE_TEST_CONTEXT: _runnerOnly, SLIPWAY_TOKEN: _notOurs, SLIPWAY_API_URL: _neither, ...inherited } = process.env;
  return inherited;
}

function slipway(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(REPO_ROOT, 'bin', 'slipway.js'), ...args], { cwd: REPO_ROOT, env, timeout: 90_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }),
    );
  });
}

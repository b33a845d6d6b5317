import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { Authenticator } from '../../api/auth';
import { buildApi } from '../../api/server';
import { BoardReader } from '../../registry/board';
import { Registry } from '../../registry/registry';
import { ReleaseStore } from '../../registry/releases';
import type { ReleaseState } from '../../domain/release';
import { registerModel } from '../support/releases';
import { openTestDb, type TestDb } from '../support/stack';

const VIEWER = 'board-viewer-token-0123456789';

describe('board routes on the real registry database', () => {
  let t: TestDb;
  let registry: Registry;
  let app: FastifyInstance;

  before(async () => {
    t = await openTestDb();
    registry = new Registry(t.db);
    await registry.ensureIndexes();
    app = await buildApi({ db: t.db, auth: new Authenticator({ tokens: [{ user: 'vic', token: VIEWER, roles: ['viewer'], approves: [] }] }) });
  });
  after(async () => {
    await app?.close();
    await t?.close();
  });

  const get = async (url: string, token?: string) => {
    const res = await app.inject({ method: 'GET', url, headers: token ? { authorization: `Bearer ${token}` } : {} });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON bodies are explored by the assertions
    return { status: res.statusCode, body: res.json() as Record<string, any> };
  };

  it('reads the newest move of every pointer even when the live_heads hint lags behind', async () => {
    const model = await registerModel(registry, { '1': {}, '2': {}, '3': {} });
    for (const [i, version] of ['1', '2', '3'].entries()) await registry.moveLivePointer({ model, env: 'prod', version, opKey: `t:${model}:${i}`, by: 'ci', reason: 'deploy' });
    await registry.moveLivePointer({ model, env: 'dev', version: '3', opKey: `t:${model}:dev`, by: 'ci', reason: 'deploy' });
    // A writer that died between its move and the hint: the hint says revision 1.
    await t.db.collection<{ _id: string; revision: number }>('live_heads').updateOne({ _id: `${model}:prod` }, { $set: { revision: 1 } });
    const live = await new BoardReader(t.db).liveEverywhere();
    assert.deepEqual(live.filter((d) => d.model === model).map((d) => [d.env, d.version, d.revision]), [['dev', '3', 1], ['prod', '3', 3]]);
  });

  it('answers GET /board to a viewer with live versions and the release on each environment, and 401 without a token', async () => {
    const model = await registerModel(registry, { '1': {}, '2': {} });
    await registry.moveLivePointer({ model, env: 'dev', version: '1', opKey: `b:${model}:dev`, by: 'ci', reason: 'deploy' });
    const at = new Date().toISOString();
    const state: ReleaseState = {
      releaseId: `release-${model}-2`, model, version: '2', pipeline: 'p', pipelineHash: 'a'.repeat(64), requestedBy: 'rita', status: 'deploying', currentStage: 'dev', summary: 'deploying to dev',
      stages: [{ env: 'dev', status: 'deploying', gates: [], quorum: null, approvalDeadline: null, rejectedBy: null, canaryWeight: 25, deployedVersion: null, previousVersion: '1', healthChecks: [], startedAt: at, endedAt: null, error: null }],
      ignoredMessages: [], compensations: [], startedAt: at, updatedAt: at, endedAt: null, outcome: null,
    };
    await new ReleaseStore(t.db).record(state, 1);
    assert.equal((await get('/board')).status, 401);
    const board = await get('/board', VIEWER);
    assert.equal(board.status, 200);
    const row = board.body.rows.find((r: { model: string }) => r.model === model);
    const dev = row.cells.find((c: { env: string }) => c.env === 'dev');
    assert.equal(dev.live.version, '1');
    assert.deepEqual(dev.release, { releaseId: `release-${model}-2`, version: '2', status: 'deploying', canaryWeight: 25, approvals: null, hotfix: false, waitingFor: null, quarantined: null });
    assert.deepEqual(row.inFlight.map((f: { releaseId: string }) => f.releaseId), [`release-${model}-2`]);
    // A viewer who may approve nothing has an empty inbox.
    assert.deepEqual((await get('/board/inbox', VIEWER)).body, { user: 'vic', items: [] });
  });

  it('answers GET /board with the stops in force, the stopped cells, the held release and quarantined versions, in the same one call', async () => {
    const model = await registerModel(registry, { '1': {}, '2': {} });
    await registry.moveLivePointer({ model, env: 'dev', version: '1', opKey: `s:${model}:dev`, by: 'ci', reason: 'deploy' });
    const env = `stop${model.slice(2, 8)}`;
    const { stop } = await registry.lineControls.stop({ scope: env, reason: 'incident 7', by: 'ada' });
    await registry.lineControls.quarantine({ model, version: '1', reason: 'leaks PII', by: 'ada' });
    const at = new Date().toISOString();
    const waitingFor = { kind: 'line-stop' as const, env, ...stop };
    const state: ReleaseState = {
      releaseId: `release-${model}-2`, model, version: '2', pipeline: 'p', pipelineHash: 'a'.repeat(64), requestedBy: 'rita', status: 'line_stopped', currentStage: env, summary: 'held', hotfix: true, waitingFor,
      stages: [{ env, status: 'line_stopped', gates: [], quorum: null, approvalDeadline: null, rejectedBy: null, canaryWeight: null, deployedVersion: null, previousVersion: null, healthChecks: [], startedAt: at, endedAt: null, error: null }],
      ignoredMessages: [], compensations: [], startedAt: at, updatedAt: at, endedAt: null, outcome: null,
    };
    await new ReleaseStore(t.db).record(state, 1);
    try {
      const board = await get('/board', VIEWER);
      assert.equal(board.status, 200);
      assert.deepEqual(board.body.stops.find((s: { scope: string }) => s.scope === env), stop);
      const row = board.body.rows.find((r: { model: string }) => r.model === model);
      const cell = row.cells.find((c: { env: string }) => c.env === env);
      assert.deepEqual(cell.stopped, stop);
      assert.deepEqual(cell.release.waitingFor, waitingFor);
      assert.equal(cell.release.hotfix, true);
      const dev = row.cells.find((c: { env: string }) => c.env === 'dev');
      assert.deepEqual([dev.live.quarantined.reason, dev.live.quarantined.by], ['leaks PII', 'ada']);
      assert.equal(dev.stopped, null);
      assert.deepEqual(row.inFlight.map((f: { hotfix: boolean; waitingFor: unknown }) => [f.hotfix, f.waitingFor]), [[true, waitingFor]]);
      const me = await get('/board/me', VIEWER);
      assert.deepEqual([me.body.releases, me.body.stopsLine, me.body.quarantines], [false, false, false], 'a viewer is offered no retry, stop or quarantine');
    } finally {
      await registry.lineControls.resume({ scope: env, by: 'ada' });
    }
  });

  it('serves the page and its script with the CSP and without a token, and keeps them out of the OpenAPI document', async () => {
    const page = await app.inject({ method: 'GET', url: '/' });
    assert.equal(page.statusCode, 200);
    assert.match(page.headers['content-security-policy'] as string, /script-src 'self'/);
    const src = /src="([^"]+)"/.exec(page.body)?.[1];
    assert.ok(src, 'the page loads its script from a file');
    const script = await app.inject({ method: 'GET', url: src });
    assert.equal(script.statusCode, 200);
    assert.match(script.headers['content-type'] as string, /javascript/);
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, unknown> };
    assert.ok(doc.paths['/board'] && doc.paths['/board/inbox']);
    assert.equal(doc.paths['/'], undefined);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Principal } from '../../api/auth';
import { buildBoard, inboxFor, sortEnvironments, type BoardRelease } from '../../api/board-view';
import { parsePipeline } from '../../domain/pipeline';
import { loadConfig } from '../../config';
import { RETRYABLE_STATUSES } from '../../domain/retry';
import type { Deployment } from '../../registry/types';
import { ago, matchesFilter, mayRetry, stopLine, temporalWorkflowUrl } from '../../ui/format';
import { findChromium } from '../support/chromium';

const NOW = new Date('2026-06-01T12:00:00Z');
const pipeline = parsePipeline(
  `name: p
stages:
  - env: dev
  - env: prod
    approval: { required: 2, approvers: [bob, carol, rita], timeout: 1h }
`,
  'p.yaml',
);
const HASH = 'h'.repeat(64);

function release(over: Partial<BoardRelease> & { prodStatus?: BoardRelease['stages'][number]['status']; approvedBy?: string[] } = {}): BoardRelease {
  const approvedBy = over.approvedBy ?? [];
  return {
    _id: 'release-fraud-2',
    model: 'fraud',
    version: '2',
    status: 'awaiting_approval',
    currentStage: 'prod',
    summary: 'waiting for approvals on prod',
    requestedBy: 'rita',
    requester: { user: 'rita' },
    pipelineHash: HASH,
    startedAt: NOW.toISOString(),
    updatedAt: NOW.toISOString(),
    stages: [
      { env: 'dev', status: 'succeeded', quorum: null, canaryWeight: null, approvalDeadline: null },
      { env: 'prod', status: over.prodStatus ?? 'awaiting_approval', quorum: { required: 2, approvedBy, refused: [], met: approvedBy.length >= 2 }, canaryWeight: null, approvalDeadline: null },
    ],
    ...over,
  };
}

const principal = (user: string, approves: string[]): Principal => ({ user, roles: ['viewer'], approves, rollsBack: [], via: 'token' });
const move = (model: string, env: string, version: string | null, health: 'ok' | 'failed' = 'ok'): Deployment => ({
  _id: `${model}:${env}:1`, opKey: `${model}-${env}`, model, env, revision: 1, version, previousVersion: null, startedAt: NOW, releaseId: null, by: 'ci', reason: 'deploy', health,
});

describe('release board view', () => {
  it('lists a stage in the inbox of a listed approver whose token may approve it', () => {
    const items = inboxFor(principal('bob', ['prod']), [release()], new Map([[HASH, pipeline]]), NOW);
    assert.deepEqual(items.map((i) => [i.releaseId, i.stage, i.approved, i.required, i.requestedBy]), [['release-fraud-2', 'prod', 0, 2, 'rita']]);
  });

  it('keeps out of the inbox: the requester, an unlisted approver, a token without the env, one already counted, an unknown pipeline', () => {
    const pipelines = new Map([[HASH, pipeline]]);
    assert.deepEqual(inboxFor(principal('rita', ['*']), [release()], pipelines, NOW), [], 'the requester may not approve her own release');
    assert.deepEqual(inboxFor(principal('dave', ['*']), [release()], pipelines, NOW), [], 'dave is not an approver of prod');
    assert.deepEqual(inboxFor(principal('carol', ['dev']), [release()], pipelines, NOW), [], 'carol\'s token may not approve prod');
    assert.deepEqual(inboxFor(principal('carol', ['prod']), [release({ approvedBy: ['carol'] })], pipelines, NOW), [], 'carol already counted');
    assert.deepEqual(inboxFor(principal('bob', ['prod']), [release()], new Map(), NOW), [], 'no pipeline, no policy to check against');
  });

  it('never lists, for any caller and release, a stage that is not awaiting approval or that the caller requested', () => {
    const name = fc.constantFrom('bob', 'carol', 'rita', 'dave', 'Rita');
    const status = fc.constantFrom('pending', 'gating', 'awaiting_approval', 'deploying', 'succeeded', 'failed') as fc.Arbitrary<BoardRelease['stages'][number]['status']>;
    fc.assert(
      fc.property(name, name, fc.subarray(['dev', 'prod', '*']), status, fc.subarray(['bob', 'carol', 'rita']), (user, requester, approves, prodStatus, approvedBy) => {
        const r = release({ requestedBy: requester, requester: { user: requester }, prodStatus, approvedBy });
        const items = inboxFor(principal(user, approves), [r], new Map([[HASH, pipeline]]), NOW);
        for (const i of items) {
          assert.equal(i.stage, 'prod');
          assert.equal(prodStatus, 'awaiting_approval');
          assert.notEqual(user.toLowerCase(), requester.toLowerCase());
          assert.ok(!approvedBy.includes(user));
          assert.ok(approves.includes('*') || approves.includes('prod'));
        }
      }),
    );
  });

  it('builds one row per model with live versions, health and the release working on each environment', () => {
    const board = buildBoard({
      live: [move('fraud', 'dev', '2'), move('fraud', 'prod', '1', 'failed'), move('churn', 'staging', '7')],
      inFlight: [release({ approvedBy: ['bob'] })],
      models: ['new-model'],
      now: NOW,
    });
    assert.deepEqual(board.environments, ['dev', 'staging', 'prod']);
    assert.deepEqual(board.rows.map((r) => r.model), ['churn', 'fraud', 'new-model']);
    const fraud = board.rows.find((r) => r.model === 'fraud')!;
    assert.deepEqual(fraud.cells.map((c) => [c.env, c.live?.version ?? null, c.live?.health ?? null, c.release?.status ?? null]), [
      ['dev', '2', 'ok', null],
      ['staging', null, null, null],
      ['prod', '1', 'failed', 'awaiting_approval'],
    ]);
    assert.deepEqual(fraud.cells[2]!.release!.approvals, { approved: 1, required: 2 });
    assert.equal(board.approvalsWaiting, 1);
    assert.ok(board.rows.find((r) => r.model === 'new-model')!.cells.every((c) => c.live === null && c.release === null));
  });

  it('marks the cells a stop holds (its own environment, or every one for `all`), lists the stops, and adds a stopped environment as a column', () => {
    const prodStop = { scope: 'prod', reason: 'incident 42', by: 'ada', since: NOW.toISOString() };
    const board = buildBoard({ live: [move('fraud', 'dev', '2')], inFlight: [], models: [], stops: [prodStop], now: NOW });
    assert.deepEqual(board.environments, ['dev', 'prod']);
    assert.deepEqual(board.stops, [prodStop]);
    assert.deepEqual(board.rows[0]!.cells.map((c) => [c.env, c.stopped?.scope ?? null]), [['dev', null], ['prod', 'prod']]);
    const all = { ...prodStop, scope: 'all' };
    const everywhere = buildBoard({ live: [move('fraud', 'dev', '2')], inFlight: [], models: [], stops: [all, prodStop], now: NOW });
    assert.deepEqual(everywhere.rows[0]!.cells.map((c) => [c.env, c.stopped?.scope ?? null]), [['dev', 'all'], ['prod', 'prod']], 'an environment\'s own stop comes before `all`');
  });

  it('shows a held release with the stop it waits for on its cell and in flight, a hotfix as such, and quarantined versions on live and release', () => {
    const waitingFor = { kind: 'line-stop' as const, env: 'prod', scope: 'prod', reason: 'incident 42', by: 'ada', since: NOW.toISOString() };
    const held = release({ status: 'line_stopped', prodStatus: 'line_stopped', hotfix: true, waitingFor });
    const q = { model: 'fraud', version: '2', reason: 'leaks PII', by: 'ada', since: NOW.toISOString() };
    const board = buildBoard({ live: [move('fraud', 'dev', '2'), move('fraud', 'prod', '1')], inFlight: [held], models: [], quarantines: [q, { ...q, model: 'churn' }], now: NOW });
    const [dev, prod] = board.rows[0]!.cells;
    assert.deepEqual(prod!.release, { releaseId: 'release-fraud-2', version: '2', status: 'line_stopped', canaryWeight: null, approvals: { approved: 0, required: 2 }, hotfix: true, waitingFor, quarantined: { reason: 'leaks PII', by: 'ada', since: NOW.toISOString() } });
    assert.deepEqual(dev!.live!.quarantined, { reason: 'leaks PII', by: 'ada', since: NOW.toISOString() });
    assert.equal(prod!.live!.quarantined, null, 'fraud@1 is not quarantined (churn@2 is another model)');
    assert.deepEqual(board.rows[0]!.inFlight.map((f) => [f.status, f.hotfix, f.waitingFor?.reason]), [['line_stopped', true, 'incident 42']]);
    assert.equal(board.approvalsWaiting, 0, 'a held stage waits for no approval');
  });

  it('orders environments dev → prod, then others by name, without duplicates', () => {
    assert.deepEqual(sortEnvironments(['prod', 'zeta', 'dev', 'alpha', 'staging', 'dev']), ['dev', 'staging', 'prod', 'alpha', 'zeta']);
  });
});

describe('release board page helpers', () => {
  it('says coarsely how long ago a moment was, and nothing for a missing or unreadable one', () => {
    const now = Date.parse('2026-06-01T12:00:00Z');
    assert.equal(ago('2026-06-01T11:59:30Z', now), '30s');
    assert.equal(ago('2026-06-01T11:00:00Z', now), '1h');
    assert.equal(ago('2026-05-29T12:00:00Z', now), '3d');
    assert.equal(ago(null, now), '');
    assert.equal(ago('not a date', now), '');
  });

  it('filters models by a case-insensitive part of the name, any text in', () => {
    fc.assert(fc.property(fc.string(), fc.string(), (name, filter) => {
      const kept = matchesFilter(name, filter);
      if (filter.trim() === '') assert.ok(kept);
      if (kept && filter.trim() !== '') assert.ok(name.toLowerCase().includes(filter.trim().toLowerCase()));
    }));
  });

  it('links a workflow in the Temporal Web UI with its id encoded, and not at all without a UI address', () => {
    assert.equal(temporalWorkflowUrl('http://127.0.0.1:8233/', 'default', 'release-a-1.0.0'), 'http://127.0.0.1:8233/namespaces/default/workflows/release-a-1.0.0');
    assert.equal(temporalWorkflowUrl('http://ui', 'ns', 'a/b?c'), 'http://ui/namespaces/ns/workflows/a%2Fb%3Fc');
    assert.equal(temporalWorkflowUrl(null, 'default', 'x'), null);
  });

  it('links one run of a workflow when a run id is given (the retried run of a release)', () => {
    assert.equal(temporalWorkflowUrl('http://ui', 'default', 'release-a-1', 'run/1'), 'http://ui/namespaces/default/workflows/release-a-1/run%2F1');
  });

  it('says a stop in words, `all` as every environment', () => {
    assert.equal(stopLine({ scope: 'all', by: 'ada', since: '2026-06-01T12:00:00Z', reason: 'freeze' }), 'Line stopped for every environment by ada since 2026-06-01 12:00:00 UTC: freeze');
    assert.match(stopLine({ scope: 'prod', by: 'ada', since: '2026-06-01T12:00:00Z', reason: 'x' }), /^Line stopped for prod by ada/);
  });

  it('offers Retry only to a caller who may start releases, and only for the endings the API retries', () => {
    const me = { releases: true, retryableStatuses: [...RETRYABLE_STATUSES] as string[] };
    for (const status of me.retryableStatuses) assert.ok(mayRetry(status, me), status);
    for (const status of ['succeeded', 'rolled_back', 'running', 'line_stopped']) assert.ok(!mayRetry(status, me), status);
    assert.ok(!mayRetry('failed', { ...me, releases: false }));
    assert.ok(!mayRetry('failed', undefined));
  });

  it('takes SLIPWAY_TEMPORAL_UI_URL only as an http(s) address, naming the setting otherwise', () => {
    assert.equal(loadConfig({ SLIPWAY_TEMPORAL_UI_URL: 'http://127.0.0.1:8233/' }).temporalUiUrl, 'http://127.0.0.1:8233');
    assert.equal(loadConfig({}).temporalUiUrl, undefined);
    assert.throws(() => loadConfig({ SLIPWAY_TEMPORAL_UI_URL: 'javascript:alert(1)' }), /SLIPWAY_TEMPORAL_UI_URL must start with http/);
    assert.throws(() => loadConfig({ SLIPWAY_TEMPORAL_UI_URL: 'not a url' }), /SLIPWAY_TEMPORAL_UI_URL must be the Temporal Web UI's address/);
  });

  it('finds Chromium only where told or installed, and says why and how to fix it when there is none', () => {
    assert.deepEqual(findChromium({ SLIPWAY_CHROMIUM: '/nonexistent/chromium' }), { missing: 'SLIPWAY_CHROMIUM=/nonexistent/chromium is not an executable file' });
    assert.deepEqual(findChromium({ SLIPWAY_CHROMIUM: process.execPath }), { path: process.execPath });
    const none = findChromium({ PATH: '/nonexistent' });
    if ('missing' in none) assert.match(none.missing, /SLIPWAY_CHROMIUM|apt-get install chromium/);
    else assert.equal(none.path, '/usr/bin/chromium', 'with an empty PATH only Debian\'s own path is tried');
  });
});

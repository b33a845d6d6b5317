import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { Authenticator } from '../../api/auth';
import { buildApi } from '../../api/server';
import { ReleaseService } from '../../client/releases';
import { approveSignal, rejectSignal, type ReleaseState } from '../../workflows/release/api';
import { registerModel, temporalCli, waitFor, waitForState, openReleaseHarness, type ReleaseHarness } from '../support/releases';
import { type TestDb, type TestTemporal } from '../support/stack';

const PIPELINES = {
  gated: `
name: gated
stages:
  - env: dev
  - env: prod
    approval: { required: 1, approvers: [alice, bob], timeout: 1h }
`,
};

const VIEWER = 'viewer-token-for-reruns';

describe('a version released again: the registry shows the newest run', () => {
  let t: TestDb;
  let temporal: TestTemporal;
  let service: ReleaseService;
  let app: FastifyInstance;

  let harness: ReleaseHarness | undefined;
  before(async () => {
    harness = await openReleaseHarness(PIPELINES);
    ({ t, temporal, service } = harness);
    app = await buildApi({ db: t.db, releases: service, auth: new Authenticator({ tokens: [{ user: 'vic', token: VIEWER, roles: ['viewer'], approves: [] }] }) });
  });
  after(async () => {
    await app?.close();
    await harness?.close();
  });

  const listed = async (model: string): Promise<Array<{ releaseId: string; startedAt: string; status: string }>> => {
    const res = await app.inject({ method: 'GET', url: `/releases?model=${model}`, headers: { authorization: `Bearer ${VIEWER}` } });
    assert.equal(res.statusCode, 200, res.body);
    return (res.json() as { items: Array<{ releaseId: string; startedAt: string; status: string }> }).items;
  };

  it('shows the new run of a version started again after a rejected run, from its first snapshots, and never the old one again', async () => {
    const model = await registerModel(service.registry, { r1: { accuracy: 0.95 } });
    const first = await service.start({ model, version: 'r1', pipeline: 'gated', requestedBy: 'dave' });
    await waitForState(service, first.releaseId, (s) => s.status === 'awaiting_approval');
    await temporal.client.workflow.getHandle(first.workflowId).signal(rejectSignal, { stage: 'prod', approver: 'alice', comment: 'not yet' });
    const old = (await temporal.client.workflow.getHandle(first.workflowId).result()) as ReleaseState;
    assert.equal(old.status, 'rejected');
    const oldRecord = await waitFor(async () => {
      const r = await service.releases.get(first.releaseId);
      return r?.status === 'rejected' ? r : undefined;
    });
    assert.ok(oldRecord.revision >= 3, `the old run wrote several snapshots (revision ${oldRecord.revision})`);

    const again = await service.start({ model, version: 'r1', pipeline: 'gated', requestedBy: 'dave' });
    assert.equal(again.alreadyRunning, false);
    // The new run's early snapshots (revision 1-2 are below the old run's) must already replace the old run.
    const early = await waitFor(async () => {
      const r = await service.releases.get(again.releaseId);
      return r && r.startedAt !== old.startedAt ? r : undefined;
    }).catch(async (err: unknown) => {
      throw new Error(`${String(err)}; stored: ${JSON.stringify(await service.releases.get(again.releaseId)).slice(0, 600)}; running: ${JSON.stringify(await service.status(again.releaseId)).slice(0, 1500)}`);
    });
    assert.ok(early.revision < oldRecord.revision, `caught the new run early (revision ${early.revision} < ${oldRecord.revision})`);
    assert.notEqual(early.status, 'rejected');
    assert.equal(early.outcome, null);

    const items = await listed(model);
    assert.equal(items.length, 1, 'one record per release id');
    assert.equal(items[0]?.startedAt, early.startedAt, 'GET /releases lists the new run');
    assert.notEqual(items[0]?.status, 'rejected');

    // A late write of the old run (e.g. a retried activity of its final record), even at a higher revision, is refused.
    assert.equal(await service.releases.record(old, oldRecord.revision + 10), 'stale');
    assert.equal((await service.releases.get(again.releaseId))?.startedAt, early.startedAt, 'the old run never comes back');

    await waitForState(service, again.releaseId, (s) => s.status === 'awaiting_approval');
    await temporal.client.workflow.getHandle(again.workflowId).signal(approveSignal, { stage: 'prod', approver: 'bob' });
    const final = (await temporal.client.workflow.getHandle(again.workflowId).result()) as ReleaseState;
    assert.equal(final.status, 'succeeded');

    // Once Temporal no longer has the workflow, status comes from the registry: the new run's outcome.
    await temporalCli(['workflow', 'delete', '--workflow-id', again.workflowId]);
    // The dev server deletes a closed workflow some 20 s after the request.
    await waitFor(async () => ((await temporal.client.workflow.getHandle(again.workflowId).describe().then(() => false, () => true)) ? true : undefined), 60_000);
    const status = await service.status(again.releaseId);
    assert.equal(status.status, 'succeeded');
    assert.equal(status.startedAt, final.startedAt);
    assert.equal((await listed(model))[0]?.status, 'succeeded');

    // The earlier run stays findable.
    const runs = await service.releases.runs(again.releaseId);
    assert.deepEqual(runs.map((r) => r.status), ['succeeded', 'rejected'], 'newest run first, then the rejected one');
  });

  it('keeps the revision rule within one run and lets a later run replace an earlier one whatever its revision', async () => {
    const store = service.releases;
    const at = (iso: string, summary: string): ReleaseState => ({
      releaseId: 'release-x-1', model: 'x', version: '1', pipeline: 'p', pipelineHash: 'h', requestedBy: 'ci', status: 'running', currentStage: null,
      summary, stages: [], ignoredMessages: [], compensations: [], startedAt: iso, updatedAt: iso, endedAt: null, outcome: null,
    });
    const firstRun = '2026-01-01T00:00:00.000Z';
    const secondRun = '2026-01-02T00:00:00.000Z';
    assert.equal(await store.record(at(firstRun, 'first run, 5'), 5), 'stored');
    assert.equal(await store.record(at(firstRun, 'first run, 4'), 4), 'stale', 'within a run a lower revision is stale');
    assert.equal(await store.record(at(secondRun, 'second run, 1'), 1), 'stored', 'a later run replaces an earlier one at revision 1');
    assert.equal(await store.record(at(firstRun, 'first run, 9'), 9), 'stale', 'an earlier run never overwrites a later one');
    assert.equal(await store.record(at(secondRun, 'second run, 1 again'), 1), 'stale');
    assert.equal(await store.record(at(secondRun, 'second run, 2'), 2), 'stored');
    const got = await store.get('release-x-1');
    assert.equal(got?.summary, 'second run, 2');
    assert.equal(got?.revision, 2);
  });
});

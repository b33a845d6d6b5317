import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { Authenticator } from '../../api/auth';
import { buildApi } from '../../api/server';
import { ReleaseService } from '../../client/releases';
import { approveSignal, approveUpdate, rejectSignal } from '../../workflows/release/api';
import { registerModel, waitForState, writePipelines } from '../support/releases';
import { openTestDb, startTestWorker, type TestDb, type TestTemporal } from '../support/stack';

const PIPELINE = `
name: guarded
stages:
  - env: prod
    approval: { required: 1, approvers: [alice], timeout: 1h }
`;

const junk = fc.oneof(
  fc.anything({ maxDepth: 3, maxKeys: 4, withNullPrototype: true, withBigInt: false }),
  fc.record({ stage: fc.oneof(fc.string(), fc.constant('prod'), fc.anything()), approver: fc.oneof(fc.string({ maxLength: 300 }), fc.constantFrom('$gt', 'mallory', 'a.b'), fc.anything()) }, { requiredKeys: [] }),
  fc.constantFrom({ stage: 'prod', approver: { $gt: '' } }, { stage: { $ne: null }, approver: 'alice' }, { stage: 'prod', approver: 'alice', extra: 1 }, [], 'x'.repeat(100_000)),
);
// The one message that would legitimately end the release is left out.
const hostile = junk.filter((v) => !(typeof v === 'object' && v !== null && (v as { approver?: unknown }).approver === 'alice' && (v as { stage?: unknown }).stage === 'prod'));

describe('hostile messages against a real release and the real API', () => {
  let t: TestDb;
  let temporal: TestTemporal;
  let service: ReleaseService;
  const TOKEN = 'releaser-token-0123456789';

  before(async () => {
    t = await openTestDb();
    temporal = await startTestWorker(t.db);
    service = new ReleaseService({ temporal: temporal.client, db: t.db, taskQueue: temporal.taskQueue, pipelinesDir: await writePipelines({ guarded: PIPELINE }), bootstrapFromFolder: true });
  });
  after(async () => {
    await temporal?.close();
    await t?.close();
  });

  it('leaves a waiting release alive and waiting through malformed signals and updates, then finishes normally', async () => {
    const model = await registerModel(service.registry, { '1': { accuracy: 0.9 } });
    const started = await service.start({ model, version: '1', pipeline: 'guarded', requestedBy: 'ci' });
    await waitForState(service, started.releaseId, (s) => s.status === 'awaiting_approval');
    const handle = temporal.client.workflow.getHandle(started.workflowId);
    const samples = fc.sample(hostile, { numRuns: 60, seed: 42 });
    for (const [i, payload] of samples.entries()) {
      if (i % 3 === 0) await handle.signal(approveSignal, payload);
      else if (i % 3 === 1) await handle.signal(rejectSignal, payload);
      else {
        try {
          const result = await handle.executeUpdate(approveUpdate, { args: [payload as never] });
          assert.notEqual(result.outcome, 'counted', `counted a hostile approval: ${JSON.stringify(payload)?.slice(0, 200)}`);
        } catch (err) {
          assert.ok(err instanceof WorkflowUpdateFailedError, `unexpected ${String(err)}`);
        }
      }
    }
    const state = await service.status(started.releaseId);
    assert.equal(state.status, 'awaiting_approval');
    assert.deepEqual(state.stages[0]?.quorum?.approvedBy, []);
    assert.ok(state.ignoredMessages.length > 0 && state.ignoredMessages.length <= 50, 'ignored messages are kept, and bounded');
    assert.ok(state.ignoredMessages.every((m) => m.input.length <= 301), 'stored previews are truncated');
    assert.equal((await handle.describe()).status.name, 'RUNNING');

    await handle.signal(approveSignal, { stage: 'prod', approver: 'alice' });
    assert.equal((await service.result(started.releaseId)).status, 'succeeded');
  });

  it('answers every malformed API body with a 4xx naming a field, never a 5xx, and writes nothing', async () => {
    const api = await buildApi({ db: t.db, releases: service, auth: new Authenticator({ tokens: [{ user: 'rita', token: TOKEN, roles: ['releaser'], approves: ['*'] }] }), mutationsPerMinute: 100_000 });
    const count = async () => ({
      versions: await service.registry.versions.countDocuments({}),
      releases: await service.releases.releases.countDocuments({}),
      health: await service.releases.health.countDocuments({}),
    });
    const before = await count();
    try {
      const routes = ['/releases', '/models/fraud/versions', '/health-reports', '/rollbacks', '/releases/release-x-1/approvals'];
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...routes), junk, async (url, body) => {
          const payload = JSON.stringify(body) ?? 'null';
          const res = await api.inject({ method: 'POST', url, payload, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' } });
          assert.ok(res.statusCode < 500, `${url} answered ${res.statusCode} to ${payload.slice(0, 200)}: ${res.body.slice(0, 300)}`);
          if (res.statusCode === 400) assert.ok(res.json<{ error: { message: string } }>().error.message.length > 0);
        }),
        { numRuns: 150 },
      );
    } finally {
      await api.close();
    }
    assert.deepEqual(await count(), before, 'a rejected request must leave no trace in the registry');
  });
});

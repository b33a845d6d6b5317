/**
 * A rollback restores only what was good before: a version that was live in
 * the environment and not marked failed. Checked by the client (and so the
 * CLI and the API) and again by the worker's findRollbackTarget activity, so
 * a raw Temporal client cannot deploy a version that never passed a gate.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ActivityFailure, ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import { Authenticator } from '../../api/auth';
import { buildApi } from '../../api/server';
import { ReleaseService } from '../../client/releases';
import { FailureType } from '../../domain/failures';
import { InvalidInputError } from '../../registry/errors';
import type { rollbackWorkflow } from '../../workflows/rollback';
import type { ReleaseState } from '../../workflows/release/api';
import { registerModel, writePipelines } from '../support/releases';
import { TEST_SIGNER, openTestDb, startTestWorker, uniqueName, type TestDb, type TestTemporal } from '../support/stack';

const PIPELINES = { direct: 'name: direct\nstages:\n  - env: prod\n' };
const METRICS = { accuracy: 0.95 };

describe('rollback rules on the real Temporal dev server and registry', () => {
  let t: TestDb;
  let temporal: TestTemporal;
  let service: ReleaseService;

  before(async () => {
    t = await openTestDb();
    temporal = await startTestWorker(t.db);
    service = new ReleaseService({ temporal: temporal.client, db: t.db, taskQueue: temporal.taskQueue, pipelinesDir: await writePipelines(PIPELINES), bootstrapFromFolder: true, signer: TEST_SIGNER });
  });
  after(async () => {
    await temporal?.close();
    await t?.close();
  });

  /** release promotes a version to prod and waits for it to succeed. */
  async function release(model: string, version: string): Promise<void> {
    const started = await service.start({ model, version, pipeline: 'direct', requestedBy: 'ci' });
    const final = (await temporal.client.workflow.getHandle(started.workflowId).result()) as ReleaseState;
    assert.equal(final.status, 'succeeded');
  }

  /** rawRollback starts rollbackWorkflow the way anyone with Temporal access could, skipping the client's checks. */
  async function rawRollback(model: string, toVersion: string): Promise<unknown> {
    const rollbackId = `rollback-${model}-prod-${uniqueName('raw')}`;
    const handle = await temporal.client.workflow.start<typeof rollbackWorkflow>('rollbackWorkflow', {
      workflowId: rollbackId,
      taskQueue: temporal.taskQueue,
      args: [{ rollbackId, model, env: 'prod', toVersion, requestedBy: 'mallory', reason: 'raw start' }],
    });
    return handle.result().then(
      () => assert.fail('the rollback should have failed'),
      (err: unknown) => err,
    );
  }

  function assertRefusedByWorker(err: unknown, pattern: RegExp): void {
    assert.ok(err instanceof WorkflowFailedError, `expected WorkflowFailedError, got ${String(err)}`);
    assert.ok(err.cause instanceof ActivityFailure, `expected the findRollbackTarget activity to fail, got ${String(err.cause)}`);
    const cause = err.cause.cause;
    assert.ok(cause instanceof ApplicationFailure);
    assert.equal(cause.type, FailureType.RollbackTargetNotGood);
    assert.equal(cause.nonRetryable, true);
    assert.match(cause.message, pattern);
  }

  it('refuses a version never live in prod, in the client and on the worker, leaving the live pointer as it was', async () => {
    const model = await registerModel(service.registry, { v1: METRICS, v2: METRICS, untested: METRICS });
    await release(model, 'v1');
    await release(model, 'v2');
    const before = await service.registry.deploymentHistory(model, 'prod');

    await assert.rejects(service.rollback({ model, env: 'prod', toVersion: 'untested', requestedBy: 'oncall' }), (err: unknown) => {
      assert.ok(err instanceof InvalidInputError);
      assert.equal(err.problems[0]?.field, 'to');
      assert.match(err.message, /never live in prod.*start a release instead/);
      return true;
    });

    assertRefusedByWorker(await rawRollback(model, 'untested'), /never live in prod/);
    assert.equal((await service.registry.getLive(model, 'prod'))?.version, 'v2', 'the live pointer did not move');
    const refusedEvents = await service.registry.audit.events.find({ 'subject.model': model, action: 'rollback.refused' }).toArray();
    assert.deepEqual(refusedEvents.map((e) => e.actor), ['unverified:claimed:mallory'], 'the refusal is audited, the claimed requester marked unverified');
    const afterwards = await service.registry.deploymentHistory(model, 'prod');
    assert.deepEqual(afterwards.map((d) => [d._id, d.health]), before.map((d) => [d._id, d.health]), 'nothing deployed, nothing marked failed');
  });

  it('accepts a version that was live in prod before and not marked failed, and then refuses the one it replaced', async () => {
    const model = await registerModel(service.registry, { v1: METRICS, v2: METRICS });
    await release(model, 'v1');
    await release(model, 'v2');

    const rollback = await service.rollback({ model, env: 'prod', toVersion: 'v1', requestedBy: 'oncall', reason: 'v2 hurts conversion' });
    assert.deepEqual(await rollback.result, { model, env: 'prod', from: 'v2', to: 'v1', status: 'succeeded' });
    assert.equal((await service.registry.getLive(model, 'prod'))?.version, 'v1');

    // The rollback marked v2's deployment failed: it is no longer good to go back to.
    await assert.rejects(service.rollback({ model, env: 'prod', toVersion: 'v2', requestedBy: 'oncall' }), (err: unknown) => {
      assert.ok(err instanceof InvalidInputError);
      assert.equal(err.problems[0]?.field, 'to');
      assert.match(err.message, /marked failed.*start a release instead/);
      return true;
    });
    assertRefusedByWorker(await rawRollback(model, 'v2'), /marked failed/);
    assert.equal((await service.registry.getLive(model, 'prod'))?.version, 'v1');
  });

  it('POST /rollbacks needs the rollsBack grant for the environment (admin always), and answers 400 naming `to` for a version never live there', async () => {
    const model = await registerModel(service.registry, { v1: METRICS, v2: METRICS, untested: METRICS });
    await release(model, 'v1');
    await release(model, 'v2');
    const tokens = { rita: 'releaser-token-0123456789', olga: 'oncall-token-0123456789', ada: 'admin-token-0123456789' };
    const auth = new Authenticator({
      tokens: [
        { user: 'rita', token: tokens.rita, roles: ['releaser'], approves: ['*'] },
        { user: 'olga', token: tokens.olga, roles: ['viewer'], approves: [], rollsBack: ['prod'] },
        { user: 'ada', token: tokens.ada, roles: ['admin'], approves: [] },
      ],
    });
    const api = await buildApi({ db: t.db, releases: service, auth });
    try {
      const post = (token: string, body: object) =>
        api.inject({ method: 'POST', url: '/rollbacks', payload: body, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } });

      const releaser = await post(tokens.rita, { model, env: 'prod', toVersion: 'v1' });
      assert.equal(releaser.statusCode, 403);
      assert.match(releaser.json().error.message, /rita may not roll back prod.*rollsBack/);

      const untested = await post(tokens.olga, { model, env: 'prod', toVersion: 'untested' });
      assert.equal(untested.statusCode, 400);
      assert.equal(untested.json().error.problems[0].field, 'to');
      assert.match(untested.json().error.message, /start a release instead/);

      const granted = await post(tokens.olga, { model, env: 'prod', toVersion: 'v1' });
      assert.equal(granted.statusCode, 202, granted.body);
      assert.equal((await temporal.client.workflow.getHandle(granted.json().workflowId).result()).to, 'v1');
      const requested = await service.registry.audit.events.findOne({ 'subject.model': model, action: 'rollback.requested', 'details.rollbackId': granted.json().workflowId });
      assert.equal(requested?.actor, 'olga', 'the API-signed request names its verified requester');

      const admin = await post(tokens.ada, { model, env: 'prod', toVersion: 'v1' });
      assert.equal(admin.statusCode, 202, admin.body);
    } finally {
      await api.close();
    }
  });
});

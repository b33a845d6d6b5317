import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { randomUUID } from 'node:crypto';
import { stackCheckWorkflow } from '../../workflows';
import { httpAnswers } from '../../devstack/stack';
import { openTestDb, startTestWorker, testEnv, type TestDb, type TestTemporal } from '../support/stack';

describe('the real stack', () => {
  let db: TestDb;
  let temporal: TestTemporal;
  before(async () => {
    db = await openTestDb();
    temporal = await startTestWorker(db.db);
  });
  after(async () => {
    await temporal?.close();
    await db?.close();
  });

  it('runs a workflow whose activity writes and reads a registry document', async () => {
    const checkId = `check-${randomUUID()}`;
    const result = await temporal.client.workflow.execute(stackCheckWorkflow, {
      taskQueue: temporal.taskQueue,
      workflowId: `stack-check-${checkId}`,
      args: [checkId],
    });
    assert.equal(result.checkId, checkId);
    assert.equal(result.readBack, true);
    // The document is really in the database, not just in the activity's answer.
    const stored = await db.db.collection<{ _id: string }>('stack_checks').findOne({ _id: checkId });
    assert.ok(stored, 'stack check document missing from the registry database');
    assert.equal((stored as unknown as { writtenAt: Date }).writtenAt.toISOString(), result.writtenAt);
  });

  it('keeps the written document unchanged when the activity runs again with the same key', async () => {
    const checkId = `check-${randomUUID()}`;
    const first = await temporal.client.workflow.execute(stackCheckWorkflow, {
      taskQueue: temporal.taskQueue, workflowId: `stack-check-a-${checkId}`, args: [checkId],
    });
    const second = await temporal.client.workflow.execute(stackCheckWorkflow, {
      taskQueue: temporal.taskQueue, workflowId: `stack-check-b-${checkId}`, args: [checkId],
    });
    assert.equal(second.writtenAt, first.writtenAt);
    assert.equal(await db.db.collection('stack_checks').countDocuments({ _id: checkId as never }), 1);
  });

  it('answers registry lookups by _id from the _id index, not by scanning the collection', async () => {
    const coll = db.db.collection<{ _id: string; n: number }>('id_lookup_check');
    await coll.insertMany(Array.from({ length: 50 }, (_, n) => ({ _id: `k:${n}`, n })));
    const explained = (await db.db.command({ explain: { find: 'id_lookup_check', filter: { _id: 'k:7' } } })) as {
      queryPlanner?: { Plan?: string[]; winningPlan?: unknown };
    };
    const plan = explained.queryPlanner?.Plan;
    if (plan) {
      // FerretDB's SQLite plan: our launcher's patch (tools/ferretdb-launcher/patch-ferretdb.sh) makes this an index search.
      assert.match(plan.join(' '), /USING INDEX \S+__id_/, `expected an _id index search, got ${JSON.stringify(plan)}`);
    } else {
      assert.match(JSON.stringify(explained.queryPlanner?.winningPlan), /IDHACK|EXPRESS|IXSCAN/, 'mongod answers _id lookups from its index');
    }
    assert.equal((await coll.findOne({ _id: 'k:7' }))?.n, 7);
  });

  it('serves the Temporal Web UI over HTTP', async () => {
    const res = await fetch(testEnv().uiUrl);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /<html/i);
    assert.equal(await httpAnswers(testEnv().uiUrl), true);
  });
});

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { ReleaseService } from '../../client/releases';
import { REPO_ROOT } from '../../devstack/stack';
import { deployOpKey } from '../../workflows/release/api';
import { registerModel, waitForState, writePipelines } from '../support/releases';
import { openTestDb, testEnv, uniqueName, type TestDb } from '../support/stack';

const PIPELINE = `
name: crashy
stages:
  - env: dev
    target: slow-registry
  - env: staging
    bake: 4s
    # About crash recovery, not evidence: nothing posts health reports here.
    healthChecks: { interval: 1s, minReports: 0 }
`;

function startWorkerProcess(db: TestDb, taskQueue: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'test', 'support', 'worker-process.ts')], {
    env: { ...process.env, SLIPWAY_MONGODB_URI: db.uri, SLIPWAY_TASK_QUEUE: taskQueue, SLOW_DEPLOY_MS: '3000' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('worker ready')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`worker process exited early with ${code}`)));
  });
}

async function kill(child: ChildProcess): Promise<void> {
  const gone = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await gone;
}

describe('a worker killed with SIGKILL', () => {
  let db: TestDb;
  let connection: Connection;
  let service: ReleaseService;
  const taskQueue = uniqueName('crash');
  const children: ChildProcess[] = [];

  before(async () => {
    db = await openTestDb();
    connection = await Connection.connect({ address: testEnv().temporalAddress });
    const temporal = new Client({ connection });
    service = new ReleaseService({ temporal, db: db.db, taskQueue, pipelinesDir: await writePipelines({ crashy: PIPELINE }), bootstrapFromFolder: true, extraPlugins: { targets: ['slow-registry'] } });
  });
  after(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await connection?.close();
    await db?.close();
  });

  it('mid-deploy and mid-bake, then restarted: the release finishes and the deploy happens exactly once', async () => {
    const model = await registerModel(service.registry, { k1: { accuracy: 0.95 } });
    children.push(await startWorkerProcess(db, taskQueue));
    const started = await service.start({ model, version: 'k1', pipeline: 'crashy', requestedBy: 'ci' });
    const opKey = deployOpKey(started.releaseId, started.runId, 'dev');
    const attempts = db.db.collection('deploy_attempts');

    // Kill while the dev deploy activity is in flight.
    for (let i = 0; i < 200 && (await attempts.countDocuments({ opKey })) === 0; i++) await sleep(100);
    assert.equal(await attempts.countDocuments({ opKey }), 1, 'the deploy never started');
    await kill(children[0]!);
    assert.equal(await service.registry.findMove(opKey), null, 'killed before the move was made');

    children.push(await startWorkerProcess(db, taskQueue));
    await waitForState(service, started.releaseId, (s) => s.status === 'baking', 60_000);

    // Kill again while the staging bake sleeps; a third worker picks the workflow up.
    await kill(children[1]!);
    children.push(await startWorkerProcess(db, taskQueue));
    const final = await service.result(started.releaseId);
    assert.equal(final.status, 'succeeded', final.summary);

    assert.ok((await attempts.countDocuments({ opKey })) >= 2, 'the deploy activity was retried after the crash');
    assert.equal(await service.registry.deployments.countDocuments({ model, env: 'dev' }), 1, 'exactly one dev deploy');
    assert.equal(await service.registry.deployments.countDocuments({ model, env: 'staging' }), 1, 'exactly one staging deploy');
    assert.equal(await service.registry.audit.events.countDocuments({ action: 'live.moved', 'subject.model': model }), 2);
    assert.equal((await service.registry.audit.verify()).ok, true);
    assert.ok(final.stages[1]!.healthChecks.length >= 1, `the bake went on checking health after the crash: ${JSON.stringify(final.stages[1])}`);
  });
});

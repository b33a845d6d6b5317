/**
 * Fault survival on a stack of its own (these tests stop and restart its
 * servers): a deploy target that hangs, fails, then recovers; the registry
 * database down for 15 s during deploys and approvals; the Temporal dev server
 * restarted on its database file; two workers on one task queue. Each checks
 * that every release reaches its right end, every deploy happened exactly
 * once at the target, and the audit chain verifies.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import type { DeployTarget } from '../../targets/types';
import { ReleaseService } from '../../client/releases';
import { REPO_ROOT, startStack, type RunningStack } from '../../devstack/stack';
import { connectRegistryDb, type RegistryDb } from '../../registry/db';
import { createSlipwayWorker, type SlipwayWorker } from '../../workers/worker';
import { approveSignal, deployOpKey } from '../../workflows/release/api';
import { registerModel, waitForState, writePipelines } from '../support/releases';
import { uniqueName } from '../support/stack';

const PIPELINES = {
  flaky: `
name: flaky
stages:
  - env: prod
    target: http-flaky
`,
  outage: `
name: outage
stages:
  - env: dev
  - env: prod
    approval: { required: 1, approvers: [alice], timeout: 1h }
`,
  restart: `
name: restart
stages:
  - env: dev
    bake: 6s
    # About restarts, not evidence: nothing posts health reports here.
    healthChecks: { interval: 1s, minReports: 0 }
  - env: prod
    approval: { required: 1, approvers: [alice], timeout: 1h }
`,
  plain: `
name: plain
stages:
  - env: dev
  - env: staging
  - env: prod
`,
};

/** A deploy endpoint that can hang, fail with 500, or work — and counts what it applied, by opKey. */
function flakyServer() {
  let mode: 'hang' | 'fail' | 'ok' = 'ok';
  const applied = new Map<string, number>();
  const calls = new Map<string, number>();
  const hung: http.ServerResponse[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const { opKey } = JSON.parse(body) as { opKey: string };
      calls.set(opKey, (calls.get(opKey) ?? 0) + 1);
      if (mode === 'hang') return void hung.push(res);
      if (mode === 'fail') return void res.writeHead(500).end('{"error":"boom"}');
      if (!applied.has(opKey)) applied.set(opKey, 1); // idempotent by opKey
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"previousVersion":null}');
    });
  });
  return {
    server,
    applied,
    calls,
    setMode(next: typeof mode) {
      mode = next;
      if (next !== 'hang') for (const res of hung.splice(0)) res.destroy();
    },
  };
}

function httpTarget(url: () => string): DeployTarget {
  return {
    name: 'http-flaky',
    supportsWeights: false,
    async deploy(req) {
      const res = await fetch(`${url()}/deploy`, { method: 'POST', body: JSON.stringify({ opKey: req.opKey, version: req.version }), signal: AbortSignal.timeout(30_000) });
      if (!res.ok) throw new Error(`deploy endpoint answered ${res.status}`);
      return (await res.json()) as { previousVersion: string | null };
    },
    async undo() {
      return { restoredTo: null };
    },
  };
}

describe('fault survival', () => {
  let stack: RunningStack;
  let registryDb: RegistryDb;
  let connection: Connection;
  let service: ReleaseService;
  const workers: SlipwayWorker[] = [];
  const runs: Promise<void>[] = [];
  const taskQueue = uniqueName('faults');
  const flaky = flakyServer();
  let flakyUrl = '';
  const dataDir = path.join(REPO_ROOT, '.slipway', 'fault-runs', String(process.pid));

  const startWorker = async () => {
    const w = await createSlipwayWorker({
      temporalAddress: stack.temporalAddress,
      namespace: 'default',
      taskQueue,
      db: registryDb.db,
      extensions: { targets: [httpTarget(() => flakyUrl)] },
    });
    workers.push(w);
    runs.push(w.worker.run());
    return w;
  };

  before(async () => {
    fs.rmSync(dataDir, { recursive: true, force: true });
    stack = await startStack({ dataDir, database: 'slipway_faults', startTimeoutSec: 120 });
    await new Promise<void>((resolve) => flaky.server.listen(0, '127.0.0.1', resolve));
    const address = flaky.server.address();
    flakyUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    registryDb = await connectRegistryDb(stack.mongodbUri);
    connection = await Connection.connect({ address: stack.temporalAddress });
    service = new ReleaseService({ temporal: new Client({ connection }), db: registryDb.db, taskQueue, pipelinesDir: await writePipelines(PIPELINES), bootstrapFromFolder: true, extraPlugins: { targets: ['http-flaky'] } });
    await startWorker();
  });
  after(async () => {
    for (const w of workers) w.worker.shutdown();
    await Promise.allSettled(runs);
    await Promise.allSettled(workers.map((w) => w.close()));
    await connection?.close();
    await registryDb?.close();
    flaky.server.close();
    await stack?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  // After every scenario: the audit chain verifies and every environment lease was given back.
  const auditAndLeasesOk = async () => {
    assert.deepEqual(await service.registry.audit.verify().then((v) => v.ok), true);
    assert.equal(await registryDb.db.collection('env_leases').countDocuments({}), 0, 'no environment lease left held');
  };

  it('a deploy target that hangs, then returns 500s, then recovers: every release succeeds and deploys exactly once', async () => {
    flaky.setMode('hang');
    const models = await Promise.all([1, 2, 3].map(() => registerModel(service.registry, { v1: { accuracy: 0.9 } })));
    const started = await Promise.all(models.map((model) => service.start({ model, version: 'v1', pipeline: 'flaky', requestedBy: 'ci' })));
    const opKeys = started.map((s) => deployOpKey(s.releaseId, s.runId, 'prod'));
    // Past the 10 s heartbeat timeout, so attempts time out and are retried.
    await new Promise((resolve) => setTimeout(resolve, 12_000));
    flaky.setMode('fail');
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    flaky.setMode('ok');
    const finals = await Promise.all(started.map((s) => service.result(s.releaseId)));
    assert.deepEqual(finals.map((f) => f.status), ['succeeded', 'succeeded', 'succeeded']);
    for (const key of opKeys) {
      assert.equal(flaky.applied.get(key), 1, `${key} applied once`);
      assert.ok((flaky.calls.get(key) ?? 0) >= 2, `${key} was retried (${flaky.calls.get(key)} calls)`);
    }
    await auditAndLeasesOk();
  });

  it('the registry database unreachable for 15 s during deploys and approvals: releases finish once it returns', async () => {
    const models = await Promise.all([1, 2, 3].map(() => registerModel(service.registry, { v1: { accuracy: 0.9 } })));
    const started = await Promise.all(models.map((model) => service.start({ model, version: 'v1', pipeline: 'outage', requestedBy: 'ci' })));
    for (const s of started) await waitForState(service, s.releaseId, (st) => st.status === 'awaiting_approval', 60_000);
    const outage = stack.restart(stack.registryBackend === 'mongod' ? 'mongod' : 'ferretdb', { downMs: 15_000 });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    // Approvals arrive while the database is down; the prod deploys then wait for it.
    const client = new Client({ connection });
    for (const s of started) await client.workflow.getHandle(s.workflowId).signal(approveSignal, { stage: 'prod', approver: 'alice' });
    await outage;
    const finals = await Promise.all(started.map((s) => service.result(s.releaseId)));
    assert.deepEqual(finals.map((f) => f.status), ['succeeded', 'succeeded', 'succeeded']);
    for (const model of models) {
      assert.equal(await service.registry.deployments.countDocuments({ model, env: 'prod' }), 1);
      assert.equal(await service.registry.deployments.countDocuments({ model, env: 'dev' }), 1);
    }
    await auditAndLeasesOk();
  });

  it('the Temporal dev server restarted on its database file: releases in flight resume and finish', async () => {
    const models = await Promise.all([1, 2].map(() => registerModel(service.registry, { v1: { accuracy: 0.9 } })));
    const started = await Promise.all(models.map((model) => service.start({ model, version: 'v1', pipeline: 'restart', requestedBy: 'ci' })));
    for (const s of started) await waitForState(service, s.releaseId, (st) => st.status === 'baking', 60_000);
    await stack.restart('temporal', { downMs: 2_000 });
    const client = new Client({ connection });
    for (const s of started) {
      await waitForState(service, s.releaseId, (st) => st.status === 'awaiting_approval', 90_000);
      await client.workflow.getHandle(s.workflowId).signal(approveSignal, { stage: 'prod', approver: 'alice' });
    }
    const finals = await Promise.all(started.map((s) => service.result(s.releaseId)));
    assert.deepEqual(finals.map((f) => f.status), ['succeeded', 'succeeded']);
    for (const model of models) assert.equal(await service.registry.deployments.countDocuments({ model }), 2, 'dev and prod, once each');
    await auditAndLeasesOk();
  });

  it('two workers competing for one task queue: every release succeeds and deploys once per stage', async () => {
    await startWorker();
    const models = await Promise.all(Array.from({ length: 8 }, () => registerModel(service.registry, { v1: { accuracy: 0.9 } })));
    const started = await Promise.all(models.map((model) => service.start({ model, version: 'v1', pipeline: 'plain', requestedBy: 'ci' })));
    const finals = await Promise.all(started.map((s) => service.result(s.releaseId)));
    assert.ok(finals.every((f) => f.status === 'succeeded'), finals.map((f) => f.status).join(','));
    for (const model of models) assert.equal(await service.registry.deployments.countDocuments({ model }), 3);
    await auditAndLeasesOk();
  });
});

/**
 * A manual rollback undoes through the deploy target that made the live
 * deployment, not through the registry alone: otherwise the pointer moves
 * back while the bad version keeps serving. Each deployment records its
 * target; the webhook target moves the registry's live pointer once the
 * platform confirms 100%.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ReleaseService } from '../../client/releases';
import { WEBHOOK_SIGNATURE_HEADER, verifyWebhookSignature } from '../../lib/request-signing';
import { Registry } from '../../registry/registry';
import { registryTarget } from '../../targets/registry/registry-target';
import type { DeployRequest, DeployTarget } from '../../targets/types';
import { webhookTarget, type WebhookDeployBody, type WebhookUndoBody } from '../../targets/webhook/webhook-target';
import type { ReleaseState } from '../../workflows/release/api';
import { registerModel, writePipelines } from '../support/releases';
import { openTestDb, startTestWorker, type TestDb, type TestTemporal } from '../support/stack';

const SECRET = 'rollback-secret-0123456789abcdef0123456789';
const PIPELINES = {
  recorded: 'name: recorded\nstages:\n  - env: prod\n    target: recording\n',
  hooked: 'name: hooked\nstages:\n  - env: prod\n    target: webhook\n',
};
const METRICS = { accuracy: 0.95 };

/** A target that serves nothing itself: it records each deploy, then moves the live pointer as the registry target does. */
function recordingTarget(registry: Registry, deploys: DeployRequest[]): DeployTarget {
  const pointers = registryTarget(registry);
  return {
    name: 'recording',
    supportsWeights: false,
    async deploy(req) {
      deploys.push(req);
      return pointers.deploy(req);
    },
    undo: (req) => pointers.undo(req),
  };
}

/** A platform speaking the webhook protocol on 127.0.0.1: checks signatures, dedupes by opKey, answers 200 at once. */
class Platform {
  readonly bodies: (WebhookDeployBody | WebhookUndoBody)[] = [];
  readonly live = new Map<string, string | null>();
  private readonly done = new Map<string, Record<string, unknown>>();
  private readonly before = new Map<string, string | null>();
  private readonly server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => this.handle(req, Buffer.concat(chunks), res));
  });
  url = '';

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/deploy`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private handle(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse): void {
    const send = (code: number, json: unknown) => res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(json));
    const check = verifyWebhookSignature(SECRET, req.headers[WEBHOOK_SIGNATURE_HEADER], body);
    if (!check.valid) {
      send(401, { error: check.reason });
      return;
    }
    const request = JSON.parse(body.toString('utf8')) as WebhookDeployBody | WebhookUndoBody;
    this.bodies.push(request);
    let answer = this.done.get(request.opKey);
    if (!answer) {
      const key = `${request.model}/${request.env}`;
      if (request.action === 'deploy') {
        if (!this.before.has(request.deployKey)) this.before.set(request.deployKey, this.live.get(key) ?? null);
        if (request.weight === 100) this.live.set(key, request.version);
        answer = { status: 'succeeded', previousVersion: this.before.get(request.deployKey) };
      } else {
        const restoredTo = this.before.get(request.deployKey) ?? null;
        this.live.set(key, restoredTo);
        answer = { status: 'succeeded', restoredTo };
      }
      this.done.set(request.opKey, answer);
    }
    send(200, answer);
  }
}

describe('manual rollbacks undo through the target of the live deployment', () => {
  let t: TestDb;
  let temporal: TestTemporal;
  let service: ReleaseService;
  let platform: Platform;
  const recorded: DeployRequest[] = [];

  before(async () => {
    t = await openTestDb();
    platform = new Platform();
    await platform.start();
    const registry = new Registry(t.db);
    temporal = await startTestWorker(t.db, {
      extensions: { targets: [recordingTarget(registry, recorded), webhookTarget({ url: platform.url, secret: SECRET, registry, pollIntervalMs: 50 })] },
    });
    service = new ReleaseService({ temporal: temporal.client, db: t.db, taskQueue: temporal.taskQueue, pipelinesDir: await writePipelines(PIPELINES), bootstrapFromFolder: true, extraPlugins: { targets: ['recording'] } });
  });
  after(async () => {
    await temporal?.close();
    await platform?.close();
    await t?.close();
  });

  async function release(model: string, version: string, pipeline: string): Promise<void> {
    const started = await service.start({ model, version, pipeline, requestedBy: 'ci' });
    const final = (await temporal.client.workflow.getHandle(started.workflowId).result()) as ReleaseState;
    assert.equal(final.status, 'succeeded', final.summary);
  }

  it('records the target on each deployment and rolls back to the last good version through it, not through the registry', async () => {
    const model = await registerModel(service.registry, { v1: METRICS, v2: METRICS });
    await release(model, 'v1', 'recorded');
    await release(model, 'v2', 'recorded');
    const rollback = await service.rollback({ model, env: 'prod', requestedBy: 'oncall', reason: 'v2 misbehaves' });
    assert.deepEqual(await rollback.result, { model, env: 'prod', from: 'v2', to: 'v1', status: 'succeeded' });
    const mine = recorded.filter((d) => d.model === model);
    assert.deepEqual(mine.map((d) => d.version), ['v1', 'v2', 'v1'], 'the target served the rollback to v1');
    assert.equal(mine[2]?.releaseId, rollback.workflowId);
    const released = await service.registry.lastDeploymentOf(model, 'prod', 'v2');
    assert.deepEqual([released?.target, released?.health], ['recording', 'failed'], 'the release recorded its target; the rollback marked it failed');
    const live = await service.registry.getLive(model, 'prod');
    assert.deepEqual([live?.version, live?.target, live?.releaseId], ['v1', 'recording', rollback.workflowId]);
  });

  it('rolls back through the registry a deployment recorded without a target', async () => {
    const model = await registerModel(service.registry, { v1: METRICS, v2: METRICS });
    // Moves made before deployments named their target.
    for (const v of ['v1', 'v2']) await service.registry.moveLivePointer({ model, env: 'prod', version: v, opKey: `old-${model}-${v}`, by: 'ci', reason: 'before targets' });
    const rollback = await service.rollback({ model, env: 'prod', requestedBy: 'oncall' });
    assert.deepEqual(await rollback.result, { model, env: 'prod', from: 'v2', to: 'v1', status: 'succeeded' });
    assert.equal(recorded.filter((d) => d.model === model).length, 0);
    const live = await service.registry.getLive(model, 'prod');
    assert.deepEqual([live?.version, live?.target], ['v1', 'registry']);
  });

  it('moves the live pointer when a webhook platform confirms a release, and rolls back through the platform', async () => {
    const model = await registerModel(service.registry, { w1: METRICS, w2: METRICS });
    await release(model, 'w1', 'hooked');
    const first = await service.registry.getLive(model, 'prod');
    assert.deepEqual([first?.version, first?.target], ['w1', 'webhook'], 'the registry knows what the platform serves');
    await release(model, 'w2', 'hooked');
    assert.equal(platform.live.get(`${model}/prod`), 'w2');
    assert.equal((await service.registry.getLive(model, 'prod'))?.version, 'w2');

    const rollback = await service.rollback({ model, env: 'prod', requestedBy: 'oncall', reason: 'w2 misbehaves' });
    assert.deepEqual(await rollback.result, { model, env: 'prod', from: 'w2', to: 'w1', status: 'succeeded' });
    const sent = platform.bodies.filter((b) => b.model === model && b.releaseId === rollback.workflowId);
    assert.deepEqual(sent.map((b) => [b.action, (b as WebhookDeployBody).version, (b as WebhookDeployBody).weight]), [['deploy', 'w1', 100]]);
    assert.equal(platform.live.get(`${model}/prod`), 'w1', 'the platform serves w1 again');
    const live = await service.registry.getLive(model, 'prod');
    assert.deepEqual([live?.version, live?.target], ['w1', 'webhook']);
    // w2's deployment was marked failed by the rollback: no longer last known good.
    assert.equal((await service.registry.lastDeploymentOf(model, 'prod', 'w2'))?.health, 'failed');
  });
});

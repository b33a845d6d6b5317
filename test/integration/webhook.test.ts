import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure, CancelledFailure } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import { webhookTarget, type WebhookDeployBody, type WebhookUndoBody } from '../../targets/webhook/webhook-target';
import type { GateContext } from '../../gates/types';
import { webhookGateSchema } from '../../gates/webhook/schema';
import { createWebhookGate } from '../../gates/webhook/webhook';
import { WEBHOOK_SIGNATURE_HEADER, signWebhookBody, signWebhookRequest, verifyWebhookRequest, verifyWebhookSignature } from '../../lib/request-signing';
import { Registry } from '../../registry/registry';
import type { VersionDoc } from '../../registry/types';
import { REPO_ROOT } from '../../serving/model-runtime';
import { openTestDb, uniqueName, type TestDb } from '../support/stack';
import { testSandbox } from '../support/gate-context';

const SECRET = 'test-secret-0123456789abcdef0123456789abcdef';

interface Operation {
  status: 'pending' | 'running' | 'succeeded' | 'failed';
  polls: number;
  answer: Record<string, unknown>;
}

/**
 * A deploy platform speaking the webhook protocol on 127.0.0.1: it verifies
 * every v2 signature (method, URL, body) with verifyWebhookRequest, dedupes by opKey, answers 202
 * and finishes after two polls. The version (or failed version) picks a
 * behaviour: `sync` answers 200 at once, `fail` ends failed, `hang` never
 * finishes, `slow-post` answers the POST after 2 s, `flaky` answers 503,
 * `elsewhere` gives a status URL on another origin, `redirect` answers 307.
 */
class FakePlatform {
  readonly server: http.Server;
  readonly ops = new Map<string, Operation>();
  readonly bodies: (WebhookDeployBody | WebhookUndoBody)[] = [];
  readonly refused: string[] = [];
  readonly live = new Map<string, string | null>();
  readonly before = new Map<string, string | null>();
  url = '';

  constructor() {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => void this.handle(req, Buffer.concat(chunks), res));
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private async handle(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse): Promise<void> {
    const send = (code: number, json: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(code, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(json));
    };
    const check = verifyWebhookRequest(SECRET, req.headers[WEBHOOK_SIGNATURE_HEADER], { method: req.method ?? '', url: `${this.url}${req.url ?? ''}`, body });
    if (!check.valid) {
      this.refused.push(check.reason);
      return send(401, { error: check.reason });
    }
    const poll = /^\/status\/(.+)$/.exec(req.url ?? '');
    if (req.method === 'GET' && poll) {
      const op = this.ops.get(decodeURIComponent(poll[1] as string));
      if (!op) return send(404, { error: 'unknown operation' });
      op.polls++;
      if (op.status === 'pending' || op.status === 'running') op.status = 'running';
      if (op.polls >= 2 && op.status === 'running' && op.answer.finish !== 'hang') this.finish(op);
      return send(200, { status: op.status, ...op.answer, finish: undefined });
    }
    if (req.method !== 'POST' || !['/deploy', '/deploy/undo'].includes(req.url ?? '')) return send(404, { error: 'not found' });
    const request = JSON.parse(body.toString('utf8')) as WebhookDeployBody | WebhookUndoBody;
    assert.equal(req.headers['idempotency-key'], request.opKey);
    this.bodies.push(request);
    const behaviour = request.action === 'deploy' ? request.version : request.failedVersion;
    if (behaviour === 'flaky') return send(503, { error: 'deployer restarting' });
    if (behaviour === 'redirect') return send(307, {}, { location: 'http://127.0.0.2:1/deploy' });
    if (behaviour === 'elsewhere') return send(202, { status: 'pending', statusUrl: `http://localhost:${new URL(this.url).port}/status/x` });
    if (behaviour === 'slow-post') await sleep(2_000);
    let op = this.ops.get(request.opKey);
    if (!op) {
      op = { status: 'pending', polls: 0, answer: this.start_(request, behaviour) };
      this.ops.set(request.opKey, op);
      if (behaviour === 'sync') this.finish(op);
    }
    if (op.status === 'succeeded' || op.status === 'failed') return send(200, { status: op.status, ...op.answer, finish: undefined });
    const statusUrl = `/status/${encodeURIComponent(request.opKey)}`;
    // Half the answers use a relative statusUrl, the other half only a Location header.
    return request.action === 'deploy' ? send(202, { status: 'pending', statusUrl }) : send(202, {}, { location: `${this.url}${statusUrl}` });
  }

  // The work, decided now and revealed when the operation finishes.
  private start_(request: WebhookDeployBody | WebhookUndoBody, behaviour: string): Record<string, unknown> {
    const key = `${request.model}/${request.env}`;
    if (behaviour === 'fail') return { finish: 'fail', message: 'image pull failed: manifest unknown' };
    if (behaviour === 'hang') return { finish: 'hang' };
    if (request.action === 'deploy') {
      if (!this.before.has(request.deployKey)) this.before.set(request.deployKey, this.live.get(key) ?? null);
      return { finish: 'deploy', previousVersion: this.before.get(request.deployKey), key, version: request.version, weight: request.weight };
    }
    if (!this.before.has(request.deployKey)) return { finish: 'skip', skipped: `never saw deploy ${request.deployKey}` };
    return { finish: 'undo', restoredTo: this.before.get(request.deployKey), key };
  }

  private finish(op: Operation): void {
    const a = op.answer;
    if (a.finish === 'fail') {
      op.status = 'failed';
      return;
    }
    if (a.finish === 'deploy' && a.weight === 100) this.live.set(a.key as string, a.version as string);
    if (a.finish === 'undo') this.live.set(a.key as string, a.restoredTo as string | null);
    op.status = 'succeeded';
    delete a.key;
    delete a.version;
    delete a.weight;
  }
}

const failure = (type: string, retryable: boolean, message: RegExp) => (err: unknown) => {
  assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(err)}`);
  assert.equal(err.type, type, err.message);
  assert.equal(err.nonRetryable, !retryable, `nonRetryable of ${err.message}`);
  assert.match(err.message, message);
  return true;
};

describe('webhook signatures', () => {
  const body = JSON.stringify({ action: 'deploy', opKey: 'k', version: 'v1' });
  const now = new Date('2026-01-01T00:00:00Z');

  it('accepts a fresh signature over the exact body, with a rotated secret too', () => {
    const header = signWebhookBody(SECRET, body, now);
    assert.match(header, /^t=1767225600,v1=[0-9a-f]{64}$/);
    assert.deepEqual(verifyWebhookSignature(SECRET, header, body, 300, now), { valid: true, timestamp: 1767225600, version: 'v1' });
    assert.equal(verifyWebhookSignature(['next-secret-aaaaaaaaaaaa', SECRET], header, Buffer.from(body), 300, new Date(now.getTime() + 299_000)).valid, true);
  });

  it('refuses a forged, tampered, replayed, future or malformed signature, saying why', () => {
    const header = signWebhookBody(SECRET, body, now);
    const reason = (...args: Parameters<typeof verifyWebhookSignature>) => {
      const check = verifyWebhookSignature(...args);
      assert.equal(check.valid, false);
      return check.valid ? '' : check.reason;
    };
    assert.match(reason('another-secret-0123456789', header, body, 300, now), /signature does not match the body/);
    assert.match(reason(SECRET, header, body.replace('v1', 'v3'), 300, now), /signature does not match the body/);
    assert.match(reason(SECRET, header, body, 300, new Date(now.getTime() + 301_000)), /timestamp is 301 s old, outside the 300 s window: a replayed request/);
    assert.match(reason(SECRET, header, body, 300, new Date(now.getTime() - 600_000)), /600 s in the future/);
    assert.match(reason(SECRET, undefined, body, 300, now), /missing x-slipway-signature header/);
    assert.match(reason(SECRET, header.replace(/t=\d+,/, ''), body, 300, now), /no t=/);
    assert.match(reason(SECRET, 't=1767225600,v1=abc', body, 300, now), /no v1=/);
    // Re-timestamping a captured signature does not help: t is inside the MAC.
    assert.match(reason(SECRET, header.replace('t=1767225600', 't=1767225900'), body, 300, new Date(now.getTime() + 300_000)), /does not match/);
  });
});

describe('webhook deploy target against a signing receiver on 127.0.0.1', () => {
  let t: TestDb;
  let registry: Registry;
  let platform: FakePlatform;
  let model: string;
  const sha = 'ab'.repeat(32);
  const target = (overrides: Partial<Parameters<typeof webhookTarget>[0]> = {}) =>
    webhookTarget({ name: 'platform', url: `${platform.url}/deploy`, secret: SECRET, timeoutMs: 1_000, pollIntervalMs: 20, maxPollMs: 2_000, registry, ...overrides });
  const deployReq = (version: string, opKey: string, weight?: number) => ({ opKey, releaseId: 'rel-1', model, env: 'prod', version, by: 'alice', ...(weight === undefined ? {} : { weight }) });

  before(async () => {
    t = await openTestDb();
    registry = new Registry(t.db);
    await registry.ensureIndexes();
    model = uniqueName('hook').replace(/_/g, '-');
    for (const v of ['v1', 'v2', 'sync', 'fail', 'hang', 'slow-post', 'flaky', 'elsewhere', 'redirect']) {
      await registry.registerVersion({ model, version: v, artifact: { uri: `s3://models/${model}/${v}.onnx`, sha256: sha } }, 'ci');
    }
    platform = new FakePlatform();
    await platform.start();
  });
  after(async () => {
    await platform?.close();
    await t?.close();
  });

  it('deploys through 202 and status polling until succeeded, sending weight, artifact and a verified signature', async () => {
    const deployed = await target().deploy(deployReq('v1', 'rel-1:prod:deploy'));
    assert.deepEqual(deployed, { previousVersion: null });
    const sent = platform.bodies.at(-1) as WebhookDeployBody;
    assert.deepEqual(sent, {
      action: 'deploy',
      opKey: 'rel-1:prod:deploy:100',
      deployKey: 'rel-1:prod:deploy',
      releaseId: 'rel-1',
      model,
      env: 'prod',
      version: 'v1',
      weight: 100,
      by: 'alice',
      artifact: { uri: `s3://models/${model}/v1.onnx`, sha256: sha },
    });
    assert.equal(platform.ops.get('rel-1:prod:deploy:100')?.polls, 2, 'polled until the platform said succeeded');
    assert.equal(platform.live.get(`${model}/prod`), 'v1');
    assert.deepEqual(platform.refused, []);
  });

  it('runs canary steps as separate operations of one deploy, each forwarding its weight', async () => {
    const webhook = target();
    assert.equal(webhook.supportsWeights, true);
    for (const weight of [10, 50]) {
      assert.deepEqual(await webhook.deploy(deployReq('v2', 'rel-2:prod:deploy', weight)), { previousVersion: 'v1' });
      assert.equal(platform.live.get(`${model}/prod`), 'v1', `v1 stays stable at ${weight}%`);
      assert.equal((await registry.getLive(model, 'prod'))?.version, 'v1', `the live pointer stays on v1 at ${weight}%`);
    }
    assert.deepEqual(await webhook.deploy(deployReq('v2', 'rel-2:prod:deploy', 100)), { previousVersion: 'v1' });
    assert.equal(platform.live.get(`${model}/prod`), 'v2');
    const live = await registry.getLive(model, 'prod');
    assert.deepEqual([live?.version, live?.opKey, live?.target], ['v2', 'rel-2:prod:deploy', 'platform'], 'the live pointer follows once the platform confirms 100%');
    assert.deepEqual(platform.bodies.slice(-3).map((b) => [(b as WebhookDeployBody).opKey, (b as WebhookDeployBody).weight]), [
      ['rel-2:prod:deploy:10', 10],
      ['rel-2:prod:deploy:50', 50],
      ['rel-2:prod:deploy:100', 100],
    ]);
  });

  it('repeats a deploy with the same opKey without deploying twice', async () => {
    const before = platform.ops.size;
    const moves = await registry.deployments.countDocuments({ model });
    const again = await target().deploy(deployReq('v2', 'rel-2:prod:deploy', 100));
    assert.deepEqual(again, { previousVersion: 'v1' });
    assert.equal(platform.ops.size, before, 'no new operation on the platform');
    assert.equal(await registry.deployments.countDocuments({ model }), moves, 'no second move of the live pointer');
    assert.equal(platform.bodies.at(-1)?.opKey, 'rel-2:prod:deploy:100');
    assert.equal(platform.ops.get('rel-2:prod:deploy:100')?.polls, 2, 'the repeat got the finished answer at once, without polling');
  });

  it('undoes a deploy at <url>/undo, found through a Location header, once however often it is asked', async () => {
    const undo = { opKey: 'rel-2:prod:deploy', releaseId: 'rel-2', model, env: 'prod', failedVersion: 'v2', by: 'slipway', reason: 'canary analysis failed' };
    assert.deepEqual(await target().undo(undo), { restoredTo: 'v1' });
    assert.equal(platform.live.get(`${model}/prod`), 'v1');
    assert.equal((await registry.getLive(model, 'prod'))?.version, 'v1', 'the live pointer is put back too');
    assert.equal((await registry.lastDeploymentOf(model, 'prod', 'v2'))?.health, 'failed');
    const sent = platform.bodies.at(-1) as WebhookUndoBody;
    assert.deepEqual([sent.action, sent.opKey, sent.deployKey, sent.reason], ['undo', 'rel-2:prod:deploy:undo', 'rel-2:prod:deploy', 'canary analysis failed']);
    const ops = platform.ops.size;
    assert.deepEqual(await target().undo(undo), { restoredTo: 'v1' });
    assert.equal(platform.ops.size, ops);
    // An undo for a deploy the platform never saw is skipped, with its reason.
    assert.deepEqual(await target().undo({ ...undo, opKey: 'rel-9:prod:deploy' }), { restoredTo: null, skipped: 'never saw deploy rel-9:prod:deploy' });
  });

  it('takes a 200 answer as done, without polling', async () => {
    assert.deepEqual(await target().deploy(deployReq('sync', 'rel-3:prod:deploy')), { previousVersion: 'v1' });
    assert.equal(platform.ops.get('rel-3:prod:deploy:100')?.polls, 0);
  });

  it('polls a status URL only on the deploy endpoint\'s origin, and never follows a redirect', async () => {
    const polls = [...platform.ops.values()].reduce((n, op) => n + op.polls, 0);
    // localhost is the same machine, but another origin than 127.0.0.1: signed polls go nowhere the worker was not configured for.
    await assert.rejects(target().deploy(deployReq('elsewhere', 'rel-11:prod:deploy')), failure('WebhookProtocolError', false, /gave a statusUrl on another origin .*must be on http:\/\/127\.0\.0\.1:\d+/));
    await assert.rejects(target().deploy(deployReq('redirect', 'rel-12:prod:deploy')), failure('WebhookRejected', false, /answered HTTP 307/));
    assert.equal([...platform.ops.values()].reduce((n, op) => n + op.polls, 0), polls, 'nothing was polled');
  });

  it('refuses at construction an endpoint the worker may not call, naming the setting', () => {
    assert.throws(() => target({ url: 'http://deploy.example.com/hook' }), /SLIPWAY_WEBHOOK_URL: http:\/\/deploy\.example\.com is plain http .*SLIPWAY_OUTBOUND_ALLOW_HTTP=true/);
    assert.throws(() => target({ url: 'https://169.254.169.254/latest' }), /link-local or cloud metadata address.*SLIPWAY_OUTBOUND_ALLOW_LINK_LOCAL/);
    assert.throws(() => target({ url: 'https://deploy.example.com/hook', undoUrl: 'https://metadata.google.internal/undo' }), /undoUrl: metadata\.google\.internal is a link-local or cloud metadata address/);
    assert.equal(target({ url: 'http://deploy.example.com/hook', outbound: { allowHttp: true, allowLinkLocal: false } }).name, 'platform', 'allowed when the setting says so');
  });

  it('is refused by the receiver when it signs with the wrong secret, and does not retry', async () => {
    const refused = platform.refused.length;
    await assert.rejects(target({ secret: 'not-the-platform-secret-000' }).deploy(deployReq('v1', 'rel-4:prod:deploy')), failure('WebhookRejected', false, /refused: .* answered HTTP 401: .*signature does not match.*is the secret/));
    assert.deepEqual(platform.refused.slice(refused), ['v2 signature does not match: wrong secret, or the method, URL or body differ from what was signed (is the URL the one the sender used?)']);
    assert.equal(platform.ops.has('rel-4:prod:deploy:100'), false);
  });

  it('is refused when an old request is replayed, or its body is swapped under a valid signature', async () => {
    const body = JSON.stringify({ action: 'deploy', opKey: 'rel-5:prod:deploy:100', deployKey: 'rel-5:prod:deploy', releaseId: 'rel-5', model, env: 'prod', version: 'v2', weight: 100, by: 'mallory' });
    const post = (header: string, payload: string) => fetch(`${platform.url}/deploy`, { method: 'POST', headers: { [WEBHOOK_SIGNATURE_HEADER]: header, 'content-type': 'application/json' }, body: payload });
    const signed = (at?: Date) => signWebhookRequest(SECRET, { method: 'POST', url: `${platform.url}/deploy`, body }, at);
    const replayed = await post(signed(new Date(Date.now() - 10 * 60_000)), body);
    assert.equal(replayed.status, 401);
    assert.match(((await replayed.json()) as { error: string }).error, /outside the 300 s window/);
    const swapped = await post(signed(), body.replace('"v2"', '"v1"'));
    assert.equal(swapped.status, 401);
    // The same signed body sent to the undo route: v2 covers the URL.
    const moved = await fetch(`${platform.url}/deploy/undo`, { method: 'POST', headers: { [WEBHOOK_SIGNATURE_HEADER]: signed(), 'content-type': 'application/json' }, body });
    assert.equal(moved.status, 401);
    // A v1-only header is a downgrade the receiver does not accept.
    const downgraded = await post(signWebhookBody(SECRET, body), body);
    assert.equal(downgraded.status, 401);
    assert.match(((await downgraded.json()) as { error: string }).error, /no v2=/);
    assert.equal(platform.ops.has('rel-5:prod:deploy:100'), false, 'nothing was deployed');
  });

  it('fails without retrying when the platform reports failed, with its message', async () => {
    await assert.rejects(target().deploy(deployReq('fail', 'rel-6:prod:deploy')), failure('DeployFailed', false, /deploy of .*@fail to prod \(100%\) failed on the platform .*image pull failed: manifest unknown/));
  });

  it('times out polling an operation that never finishes, as a retryable failure naming the opKey to dedupe', async () => {
    const started = Date.now();
    await assert.rejects(target({ maxPollMs: 300 }).deploy(deployReq('hang', 'rel-7:prod:deploy')), failure('WebhookTimeout', true, /not finished after polling .*\/status\/rel-7%3Aprod%3Adeploy%3A100 for 300 ms \(last: running\); the next attempt re-sends opKey rel-7:prod:deploy:100/));
    assert.ok(Date.now() - started < 1_500, 'gave up at the polling budget');
  });

  it('times out a POST nobody answers, and retries a 503, both as retryable', async () => {
    await assert.rejects(target({ timeoutMs: 300 }).deploy(deployReq('slow-post', 'rel-8:prod:deploy')), failure('WebhookUnavailable', true, /gave no answer within 300 ms/));
    await assert.rejects(target().deploy(deployReq('flaky', 'rel-11:prod:deploy')), failure('WebhookUnavailable', true, /answered HTTP 503: .*deployer restarting/));
    await assert.rejects(target({ url: 'http://127.0.0.1:9/deploy' }).deploy(deployReq('v1', 'rel-10:prod:deploy')), failure('WebhookUnavailable', true, /is unreachable/));
  });

  it('heartbeats while it waits inside an activity, and stops polling when the activity is cancelled', async () => {
    const env = new MockActivityEnvironment();
    let beats = 0;
    env.on('heartbeat', () => beats++);
    const started = Date.now();
    const running = env.run(() => target({ maxPollMs: 20_000, pollIntervalMs: 100 }).deploy(deployReq('hang', 'rel-12:prod:deploy')));
    await sleep(1_500);
    env.cancel();
    // The worker reports an AbortError after cancellation as a cancelled activity.
    await assert.rejects(running, (err: unknown) => err instanceof CancelledFailure || (err instanceof Error && err.name === 'AbortError'));
    assert.ok(Date.now() - started < 3_000, 'stopped at the cancellation, not at the polling budget');
    assert.ok(beats >= 2, `heartbeats while waiting: ${beats}`);
  });

  it('refuses bad settings when the worker builds it', () => {
    assert.throws(() => webhookTarget({ url: 'ftp://x', secret: 'short' }), /webhook target: url: must be an http\(s\) URL; secret: must be at least 16 characters/);
  });
});

describe('the receiver in docs/webhook-protocol.md', () => {
  let child: ChildProcess;
  let url: string;
  let dir: string;

  before(async () => {
    const doc = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'webhook-protocol.md'), 'utf8');
    const code = /```js\n([\s\S]*?)```/.exec(doc)?.[1];
    assert.ok(code, 'the doc has a js receiver');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-receiver-'));
    const file = path.join(dir, 'receiver.js');
    fs.writeFileSync(file, code);
    child = spawn(process.execPath, [file], { env: { ...process.env, SLIPWAY_WEBHOOK_SECRET: SECRET, PORT: '0' }, stdio: ['ignore', 'pipe', 'inherit'] });
    url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m) resolve(m[1] as string);
      });
      child.on('exit', (code) => reject(new Error(`receiver exited with ${code}`)));
    });
  });
  after(() => {
    child?.kill('SIGTERM');
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('deploys, dedupes, undoes and refuses a bad signature, speaking the same protocol as the target', async () => {
    const target = webhookTarget({ url: `${url}/deploy`, secret: SECRET, pollIntervalMs: 200, maxPollMs: 5_000 });
    const req = { releaseId: 'r', model: 'fraud', env: 'dev', by: 'alice' };
    assert.deepEqual(await target.deploy({ ...req, opKey: 'r1:dev:deploy', version: 'v1' }), { previousVersion: null });
    assert.deepEqual(await target.deploy({ ...req, opKey: 'r2:dev:deploy', version: 'v2' }), { previousVersion: 'v1' });
    assert.deepEqual(await target.deploy({ ...req, opKey: 'r2:dev:deploy', version: 'v2' }), { previousVersion: 'v1' }, 'a repeat is answered from the table');
    assert.deepEqual(await target.undo({ ...req, opKey: 'r2:dev:deploy', failedVersion: 'v2', reason: 'bake failed' }), { restoredTo: 'v1' });
    await assert.rejects(webhookTarget({ url: `${url}/deploy`, secret: 'wrong-secret-0123456789' }).deploy({ ...req, opKey: 'r3:dev:deploy', version: 'v3' }), failure('WebhookRejected', false, /HTTP 401/));
  });
});

/** unavailable matches the retryable failure a gate throws when it could not ask. */
function unavailable(message: string | RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.deepEqual([err.type, err.nonRetryable], ['GateUnavailable', false]);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  };
}

describe('webhook gate against a signing verdict service on 127.0.0.1', () => {
  let server: http.Server;
  let url: string;
  const received: { body: Record<string, unknown>; verified: boolean }[] = [];
  const gate = createWebhookGate();
  const candidate = (version: string): VersionDoc =>
    ({ _id: `m:${version}`, model: 'fraud', version, artifact: { uri: 'models/fraud/v1/model.onnx', sha256: 'cd'.repeat(32) }, metrics: { auc: 0.91 }, tags: {}, codeCommit: 'abc123', registeredBy: 'ci', registeredAt: new Date(), contentHash: 'x' }) as VersionDoc;
  const ctx = (version: string, secrets: Record<string, string> = { GATE_SECRET: SECRET }): GateContext => ({
    releaseId: 'rel-g',
    env: 'staging',
    candidate: candidate(version),
    live: candidate('v0'),
    registry: {} as Registry,
    sandbox: testSandbox({ SLIPWAY_SECRET_ENV_ALLOW: 'GATE_SECRET' }, secrets),
  });
  const config = (extra: Record<string, unknown> = {}) => webhookGateSchema.parse({ type: 'webhook', name: 'red-team', url, secretEnv: 'GATE_SECRET', timeout: '500ms', ...extra });

  before(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        const check = verifyWebhookRequest(SECRET, req.headers[WEBHOOK_SIGNATURE_HEADER], { method: req.method ?? '', url: `${url.replace(/\/gate$/, '')}${req.url ?? ''}`, body: raw });
        const body = JSON.parse(raw.toString('utf8')) as { version: string };
        received.push({ body, verified: check.valid });
        const send = (code: number, answer: string) => res.writeHead(code, { 'content-type': 'application/json' }).end(answer);
        if (!check.valid) return send(401, JSON.stringify({ error: check.reason }));
        if (body.version === 'good') return send(200, JSON.stringify({ passed: true, checks: [{ metric: 'jailbreak_rate', value: 0.01, threshold: '<= 0.02', passed: true, reason: '2 of 200 prompts' }] }));
        if (body.version === 'bad') return send(200, JSON.stringify({ passed: false, reason: 'jailbreak success rate 7% > 2%' }));
        if (body.version === 'broken') return send(500, 'internal error: red-team cluster down');
        if (body.version === 'garbled') return send(200, JSON.stringify({ verdict: 'yes' }));
        if (body.version === 'slow') return void setTimeout(() => send(200, JSON.stringify({ passed: true })), 2_000);
        return send(404, '{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/gate`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('passes on the service\'s verdict, sending the candidate, its metrics and the live version, signed', async () => {
    const result = await gate.run(ctx('good'), config());
    assert.equal(result.passed, true, JSON.stringify(result));
    assert.deepEqual(result.checks.map((c) => [c.metric, c.value, c.passed]), [
      ['verdict', 1, true],
      ['jailbreak_rate', 0.01, true],
    ]);
    const sent = received.at(-1);
    assert.equal(sent?.verified, true);
    assert.deepEqual(sent?.body, {
      action: 'gate',
      releaseId: 'rel-g',
      gate: 'red-team',
      env: 'staging',
      model: 'fraud',
      version: 'good',
      artifact: { uri: 'models/fraud/v1/model.onnx', sha256: 'cd'.repeat(32) },
      metrics: { auc: 0.91 },
      codeCommit: 'abc123',
      live: { version: 'v0', metrics: { auc: 0.91 } },
    });
  });

  it('fails with the service\'s reason', async () => {
    const result = await gate.run(ctx('bad'), config());
    assert.equal(result.passed, false);
    assert.equal(result.error, undefined);
    assert.deepEqual(result.checks, [{ metric: 'verdict', value: 0, threshold: '== 1', passed: false, reason: 'jailbreak success rate 7% > 2%' }]);
  });

  it('throws a retryable GateUnavailable when it could not ask: no verdict in time, HTTP 5xx, connection refused', async () => {
    const started = Date.now();
    await assert.rejects(gate.run(ctx('slow'), config()), unavailable(`${url} gave no verdict within 500ms`));
    assert.ok(Date.now() - started < 1_500, 'did not wait for the slow answer');
    await assert.rejects(gate.run(ctx('broken'), config()), unavailable(`${url} answered HTTP 500: internal error: red-team cluster down`));
    await assert.rejects(gate.run(ctx('good'), config({ url: 'http://127.0.0.1:9/gate' })), unavailable(/^http:\/\/127\.0\.0\.1:9\/gate is unreachable \(fetch failed/));
  });

  it('turns a wrong-shaped answer and a refused signature (4xx) into failed verdicts that say why', async () => {
    const garbled = await gate.run(ctx('garbled'), config());
    assert.equal(garbled.passed, false);
    assert.match(garbled.error ?? '', /answered with something other than \{passed, checks\?, reason\?\} \(passed: must be true or false\)/);
    const forged = await gate.run(ctx('good', { GATE_SECRET: 'wrong-secret-0123456789' }), config());
    assert.equal(forged.passed, false);
    assert.match(forged.error ?? '', /answered HTTP 401: .*signature does not match/);
    assert.equal(received.at(-1)?.verified, false);
  });

  it('refuses a secret variable the worker does not allow, sending nothing', async () => {
    const count = received.length;
    const denied = gate.run({ ...ctx('good'), sandbox: testSandbox({}, { GATE_SECRET: SECRET }) }, config());
    await assert.rejects(denied, /secretEnv: GATE_SECRET is not in SLIPWAY_SECRET_ENV_ALLOW; add it .* to SLIPWAY_SECRET_ENV_ALLOW/);
    const reserved = gate.run(ctx('good'), config({ secretEnv: 'SLIPWAY_CODEC_KEYS' }));
    await assert.rejects(reserved, (err: unknown) => {
      assert.match(String(err), /SLIPWAY_CODEC_KEYS is one of Slipway's or Temporal's own variables/);
      assert.ok(!String(err).includes(SECRET));
      return true;
    });
    assert.equal(received.length, count, 'nothing was sent');
  });

  it('names the missing secret variable instead of sending unsigned requests', async () => {
    const count = received.length;
    const result = await gate.run(ctx('good', {}), config());
    assert.equal(result.passed, false);
    assert.match(result.error ?? '', /^environment variable GATE_SECRET is not set on the worker/);
    assert.equal(received.length, count, 'nothing was sent');
  });
});

/**
 * Release events end to end on the real Temporal dev server and registry: a
 * subscription added through the API, a real release, a receiver on
 * 127.0.0.1 that checks every signature and answers 500 twice per event
 * before accepting, and what `slipway subscription deliveries` shows after.
 * Then hostile input to every new verb and route: a clear refusal, nothing written.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { Authenticator } from '../../api/auth';
import { buildApi } from '../../api/server';
import { ReleaseService } from '../../client/releases';
import { REPO_ROOT } from '../../devstack/stack';
import type { CloudEvent } from '../../domain/events';
import { verifyWebhookRequest } from '../../lib/request-signing';
import { SubscriptionStore } from '../../registry/subscriptions';
import { approveSignal, type ReleaseState } from '../../workflows/release/api';
import { reminderWorkflowId, type ReminderResult } from '../../workflows/events/api';
import { startLocalServer, type LocalServer } from '../support/local-http';
import { registerModel, waitFor, waitForState, writePipelines } from '../support/releases';
import { openTestDb, startTestWorker, uniqueName, type TestDb, type TestTemporal } from '../support/stack';
import { listenOnLoopback } from '../support/api';

const BIN = path.join(REPO_ROOT, 'bin', 'slipway.js');
const SECRET = 'events-test-secret-0123456789abcdef';
const PUBLIC_URL = 'https://board.example.com';
const TOKENS = { ada: 'ada-admin-token-0123456789abc', vic: 'vic-viewer-token-0123456789' };

const PIPELINES = {
  // The reminder is due 2 s after the request (58 s before a 60 s deadline): it arrives long before anyone approves.
  notified: `
name: notified
stages:
  - env: dev
    gates:
      - type: metrics
        require: { accuracy: ">= 0.90" }
  - env: prod
    approval: { required: 1, approvers: [alice, bob], timeout: 60s, remindBefore: 58s }
`,
  direct: `
name: direct
stages:
  - env: dev
`,
  // The reminder is due 6 s after the request: the approval comes first, so no reminder goes out.
  early: `
name: early
stages:
  - env: prod
    approval: { required: 1, approvers: [alice], timeout: 20s, remindBefore: 14s }
`,
};

/* eslint-disable @typescript-eslint/no-explicit-any -- JSON read back from the CLI is checked field by field */
type Json = any;

describe('signed release events delivered through Temporal to subscriptions kept on the server', () => {
  let t: TestDb;
  let temporal: TestTemporal;
  let service: ReleaseService;
  let app: FastifyInstance;
  let apiUrl: string;
  let receiver: LocalServer;
  let slack: LocalServer;
  let store: SubscriptionStore;
  const accepted: CloudEvent[] = [];
  const badSignatures: string[] = [];
  const triesById = new Map<string, number>();

  before(async () => {
    t = await openTestDb();
    temporal = await startTestWorker(t.db, { pluginSettings: { SLIPWAY_EVENT_SECRET_TEST: SECRET }, publicUrl: PUBLIC_URL });
    service = new ReleaseService({ temporal: temporal.client, db: t.db, taskQueue: temporal.taskQueue, pipelinesDir: await writePipelines(PIPELINES), bootstrapFromFolder: true });
    store = new SubscriptionStore(t.db);
    receiver = await startLocalServer((req) => {
      // v2 binds the method and the URL too; v1 alone is not accepted here.
      const check = verifyWebhookRequest(SECRET, req.headers['x-slipway-signature'], { method: 'POST', url: `${receiver.url}${req.path}`, body: req.body });
      if (!check.valid) {
        badSignatures.push(check.reason);
        return { status: 401, body: { error: check.reason } };
      }
      const event = JSON.parse(req.body.toString('utf8')) as CloudEvent;
      const tries = (triesById.get(event.id) ?? 0) + 1;
      triesById.set(event.id, tries);
      if (tries <= 2) return { status: 500, body: { error: 'not yet' } };
      accepted.push(event);
      return { status: 200, body: { ok: true } };
    });
    slack = await startLocalServer(() => ({ status: 200, body: 'ok' }));
    const auth = new Authenticator({
      tokens: [
        { user: 'ada', token: TOKENS.ada, roles: ['admin'], approves: [] },
        { user: 'vic', token: TOKENS.vic, roles: ['viewer'], approves: [] },
      ],
    });
    app = await buildApi({ db: t.db, auth, mutationsPerMinute: 1000 });
    apiUrl = await listenOnLoopback(app);
  });
  after(async () => {
    await app?.close();
    await temporal?.close();
    await receiver?.close();
    await slack?.close();
    await t?.close();
  });

  function slipway(args: string[], token: string): Promise<{ code: number | null; out: Json; stderr: string }> {
    const { NODE_TEST_CONTEXT: _runnerOnly, SLIPWAY_TOKEN: _notOurs, ...inherited } = process.env;
    // Nothing listens at these: every verb here can only have gone through the API.
    const env = { ...inherited, TEMPORAL_ADDRESS: '127.0.0.1:1', SLIPWAY_MONGODB_URI: 'mongodb://127.0.0.1:1/none?serverSelectionTimeoutMS=500', SLIPWAY_API_URL: apiUrl, SLIPWAY_TOKEN: token };
    return new Promise((resolve) => {
      execFile(process.execPath, [BIN, ...args, '--json'], { cwd: REPO_ROOT, env, timeout: 90_000 }, (err, stdout, stderr) => {
        let out: Json;
        try {
          out = JSON.parse(stdout);
        } catch {
          out = { unparsed: stdout };
        }
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, out, stderr });
      });
    });
  }

  // What a refusal must leave behind: no subscription and no audit event about subscriptions beyond what was there.
  const written = async () => ({
    subscriptions: await store.subscriptions.countDocuments({}),
    audit: await store.audit.events.countDocuments({ action: { $in: ['subscription.added', 'subscription.removed'] } }),
  });

  it('delivers every event of a real release once after de-duplicating by id, signed, though the receiver answers 500 twice per event', async () => {
    const added = await slipway(['subscription', 'add', '--url', `${receiver.url}/hook`, '--events', '*', '--secret-env', 'SLIPWAY_EVENT_SECRET_TEST'], TOKENS.ada);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.out.id, /^sub-[0-9a-f]{16}$/);
    const slackAdded = await slipway(['subscription', 'add', '--url', `${slack.url}/services/T0/B0/X`, '--events', 'release.approval.*', '--format', 'slack'], TOKENS.ada);
    assert.equal(slackAdded.code, 0, slackAdded.stderr);
    const auditAdd = await store.audit.events.findOne({ action: 'subscription.added' });
    assert.equal(auditAdd?.actor, 'ada', 'the add is audited as the token user');

    const model = await registerModel(service.registry, { '1.0.0': { accuracy: 0.95 } });
    const started = await service.start({ model, version: '1.0.0', pipeline: 'notified', requestedBy: 'dave' });
    await waitForState(service, started.releaseId, (s) => s.status === 'awaiting_approval');
    // The reminder is a durable timer: it goes out while the stage still waits, with the approvers and the links.
    const reminder = await waitFor(async () => accepted.find((e) => e.type === 'dev.slipway.release.approval.expiring'), 60_000);
    assert.deepEqual(reminder.data.approvers, ['alice', 'bob']);
    assert.equal((reminder.data.links as { approve: string }).approve, `${PUBLIC_URL}/#/releases/${started.releaseId}?approve=prod`);
    await temporal.client.workflow.getHandle(started.workflowId).signal(approveSignal, { stage: 'prod', approver: 'alice' });
    const final = (await temporal.client.workflow.getHandle(started.workflowId).result()) as ReleaseState;
    assert.equal(final.status, 'succeeded');

    const expected = [
      'release.started',
      'release.stage.started', // dev
      'release.gate.passed',
      'release.deployed', // dev
      'release.stage.started', // prod
      'release.approval.requested',
      'release.approval.expiring',
      'release.approved',
      'release.deployed', // prod
      'release.ended',
    ].map((t) => `dev.slipway.${t}`).sort();
    const mine = () => accepted.filter((e) => e.subject === started.releaseId);
    await waitFor(async () => (new Set(mine().map((e) => e.id)).size >= expected.length ? true : undefined), 90_000);
    const unique = new Map(mine().map((e) => [e.id, e]));
    assert.deepEqual([...unique.values()].map((e) => e.type).sort(), expected, 'each happening once, none missing, none extra');
    assert.deepEqual(badSignatures, [], 'every request carried a valid signature');
    for (const e of unique.values()) {
      assert.equal(e.specversion, '1.0');
      assert.equal(e.source, `/slipway/models/${model}`);
      assert.equal(e.datacontenttype, 'application/json');
      assert.equal(triesById.get(e.id), 3, `${e.type} was accepted on its third attempt`);
    }
    const requested = [...unique.values()].find((e) => e.type === 'dev.slipway.release.approval.requested')!;
    assert.deepEqual(requested.data.approvers, ['alice', 'bob']);
    assert.equal((requested.data.gates as unknown[]).length, 0, 'prod has no gates of its own');
    assert.equal(requested.data.stage, 'prod');

    // The Slack subscription got the approval request and the reminder as incoming-webhook messages with buttons.
    const messages = await waitFor(async () => (slack.requests.length >= 2 ? slack.requests.map((r) => JSON.parse(r.body.toString('utf8')) as Json) : undefined), 30_000);
    assert.deepEqual(messages.map((m) => /^Reminder/.test(m.text)).sort(), [false, true]);
    for (const m of messages) {
      const buttons = m.blocks.find((b: Json) => b.type === 'actions').elements.map((b: Json) => b.url);
      assert.deepEqual(buttons, [`${PUBLIC_URL}/#/releases/${started.releaseId}`, `${PUBLIC_URL}/#/releases/${started.releaseId}?approve=prod`]);
      assert.match(m.text, /alice, bob/);
    }

    // `deliveries` shows each attempt: two 500s, then the 200.
    const shown = await waitFor(async () => {
      const listed = await slipway(['subscription', 'deliveries', '--limit', '100'], TOKENS.vic);
      const ours = (listed.out.deliveries as Json[]).filter((d) => d.eventId.startsWith(started.releaseId) && d.subscriptionId === added.out.id);
      return ours.length === expected.length && ours.every((d) => d.status === 'delivered') ? ours : undefined;
    }, 30_000);
    for (const d of shown) {
      assert.equal(d.attempts, 3);
      assert.deepEqual(d.recentAttempts.map((a: Json) => a.httpStatus), [500, 500, 200]);
      assert.equal(d.nextRetryAt, null);
    }
  });

  it('sends no reminder when the approval came before it was due', async () => {
    const model = await registerModel(service.registry, { '1.0.0': { accuracy: 0.95 } });
    const started = await service.start({ model, version: '1.0.0', pipeline: 'early', requestedBy: 'dave' });
    const waiting = await waitForState(service, started.releaseId, (s) => s.status === 'awaiting_approval');
    await temporal.client.workflow.getHandle(started.workflowId).signal(approveSignal, { stage: 'prod', approver: 'alice' });
    await temporal.client.workflow.getHandle(started.workflowId).result();
    const reminderId = reminderWorkflowId({ releaseId: started.releaseId, runStartedAt: waiting.startedAt, env: 'prod' });
    const result = (await temporal.client.workflow.getHandle(reminderId).result()) as ReminderResult;
    assert.equal(result.published, false);
    assert.match(result.reason, /no longer awaits approval/);
    assert.equal(await store.events.countDocuments({ type: 'dev.slipway.release.approval.expiring', subject: started.releaseId }), 0);
  });

  it('publishes a manual rollback once it has restored the version', async () => {
    const model = await registerModel(service.registry, { '1.0.0': { accuracy: 0.95 }, '2.0.0': { accuracy: 0.95 } });
    for (const version of ['1.0.0', '2.0.0']) {
      const { workflowId } = await service.start({ model, version, pipeline: 'direct', requestedBy: 'dave' });
      assert.equal(((await temporal.client.workflow.getHandle(workflowId).result()) as ReleaseState).status, 'succeeded');
    }
    const rollback = await service.rollback({ model, env: 'dev', toVersion: '1.0.0', requestedBy: 'oncall', reason: '2.0.0 hurts conversion' });
    await temporal.client.workflow.getHandle(rollback.workflowId).result();
    const event = await waitFor(async () => accepted.find((e) => e.type === 'dev.slipway.environment.rolled_back' && e.data.model === model), 60_000);
    assert.deepEqual(event.data, { rollbackId: rollback.workflowId, model, env: 'dev', restoredTo: '1.0.0', replaced: '2.0.0', requestedBy: 'oncall' });
  });

  it('publishes stop on, stop off and a quarantine made through the line service, each once', async () => {
    const lines = new ReleaseService({ temporal: temporal.client, db: t.db, taskQueue: temporal.taskQueue, bootstrapFromFolder: true, publicUrl: PUBLIC_URL }).lineControls();
    const env = uniqueName('qa');
    await lines.stop({ scope: env, reason: 'incident 42: bad canary data', by: 'ada' });
    await lines.resume({ scope: env, reason: 'fixed', by: 'ada' });
    const model = await registerModel(service.registry, { '1.0.0': { accuracy: 0.95 } });
    await lines.quarantine({ model, version: '1.0.0', reason: 'leaks training data', by: 'ada' });
    const stopped = await waitFor(async () => accepted.find((e) => e.type === 'dev.slipway.environment.stopped' && e.subject === env), 60_000);
    assert.deepEqual(stopped.data, { env, reason: 'incident 42: bad canary data', by: 'ada' });
    const resumed = await waitFor(async () => accepted.find((e) => e.type === 'dev.slipway.environment.resumed' && e.subject === env), 60_000);
    assert.equal(resumed.data.reason, 'fixed');
    const quarantined = await waitFor(async () => accepted.find((e) => e.type === 'dev.slipway.model.version.quarantined' && e.data.model === model), 60_000);
    assert.deepEqual(quarantined.data, { model, version: '1.0.0', reason: 'leaks training data', by: 'ada' });
    assert.equal(accepted.filter((e) => e.subject === env).length, 2, 'one stop and one resume event, after de-duplicating by id');
  });

  it('refuses a delivery started from outside for an event its subscription did not ask for, and audits it', async () => {
    const slackSub = (await store.list()).find((s) => s.format === 'slack')!;
    const ended = await store.events.findOne({ type: 'dev.slipway.release.ended' });
    assert.ok(ended, 'an ended event is in the outbox');
    const before = slack.requests.length;
    // What anyone with Temporal access could do: start the delivery workflow by name with any ids.
    const handle = await temporal.client.workflow.start('eventDeliveryWorkflow', { workflowId: uniqueName('hostile-delivery'), taskQueue: temporal.taskQueue, args: [{ eventId: ended._id, subscriptionId: slackSub.id }] });
    const result = (await handle.result()) as { status: string; detail: string };
    assert.equal(result.status, 'skipped');
    assert.match(result.detail, /does not subscribe to dev\.slipway\.release\.ended/);
    assert.equal(slack.requests.length, before, 'nothing was sent');
    assert.equal((await store.audit.events.findOne({ action: 'event.delivery_refused' }))?.details?.eventId, ended._id);
  });

  it('refuses hostile input to every verb with a message naming the field, and writes nothing', async () => {
    const before = await written();
    const refusals: [string[], number, RegExp][] = [
      [['subscription', 'add', '--url', 'http://hooks.example.com/x', '--events', '*', '--secret-env', 'SLIPWAY_EVENT_SECRET_TEST'], 2, /url: must be https outside loopback/],
      [['subscription', 'add', '--url', 'https://hooks.example.com/x', '--events', 'release.deployd', '--secret-env', 'SLIPWAY_EVENT_SECRET_TEST'], 2, /events: "release\.deployd" matches no event type/],
      [['subscription', 'add', '--url', 'https://hooks.example.com/x', '--events', '*', '--secret-env', 'SLIPWAY_CODEC_KEYS'], 2, /secretEnv: SLIPWAY_CODEC_KEYS is not allowed/],
      [['subscription', 'add', '--url', `${receiver.url}/hook`, '--events', '*', '--secret-env', 'SLIPWAY_EVENT_SECRET_TEST'], 2, /already has subscription sub-/],
      [['subscription', 'remove', 'sub-0000000000000000'], 3, /subscription sub-0000000000000000 not found/],
      [['subscription', 'remove', '../../etc'], 2, /id: must be a subscription id/],
      [['subscription', 'deliveries', '--limit', '0'], 2, /--limit must be a whole number/],
    ];
    for (const [args, code, message] of refusals) {
      const run = await slipway(args, TOKENS.ada);
      assert.equal(run.code, code, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message, args.join(' '));
    }
    const viewer = await slipway(['subscription', 'add', '--url', 'https://hooks.example.com/y', '--events', '*', '--secret-env', 'SLIPWAY_EVENT_SECRET_TEST'], TOKENS.vic);
    assert.equal(viewer.code, 2);
    assert.match(viewer.stderr, /vic lacks the admin role/);
    assert.deepEqual(await written(), before, 'no refusal wrote a subscription or an audit event');
  });

  it('refuses hostile input to every route with the problems named, and writes nothing', async () => {
    const before = await written();
    const auth = (token: string) => ({ authorization: `Bearer ${token}` });
    const post = (payload: unknown, token = TOKENS.ada) => app.inject({ method: 'POST', url: '/subscriptions', headers: auth(token), payload: payload as Record<string, unknown> });
    const all = await post({ url: 'ftp://x', events: ['nope.*'], format: 'xml', secretEnv: 'HOME', admin: true });
    assert.equal(all.statusCode, 400);
    assert.deepEqual((all.json().error.problems as { field: string }[]).map((p) => p.field).sort(), ['admin', 'events', 'format', 'secretEnv', 'url']);
    assert.equal((await post({ url: 'https://hooks.example.com/z', events: '*' })).statusCode, 400, 'cloudevents needs a secret');
    assert.equal((await post({ url: `${receiver.url}/hook`, events: ['*'], secretEnv: 'SLIPWAY_EVENT_SECRET_TEST' })).statusCode, 409);
    assert.equal((await post({ url: 'https://hooks.example.com/z', events: ['*'], secretEnv: 'SLIPWAY_EVENT_SECRET_TEST' }, TOKENS.vic)).statusCode, 403);
    assert.equal((await app.inject({ method: 'DELETE', url: '/subscriptions/sub-0000000000000000', headers: auth(TOKENS.ada) })).statusCode, 404);
    assert.equal((await app.inject({ method: 'DELETE', url: '/subscriptions/nope', headers: auth(TOKENS.ada) })).statusCode, 400);
    assert.equal((await app.inject({ method: 'GET', url: '/subscriptions/deliveries?limit=9999', headers: auth(TOKENS.vic) })).statusCode, 400);
    assert.equal((await app.inject({ method: 'GET', url: '/subscriptions/deliveries?subscription=x', headers: auth(TOKENS.vic) })).statusCode, 400);
    assert.deepEqual(await written(), before, 'no refusal wrote a subscription or an audit event');

    // The happy path through the routes: listed redacted, removed and audited as the token user.
    const added = await post({ url: 'https://hooks.slack.com/services/T0/B0/XOXTOKEN123', events: ['release.approval.*'], format: 'slack' });
    assert.equal(added.statusCode, 201);
    const listed = await app.inject({ method: 'GET', url: '/subscriptions', headers: auth(TOKENS.vic) });
    assert.ok(!listed.body.includes('XOXTOKEN123') && listed.body.includes('https://hooks.slack.com/services/…'), 'a Slack URL is a secret: listings redact it');
    const removed = await app.inject({ method: 'DELETE', url: `/subscriptions/${added.json().id as string}`, headers: auth(TOKENS.ada) });
    assert.equal(removed.statusCode, 200);
    assert.equal((await store.audit.events.findOne({ action: 'subscription.removed' }))?.actor, 'ada');
  });
});

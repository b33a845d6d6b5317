import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { EVENT_SECRET_ENV_PREFIX, checkSubscriptionInput, redactUrl, secretEnvProblem, subscriptionUrlProblem } from '../../domain/event-subscription';
import {
  EVENT_TYPES,
  approvalExpiringEvent,
  approvalReminderAt,
  approvalReminderLeadMs,
  deriveReleaseEvents,
  environmentStopEvent,
  manualRollbackEvent,
  parseEventPatterns,
  releaseLinks,
  subscribedTo,
  toCloudEvent,
  toSlackMessage,
  versionQuarantinedEvent,
} from '../../domain/events';
import { parsePipeline, PipelineError } from '../../domain/pipeline';
import type { ReleaseState, StageState } from '../../domain/release';

const PIPELINE = parsePipeline(
  `
name: events
stages:
  - env: dev
    gates:
      - type: metrics
        require: { accuracy: ">= 0.9" }
  - env: prod
    approval: { required: 2, approvers: [alice, bob, carol], timeout: 2h, remindBefore: 30m }
    strategy: { canary: { steps: [10, 50, 100], interval: 1m } }
`,
  'events.yaml',
);

const BASE = 'https://slipway.example.com';

function stage(env: string, over: Partial<StageState> = {}): StageState {
  return {
    env,
    status: 'pending',
    gates: [],
    quorum: null,
    approvalDeadline: null,
    rejectedBy: null,
    canaryWeight: null,
    deployedVersion: null,
    previousVersion: null,
    healthChecks: [],
    startedAt: null,
    endedAt: null,
    error: null,
    ...over,
  };
}

function state(over: Partial<ReleaseState> = {}): ReleaseState {
  return {
    releaseId: 'release-fraud-1.0.0',
    model: 'fraud',
    version: '1.0.0',
    pipeline: 'events',
    pipelineHash: 'h',
    requestedBy: 'dave',
    status: 'running',
    currentStage: 'dev',
    summary: '',
    stages: [stage('dev'), stage('prod')],
    ignoredMessages: [],
    compensations: [],
    startedAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:01.000Z',
    endedAt: null,
    outcome: null,
    ...over,
  };
}

const GATE = { type: 'metrics', name: 'metrics', passed: true, checks: [{ metric: 'accuracy', value: 0.95, threshold: '>= 0.9', passed: true, reason: 'ok' }] };

// A release that went through every step: gates, approval by two, canary to 100%, then a failed bake rolled back.
function fullRun(): ReleaseState {
  return state({
    status: 'rolled_back',
    stages: [
      stage('dev', { status: 'succeeded', startedAt: '2026-01-01T00:00:01.000Z', endedAt: '2026-01-01T00:00:02.000Z', gates: [GATE], deployedVersion: '1.0.0' }),
      stage('prod', {
        status: 'rolled_back',
        startedAt: '2026-01-01T00:00:03.000Z',
        endedAt: '2026-01-01T00:10:00.000Z',
        awaitingApprovalSince: '2026-01-01T00:00:04.000Z',
        approvalDeadline: '2026-01-01T02:00:04.000Z',
        quorum: {
          required: 2,
          approvedBy: ['alice', 'bob'],
          approvals: [
            { approver: 'alice', channel: 'api', verified: true, at: '2026-01-01T00:01:00.000Z' },
            { approver: 'bob', channel: 'api', verified: true, at: '2026-01-01T00:02:00.000Z', comment: 'lgtm' },
          ],
          refused: [],
          met: true,
        },
        canaryWeight: 100,
        deployedVersion: '1.0.0',
        previousVersion: '0.9.0',
        error: 'bake health check failed in prod: error rate 0.3',
      }),
    ],
    compensations: [{ env: 'prod', kind: 'restore_live', deployOpKey: 'op-prod', version: '1.0.0', status: 'done', attempts: 1, restoredTo: '0.9.0', error: null }],
    endedAt: '2026-01-01T00:10:01.000Z',
    outcome: { status: 'rolled_back', reason: 'bake health check failed in prod' },
  });
}

describe('release events derived from a snapshot', () => {
  it('lists each step of a full release once, in the order it happened', () => {
    const types = deriveReleaseEvents(fullRun(), PIPELINE, BASE).map((e) => `${e.type.replace('dev.slipway.release.', '')}${typeof e.data.weight === 'number' ? `:${e.data.weight}` : ''}`);
    assert.deepEqual(types, [
      'started',
      'stage.started',
      'gate.passed',
      'deployed',
      'stage.started',
      'approval.requested',
      'approved',
      'approved',
      'canary.step:10',
      'canary.step:50',
      'canary.step:100',
      'deployed',
      'bake.failed',
      'rolled_back',
      'ended',
    ]);
  });

  it('gives every event a unique id made of release, run and step, the same in every later snapshot', () => {
    const events = deriveReleaseEvents(fullRun(), PIPELINE, BASE);
    assert.equal(new Set(events.map((e) => e.id)).size, events.length);
    const early = state({ stages: [stage('dev', { startedAt: '2026-01-01T00:00:01.000Z', gates: [GATE] }), stage('prod')], updatedAt: '2026-01-01T00:00:01.500Z' });
    const earlyIds = deriveReleaseEvents(early, PIPELINE, BASE).map((e) => e.id);
    const laterIds = new Set(events.map((e) => e.id));
    for (const id of earlyIds) assert.ok(laterIds.has(id), `${id} must keep its id in later snapshots`);
    const rerun = deriveReleaseEvents({ ...fullRun(), startedAt: '2026-02-01T00:00:00.000Z' }, PIPELINE, BASE);
    assert.ok(rerun.every((e) => !laterIds.has(e.id)), 'a later run of the same release id gets new ids');
  });

  it('names the approvers, quorum, gate results, deadline and the approve link in the approval request', () => {
    const requested = deriveReleaseEvents(fullRun(), PIPELINE, BASE).find((e) => e.type === 'dev.slipway.release.approval.requested')!;
    assert.deepEqual(requested.data.approvers, ['alice', 'bob', 'carol']);
    assert.equal(requested.data.required, 2);
    assert.equal(requested.data.stage, 'prod');
    assert.equal(requested.data.deadline, '2026-01-01T02:00:04.000Z');
    assert.deepEqual(requested.data.links, { release: `${BASE}/#/releases/release-fraud-1.0.0`, approve: `${BASE}/#/releases/release-fraud-1.0.0?approve=prod` });
    const cloud = toCloudEvent(requested);
    assert.equal(cloud.specversion, '1.0');
    assert.equal(cloud.datacontenttype, 'application/json');
    assert.equal(cloud.source, '/slipway/models/fraud');
    assert.equal(cloud.subject, 'release-fraud-1.0.0');
  });

  it('publishes each of two gates that share a name', () => {
    const s = state({ stages: [stage('dev', { startedAt: '2026-01-01T00:00:01.000Z', gates: [GATE, { ...GATE, passed: false }] }), stage('prod')] });
    const gates = deriveReleaseEvents(s, PIPELINE, BASE).filter((e) => e.type.includes('.gate.'));
    assert.deepEqual(gates.map((e) => e.type), ['dev.slipway.release.gate.passed', 'dev.slipway.release.gate.failed']);
  });

  it('publishes a rolled-back deploy only when its undo really ran', () => {
    const s = fullRun();
    s.compensations[0] = { ...s.compensations[0]!, error: 'skipped: the deploy never happened' };
    assert.ok(!deriveReleaseEvents(s, PIPELINE, BASE).some((e) => e.type === 'dev.slipway.release.rolled_back'));
  });
});

describe('approval reminders', () => {
  it('reminds remindBefore ahead of the deadline, and by default an hour ahead or halfway for short timeouts', () => {
    assert.equal(approvalReminderAt('2026-01-01T02:00:00.000Z', { timeout: '2h', remindBefore: '30m' }).toISOString(), '2026-01-01T01:30:00.000Z');
    assert.equal(approvalReminderLeadMs({ timeout: '72h' }), 3_600_000);
    assert.equal(approvalReminderLeadMs({ timeout: '20m' }), 600_000);
  });

  it('builds the reminder only while the stage still awaits approval', () => {
    const waiting = state({ stages: [stage('dev'), stage('prod', { status: 'awaiting_approval', approvalDeadline: '2026-01-01T02:00:00.000Z', quorum: { required: 2, approvedBy: ['alice'], refused: [], met: false } })] });
    const reminder = approvalExpiringEvent(waiting, 'prod', PIPELINE, BASE, new Date('2026-01-01T01:30:00.000Z'));
    assert.equal(reminder?.type, 'dev.slipway.release.approval.expiring');
    assert.equal(reminder?.data.expiresInSeconds, 1800);
    assert.deepEqual(reminder?.data.approvedBy, ['alice']);
    const approved = state({ stages: [stage('dev'), stage('prod', { status: 'deploying', approvalDeadline: '2026-01-01T02:00:00.000Z' })] });
    assert.equal(approvalExpiringEvent(approved, 'prod', PIPELINE, BASE, new Date('2026-01-01T01:30:00.000Z')), null);
  });

  it('refuses a remindBefore that is not shorter than the timeout, naming the field', () => {
    assert.throws(
      () => parsePipeline('name: p\nstages:\n  - env: prod\n    approval: { required: 1, approvers: [a], timeout: 1h, remindBefore: 2h }\n', 'p.yaml'),
      (err: unknown) => err instanceof PipelineError && /stages\[0\]\.approval\.remindBefore/.test(err.message) && /shorter than timeout/.test(err.message),
    );
  });
});

describe('event patterns', () => {
  it('accepts types and globs with or without the dev.slipway. prefix, stored in full form', () => {
    const parsed = parseEventPatterns(['release.approval.*', 'dev.slipway.release.ended', '*']);
    assert.deepEqual(parsed, { ok: true, patterns: ['dev.slipway.release.approval.*', 'dev.slipway.release.ended', '*'] });
    assert.ok(subscribedTo(['dev.slipway.release.approval.*'], 'dev.slipway.release.approval.expiring'));
    assert.ok(!subscribedTo(['dev.slipway.release.approval.*'], 'dev.slipway.release.approved'));
  });

  it('refuses unknown types and malformed globs, naming the known types', () => {
    for (const bad of ['release.deployd', 'release.*.failed', 'rel*', '', 'RELEASE.ENDED']) {
      const parsed = parseEventPatterns([bad]);
      assert.equal(parsed.ok, false, bad);
      if (!parsed.ok) assert.match(parsed.reason, /release\.started/);
    }
  });

  it('never accepts a pattern that selects no known type, whatever the text (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 40 }), { maxLength: 5 }), (items) => {
        const parsed = parseEventPatterns(items);
        if (parsed.ok) for (const p of parsed.patterns) assert.ok(EVENT_TYPES.some((t) => subscribedTo([p], t)), p);
      }),
    );
  });
});

describe('subscription input', () => {
  it('requires https outside loopback, and refuses credentials and fragments', () => {
    assert.equal(subscriptionUrlProblem('https://hooks.example.com/x'), null);
    assert.equal(subscriptionUrlProblem('http://127.0.0.1:8080/x'), null);
    assert.equal(subscriptionUrlProblem('http://localhost/x'), null);
    assert.match(subscriptionUrlProblem('http://hooks.example.com/x')!, /https outside loopback/);
    assert.match(subscriptionUrlProblem('ftp://hooks.example.com/x')!, /https URL/);
    assert.match(subscriptionUrlProblem('https://u:p@hooks.example.com/x')!, /user name or password/);
    assert.match(subscriptionUrlProblem('not a url')!, /not a URL/);
  });

  it('allows only secret variables on the allowlist', () => {
    assert.equal(secretEnvProblem(`${EVENT_SECRET_ENV_PREFIX}OPS`), null);
    assert.match(secretEnvProblem('SLIPWAY_CODEC_KEYS')!, /not allowed/);
    assert.match(secretEnvProblem(EVENT_SECRET_ENV_PREFIX)!, /not allowed/);
    assert.match(secretEnvProblem('lower_case')!, /environment variable/);
  });

  it('names every bad field at once', () => {
    const checked = checkSubscriptionInput({ url: 'http://example.com', events: ['nope'], format: 'xml', secretEnv: 'HOME', extra: 1 });
    assert.equal(checked.ok, false);
    if (!checked.ok) assert.deepEqual(checked.problems.map((p) => p.field).sort(), ['events', 'extra', 'format', 'secretEnv', 'url']);
  });

  it('accepts nothing that breaks the URL or secret rules, whatever the input (property)', () => {
    fc.assert(
      fc.property(fc.record({ url: fc.oneof(fc.webUrl(), fc.string()), events: fc.oneof(fc.constant(['*']), fc.array(fc.string())), format: fc.oneof(fc.constantFrom('cloudevents', 'slack'), fc.string()), secretEnv: fc.oneof(fc.constant('SLIPWAY_EVENT_SECRET_X'), fc.string()) }), (input) => {
        const checked = checkSubscriptionInput(input);
        if (!checked.ok) return;
        assert.equal(subscriptionUrlProblem(checked.input.url), null);
        if (checked.input.secretEnv !== null) assert.ok(checked.input.secretEnv.startsWith(EVENT_SECRET_ENV_PREFIX));
        assert.ok(checked.input.url.startsWith('https://') || /^http:\/\/(localhost|127\.|\[::1\])/i.test(checked.input.url));
      }),
    );
  });

  it('redacts everything after the first path segment (a Slack webhook URL is its own secret)', () => {
    assert.equal(redactUrl('https://hooks.slack.com/services/T000/B000/XXXX'), 'https://hooks.slack.com/services/…');
    assert.equal(redactUrl('http://127.0.0.1:9000/hook'), 'http://127.0.0.1:9000/hook');
  });
});

describe('renderings', () => {
  it('renders Slack blocks with buttons to the release and the approve action, escaping markup from release text', () => {
    const s = fullRun();
    s.stages[1]!.rejectedBy = { approver: 'eve', reason: '<!channel> & <http://evil|click>', at: '2026-01-01T00:03:00.000Z' };
    const events = deriveReleaseEvents(s, PIPELINE, BASE);
    const rejected = toSlackMessage(events.find((e) => e.type === 'dev.slipway.release.rejected')!);
    const section = JSON.stringify(rejected.blocks[0]);
    assert.ok(!section.includes('<!channel>') && section.includes('&lt;!channel&gt; &amp;'));
    const request = toSlackMessage(events.find((e) => e.type === 'dev.slipway.release.approval.requested')!);
    const actions = request.blocks.find((b) => b.type === 'actions') as { elements: { url: string }[] };
    assert.deepEqual(actions.elements.map((b) => b.url), [`${BASE}/#/releases/release-fraud-1.0.0`, `${BASE}/#/releases/release-fraud-1.0.0?approve=prod`]);
    assert.match(request.text, /alice, bob, carol/);
  });

  it('keeps one link pattern for the board', () => {
    assert.deepEqual(releaseLinks('https://x.example/', 'release-a-1'), { release: 'https://x.example/#/releases/release-a-1' });
  });

  it('gives quarantine and stop events ids that tell one happening from a later one', () => {
    const q1 = versionQuarantinedEvent({ model: 'fraud', version: '1', reason: 'bad', by: 'alice', at: '2026-01-01T00:00:00Z', key: 'a' });
    const q2 = versionQuarantinedEvent({ model: 'fraud', version: '1', reason: 'bad', by: 'alice', at: '2026-01-02T00:00:00Z', key: 'b' });
    assert.notEqual(q1.id, q2.id);
    const on = environmentStopEvent({ env: 'prod', stopped: true, reason: 'incident', by: 'alice', at: '2026-01-01T00:00:00Z', key: 'k' });
    const off = environmentStopEvent({ env: 'prod', stopped: false, reason: null, by: 'alice', at: '2026-01-01T01:00:00Z', key: 'k' });
    assert.equal(on.type, 'dev.slipway.environment.stopped');
    assert.equal(off.type, 'dev.slipway.environment.resumed');
    assert.notEqual(on.id, off.id);
  });

  it('says in one Slack line what a manual rollback restored and what it replaced', () => {
    const event = manualRollbackEvent({ rollbackId: 'rollback-fraud-prod-abc', model: 'fraud', env: 'prod', restoredTo: '1.0.0', replaced: '2.0.0', requestedBy: 'oncall', at: '2026-01-01T00:00:00Z' });
    assert.equal(event.id, 'rollback-fraud-prod-abc/rolled-back');
    assert.equal(toSlackMessage(event).text, 'fraud rolled back in prod to 1.0.0 (replacing 2.0.0), asked by oncall');
  });
});

/**
 * Release events: the closed list of event types, the patterns subscriptions
 * choose them with, the CloudEvents 1.0 envelope, the events a release
 * snapshot implies (with ids stable across retries and re-records), the
 * approval reminder's timing, the links into the board, and the
 * Slack-compatible rendering. Pure: the publisher (client/events.ts) and the
 * delivery activity (activities/events.ts) do the I/O.
 */
import { parseDuration } from './duration';
import type { Pipeline, Stage } from './pipeline';
import type { ReleaseState, StageState } from './release';

/** EVENT_TYPE_PREFIX starts every event type (reverse DNS, as CloudEvents recommends). */
export const EVENT_TYPE_PREFIX = 'dev.slipway.';

/** EVENT_TYPES is every event Slipway publishes (on the wire: never rename one). */
export const EVENT_TYPES = [
  'dev.slipway.release.started',
  'dev.slipway.release.stage.started',
  'dev.slipway.release.gate.passed',
  'dev.slipway.release.gate.failed',
  'dev.slipway.release.approval.requested',
  'dev.slipway.release.approval.expiring',
  'dev.slipway.release.approved',
  'dev.slipway.release.rejected',
  'dev.slipway.release.deployed',
  'dev.slipway.release.canary.step',
  'dev.slipway.release.bake.failed',
  'dev.slipway.release.rolled_back',
  'dev.slipway.release.ended',
  'dev.slipway.environment.rolled_back',
  'dev.slipway.model.version.quarantined',
  'dev.slipway.environment.stopped',
  'dev.slipway.environment.resumed',
] as const;

/** EventType is one of EVENT_TYPES. */
export type EventType = (typeof EVENT_TYPES)[number];

/** EVENT_FORMATS are the bodies a subscription may ask for. */
export const EVENT_FORMATS = ['cloudevents', 'slack'] as const;

/** EventFormat is how a subscription's deliveries are rendered. */
export type EventFormat = (typeof EVENT_FORMATS)[number];

/** EventDraft is an event before it is stored: everything of the envelope but the spec fields. */
export interface EventDraft {
  /** Stable across retries: the same happening always gets the same id, so receivers de-duplicate by it. */
  id: string;
  type: EventType;
  source: string;
  subject: string;
  /** ISO time the happening took place (the release's own timestamps where it has them). */
  time: string;
  data: Record<string, unknown>;
}

/** CloudEvent is the structured-mode CloudEvents 1.0 JSON envelope receivers get. */
export interface CloudEvent extends EventDraft {
  specversion: '1.0';
  datacontenttype: 'application/json';
}

/** toCloudEvent wraps a draft in the CloudEvents 1.0 envelope. */
export function toCloudEvent(draft: EventDraft): CloudEvent {
  return { specversion: '1.0', id: draft.id, source: draft.source, type: draft.type, subject: draft.subject, time: draft.time, datacontenttype: 'application/json', data: draft.data };
}

// ---------------------------------------------------------------------------
// Patterns

/** MAX_EVENT_PATTERNS bounds how many patterns one subscription lists. */
export const MAX_EVENT_PATTERNS = 32;

/**
 * parseEventPatterns checks a subscription's `--events` list: exact types or
 * globs ending in `*` (`release.approval.*`, `*`), with or without the
 * `dev.slipway.` prefix. Returns the patterns in full form, or the problem.
 */
export function parseEventPatterns(input: readonly string[] | string): { ok: true; patterns: string[] } | { ok: false; reason: string } {
  const items = (typeof input === 'string' ? input.split(',') : [...input]).map((p) => (typeof p === 'string' ? p.trim() : '')).filter((p) => p !== '');
  if (items.length === 0) return { ok: false, reason: `must name at least one event type or glob, such as "release.approval.*" or "*" (types: ${shortTypes()})` };
  if (items.length > MAX_EVENT_PATTERNS) return { ok: false, reason: `lists ${items.length} patterns; at most ${MAX_EVENT_PATTERNS}` };
  const patterns: string[] = [];
  for (const item of items) {
    if (item.length > 128 || !/^[a-z_.*]+$/.test(item) || (item.includes('*') && !/^(?:[a-z_]+\.)*\*$/.test(item))) {
      return { ok: false, reason: `"${clip(item)}" is not an event type or glob: use a type such as "release.deployed", or a prefix ending in ".*" (types: ${shortTypes()})` };
    }
    const full = item === '*' || item.startsWith(EVENT_TYPE_PREFIX) ? item : `${EVENT_TYPE_PREFIX}${item}`;
    if (!EVENT_TYPES.some((t) => patternMatches(full, t))) return { ok: false, reason: `"${clip(item)}" matches no event type; known: ${shortTypes()}` };
    if (!patterns.includes(full)) patterns.push(full);
  }
  return { ok: true, patterns };
}

/** patternMatches says whether one full-form pattern selects an event type. */
export function patternMatches(pattern: string, type: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('*')) return type.startsWith(pattern.slice(0, -1));
  return pattern === type;
}

/** subscribedTo says whether any of a subscription's patterns selects the type. */
export function subscribedTo(patterns: readonly string[], type: string): boolean {
  return patterns.some((p) => patternMatches(p, type));
}

function shortTypes(): string {
  return EVENT_TYPES.map((t) => t.slice(EVENT_TYPE_PREFIX.length)).join(', ');
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

// ---------------------------------------------------------------------------
// Links

/** ReleaseLinks are where a person opens a release and approves its stage. */
export interface ReleaseLinks {
  release: string;
  approve?: string;
}

/** releaseLinks is the one place the board's link pattern lives (`<base>/#/releases/<id>`). */
export function releaseLinks(publicUrl: string, releaseId: string, env?: string): ReleaseLinks {
  const base = publicUrl.replace(/\/+$/, '');
  const release = `${base}/#/releases/${encodeURIComponent(releaseId)}`;
  return env === undefined ? { release } : { release, approve: `${release}?approve=${encodeURIComponent(env)}` };
}

// ---------------------------------------------------------------------------
// What a release snapshot implies

/** releaseSource is the CloudEvents source of a model's release events. */
export function releaseSource(model: string): string {
  return `/slipway/models/${model}`;
}

// One run of a release id is told from another by its start time; every id carries it.
function eventId(state: Pick<ReleaseState, 'releaseId' | 'startedAt'>, step: string): string {
  return `${state.releaseId}@${state.startedAt}/${step}`;
}

/**
 * deriveReleaseEvents lists every event a release snapshot implies so far, each
 * with an id made of release id, run and step: a later snapshot implies the
 * earlier ones' events again, with the same ids, so publishing what a snapshot
 * implies, more than once or out of order, publishes each happening once.
 * `pipeline` is the pinned pipeline (approvers, canary steps); null when lost.
 */
export function deriveReleaseEvents(state: ReleaseState, pipeline: Pipeline | null, publicUrl: string): EventDraft[] {
  const events: EventDraft[] = [];
  const source = releaseSource(state.model);
  const base = { releaseId: state.releaseId, model: state.model, version: state.version, pipeline: state.pipeline };
  const links = releaseLinks(publicUrl, state.releaseId);
  const add = (step: string, type: EventType, time: string | null | undefined, data: Record<string, unknown>) =>
    events.push({ id: eventId(state, step), type, source, subject: state.releaseId, time: time ?? state.updatedAt, data: { ...base, ...data, links: data.links ?? links } });

  add('started', 'dev.slipway.release.started', state.startedAt, {
    requestedBy: state.requestedBy,
    requester: state.requester ? { user: state.requester.user, verified: state.requester.verified } : null,
    stages: state.stages.map((s) => s.env),
  });
  state.stages.forEach((stage, i) => {
    if (stage.startedAt === null) return;
    const env = stage.env;
    const planned = pipeline?.stages[i]?.env === env ? pipeline.stages[i] : undefined;
    add(`${env}/started`, 'dev.slipway.release.stage.started', stage.startedAt, { stage: env });
    // By position too: two gates of a stage may share a name.
    stage.gates.forEach((gate, g) => {
      add(`${env}/gate/${g}/${gate.name}`, gate.passed ? 'dev.slipway.release.gate.passed' : 'dev.slipway.release.gate.failed', state.updatedAt, { stage: env, gate });
    });
    if (stage.awaitingApprovalSince || stage.status === 'awaiting_approval') {
      add(`${env}/approval`, 'dev.slipway.release.approval.requested', stage.awaitingApprovalSince, approvalData(stage, planned, publicUrl, state.releaseId));
    }
    for (const a of stage.quorum?.approvals ?? []) {
      add(`${env}/approved/${a.approver}`, 'dev.slipway.release.approved', a.at, {
        stage: env,
        approver: a.approver,
        channel: a.channel,
        verified: a.verified,
        comment: a.comment ?? null,
        quorum: { required: stage.quorum!.required, approvedBy: stage.quorum!.approvedBy, met: stage.quorum!.met },
      });
    }
    if (stage.rejectedBy) {
      const r = stage.rejectedBy;
      add(`${env}/rejected`, 'dev.slipway.release.rejected', r.at, { stage: env, approver: r.approver, reason: r.reason, channel: r.channel ?? null, verified: r.verified ?? false });
    }
    if (stage.canaryWeight !== null) {
      // Snapshots are not taken at every step: the weights up to the current one all happened, in order.
      const steps = planned && 'canary' in planned.strategy ? planned.strategy.canary.steps.filter((w) => w <= stage.canaryWeight!) : [stage.canaryWeight];
      for (const weight of steps) add(`${env}/canary/${weight}`, 'dev.slipway.release.canary.step', state.updatedAt, { stage: env, weight });
    }
    if (stage.deployedVersion !== null && (stage.canaryWeight === null || stage.canaryWeight === 100)) {
      add(`${env}/deployed`, 'dev.slipway.release.deployed', state.updatedAt, { stage: env, previousVersion: stage.previousVersion });
    }
    if (stage.error !== null && /^bake\b/.test(stage.error)) {
      add(`${env}/bake-failed`, 'dev.slipway.release.bake.failed', stage.endedAt, { stage: env, reason: stage.error });
    }
  });
  for (const c of state.compensations) {
    if (c.status !== 'done' || c.error !== null) continue;
    add(`${c.env}/rolled-back/${c.deployOpKey}`, 'dev.slipway.release.rolled_back', state.updatedAt, { stage: c.env, failedVersion: c.version, restoredTo: c.restoredTo });
  }
  if (state.endedAt !== null && state.outcome) {
    add('ended', 'dev.slipway.release.ended', state.endedAt, { status: state.outcome.status, reason: state.outcome.reason });
  }
  return events;
}

function approvalData(stage: StageState, planned: Stage | undefined, publicUrl: string, releaseId: string): Record<string, unknown> {
  return {
    stage: stage.env,
    approvers: planned?.approval?.approvers ?? [],
    required: planned?.approval?.required ?? stage.quorum?.required ?? null,
    approvedBy: stage.quorum?.approvedBy ?? [],
    deadline: stage.approvalDeadline,
    gates: stage.gates.map((g) => ({ type: g.type, name: g.name, passed: g.passed, checks: g.checks })),
    links: releaseLinks(publicUrl, releaseId, stage.env),
  };
}

// ---------------------------------------------------------------------------
// Approval reminders

/** DEFAULT_REMIND_BEFORE_MS is the reminder's lead when a stage names none: an hour, or half the timeout if that is shorter. */
export const DEFAULT_REMIND_BEFORE_MS = 60 * 60 * 1000;

/** approvalReminderLeadMs is how long before the deadline a stage's approvers are reminded. */
export function approvalReminderLeadMs(approval: { timeout: string; remindBefore?: string }): number {
  if (approval.remindBefore !== undefined) return parseDuration(approval.remindBefore);
  return Math.min(DEFAULT_REMIND_BEFORE_MS, Math.floor(parseDuration(approval.timeout) / 2));
}

/** approvalReminderAt is when the reminder for a deadline goes out. */
export function approvalReminderAt(deadline: string, approval: { timeout: string; remindBefore?: string }): Date {
  return new Date(Date.parse(deadline) - approvalReminderLeadMs(approval));
}

/**
 * approvalExpiringEvent is the reminder: the approval request's data again
 * (approvers, quorum so far, gates, links), with the time left. Its id is the
 * request's plus `/expiring`: one reminder per request.
 */
export function approvalExpiringEvent(state: ReleaseState, env: string, pipeline: Pipeline | null, publicUrl: string, now: Date): EventDraft | null {
  const i = state.stages.findIndex((s) => s.env === env);
  const stage = state.stages[i];
  if (!stage || stage.status !== 'awaiting_approval' || stage.approvalDeadline === null) return null;
  const planned = pipeline?.stages[i]?.env === env ? pipeline.stages[i] : undefined;
  return {
    id: eventId(state, `${env}/approval/expiring`),
    type: 'dev.slipway.release.approval.expiring',
    source: releaseSource(state.model),
    subject: state.releaseId,
    time: now.toISOString(),
    data: {
      releaseId: state.releaseId,
      model: state.model,
      version: state.version,
      pipeline: state.pipeline,
      ...approvalData(stage, planned, publicUrl, state.releaseId),
      expiresInSeconds: Math.max(0, Math.round((Date.parse(stage.approvalDeadline) - now.getTime()) / 1000)),
    },
  };
}

// ---------------------------------------------------------------------------
// Events other features publish (one call each: EventPublisher.publish([...]))

/** ROLLBACK_ID_PREFIX starts the id of every rollback workflow (workflows/release/api.ts rollbackWorkflowId). */
export const ROLLBACK_ID_PREFIX = 'rollback-';

/** manualRollbackEvent is published when a rollback (`slipway rollback`, POST /rollbacks) has restored a version; one per rollback id. */
export function manualRollbackEvent(r: { rollbackId: string; model: string; env: string; restoredTo: string; replaced: string | null; requestedBy: string; at: string }): EventDraft {
  return {
    id: `${r.rollbackId}/rolled-back`,
    type: 'dev.slipway.environment.rolled_back',
    source: releaseSource(r.model),
    subject: r.rollbackId,
    time: r.at,
    data: { rollbackId: r.rollbackId, model: r.model, env: r.env, restoredTo: r.restoredTo, replaced: r.replaced, requestedBy: r.requestedBy },
  };
}

/** versionQuarantinedEvent is published when a version is quarantined; `key` tells one quarantine from a later one. */
export function versionQuarantinedEvent(q: { model: string; version: string; reason: string; by: string; at: string; key: string }): EventDraft {
  return {
    id: `quarantine/${q.model}@${q.version}/${q.key}`,
    type: 'dev.slipway.model.version.quarantined',
    source: releaseSource(q.model),
    subject: `${q.model}@${q.version}`,
    time: q.at,
    data: { model: q.model, version: q.version, reason: q.reason, by: q.by },
  };
}

/** environmentStopEvent is published when the line is stopped (`stopped: true`) or resumed for an environment, or `*` for all. */
export function environmentStopEvent(s: { env: string; stopped: boolean; reason: string | null; by: string; at: string; key: string }): EventDraft {
  return {
    id: `stop/${s.env}/${s.stopped ? 'on' : 'off'}/${s.key}`,
    type: s.stopped ? 'dev.slipway.environment.stopped' : 'dev.slipway.environment.resumed',
    source: `/slipway/environments/${s.env === '*' ? 'all' : s.env}`,
    subject: s.env,
    time: s.at,
    data: { env: s.env, reason: s.reason, by: s.by },
  };
}

// ---------------------------------------------------------------------------
// Slack

/** SlackMessage is an incoming-webhook body: fallback text and Block Kit blocks. */
export interface SlackMessage {
  text: string;
  blocks: Record<string, unknown>[];
}

/** toSlackMessage renders an event for a Slack incoming webhook: what happened, in one line, with buttons to the release and the approve action. */
export function toSlackMessage(event: EventDraft): SlackMessage {
  const d = event.data;
  const str = (v: unknown) => (typeof v === 'string' ? v : v === null || v === undefined ? '' : JSON.stringify(v));
  const what = `${str(d.model)}${d.version ? `@${str(d.version)}` : ''}`;
  const at = d.stage ? ` in ${str(d.stage)}` : '';
  const headline: Record<EventType, string> = {
    'dev.slipway.release.started': `Release of ${what} started by ${str(d.requestedBy)}`,
    'dev.slipway.release.stage.started': `${what}: stage ${str(d.stage)} started`,
    'dev.slipway.release.gate.passed': `${what}: gate ${str((d.gate as { name?: string } | undefined)?.name)} passed${at}`,
    'dev.slipway.release.gate.failed': `${what}: gate ${str((d.gate as { name?: string } | undefined)?.name)} failed${at}`,
    'dev.slipway.release.approval.requested': `${what} awaits approval${at} from ${list(d.approvers)} (${str(d.required)} needed, by ${str(d.deadline)})`,
    'dev.slipway.release.approval.expiring': `Reminder: approval of ${what}${at} expires in ${formatSeconds(Number(d.expiresInSeconds))} (${list(d.approvers)})`,
    'dev.slipway.release.approved': `${what} approved${at} by ${str(d.approver)}`,
    'dev.slipway.release.rejected': `${what} rejected${at} by ${str(d.approver)}: ${str(d.reason)}`,
    'dev.slipway.release.deployed': `${what} deployed${at}`,
    'dev.slipway.release.canary.step': `${what}: canary at ${str(d.weight)}%${at}`,
    'dev.slipway.release.bake.failed': `${what}: bake failed${at}: ${str(d.reason)}`,
    'dev.slipway.release.rolled_back': `${what} rolled back${at} (restored ${str(d.restoredTo) || 'nothing'})`,
    'dev.slipway.release.ended': `Release of ${what} ended: ${str(d.status)} — ${str(d.reason)}`,
    'dev.slipway.environment.rolled_back': `${str(d.model)} rolled back in ${str(d.env)} to ${str(d.restoredTo)} (replacing ${str(d.replaced) || 'nothing'}), asked by ${str(d.requestedBy)}`,
    'dev.slipway.model.version.quarantined': `${what} quarantined by ${str(d.by)}: ${str(d.reason)}`,
    'dev.slipway.environment.stopped': `Line stopped for ${str(d.env)} by ${str(d.by)}: ${str(d.reason)}`,
    'dev.slipway.environment.resumed': `Line resumed for ${str(d.env)} by ${str(d.by)}`,
  };
  const text = headline[event.type] ?? event.type;
  const links = d.links as ReleaseLinks | undefined;
  const buttons: Record<string, unknown>[] = [];
  if (links?.release) buttons.push({ type: 'button', text: { type: 'plain_text', text: 'Open release' }, url: links.release });
  if (links?.approve && (event.type === 'dev.slipway.release.approval.requested' || event.type === 'dev.slipway.release.approval.expiring')) {
    buttons.push({ type: 'button', style: 'primary', text: { type: 'plain_text', text: 'Approve…' }, url: links.approve });
  }
  return {
    text,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: slackEscape(text) } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: slackEscape(`${event.type} · ${event.subject} · ${event.time}`) }] },
      ...(buttons.length > 0 ? [{ type: 'actions', elements: buttons }] : []),
    ],
  };
}

function list(v: unknown): string {
  return Array.isArray(v) && v.length > 0 ? v.join(', ') : 'the listed approvers';
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return 'soon';
  if (s >= 3600) return `${Math.round(s / 360) / 10}h`;
  if (s >= 60) return `${Math.round(s / 60)}m`;
  return `${s}s`;
}

// Slack's mrkdwn reads &, < and > as markup: text from releases (reasons, comments) must not make links or mentions.
function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

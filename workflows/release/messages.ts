/**
 * What the release does with each message it receives: approvals (Signal from
 * the Web UI, Update from the CLI/API) and rejections. Pure functions over the
 * release state, so they are unit-tested without a server; the workflow entry
 * registers them as handlers and passes the workflow's clock.
 *
 * On server-policy releases (ctx.verification set) a message counts as
 * channel `api` only when it carries a decision the API signed, checked here
 * against the worker's own keys; anything else is what it claims to be, from
 * `ui` (Signal) or `cli` (Update), and counts only where the stage allows it.
 */
import { DECISION_MAX_AGE_MS, verifyDecision, type TrustedKeys } from '../../domain/decisions';
import type { Stage } from '../../domain/pipeline';
import { decideApproval, validateApprovalInput, type ApprovalChannel, type ApprovalInput } from '../../domain/quorum';
import type { ApproveUpdateResult, IgnoredMessage, ReleaseState } from '../../domain/release';
import { policyOf } from './state';

const CLAIMED_API_REASON = 'channel "api" means signed by the Slipway API: approve through POST /releases/:id/approvals (or the CLI with SLIPWAY_API_URL)';

/** MAX_IGNORED bounds the ignored-message list (newest kept), so a flood cannot grow the state without end. */
export const MAX_IGNORED = 50;

/** MessageContext is what message handling reads besides the state it changes. */
export interface MessageContext {
  state: ReleaseState;
  stages: Stage[];
  pipelineName: string;
  requestedBy: string;
  /** Server-policy releases: the keys that verify signed decisions, when this run started, who may not approve. */
  verification?: { keys: TrustedKeys; runStartedAt: string; requesters: string[] };
  /** The pipeline's break-glass approvers (its `breakGlass.approvers`): who may let a hotfix pass a stopped line. */
  breakGlassApprovers?: string[];
}

type Checked = { ok: true; value: ApprovalInput; channel: ApprovalChannel; verified: boolean; breakGlass?: boolean } | { ok: false; error: string; channel: ApprovalChannel };

// What a message says and how far to trust it: a signed decision is the API's word; anything else only claims.
function checkMessage(ctx: MessageContext, raw: unknown, kind: 'approve' | 'reject', claimedChannel: ApprovalChannel, at: string): Checked {
  const signed = ctx.verification !== undefined && raw !== null && typeof raw === 'object' && 'decision' in raw;
  if (!signed) {
    const checked = validateApprovalInput(raw);
    return checked.ok ? { ok: true, value: checked.value, channel: claimedChannel, verified: false } : { ok: false, error: checked.error, channel: claimedChannel };
  }
  const v = ctx.verification!;
  const result = verifyDecision((raw as { decision: unknown }).decision, kind === 'approve' ? 'release.approve' : 'release.reject', v.keys, {
    now: at,
    notBefore: v.runStartedAt,
    maxAgeMs: DECISION_MAX_AGE_MS,
  });
  if (!result.ok) return { ok: false, error: result.reason, channel: 'api' };
  const p = result.payload;
  if (p.releaseId !== ctx.state.releaseId) return { ok: false, error: `decision was signed for ${p.releaseId}, not ${ctx.state.releaseId}`, channel: 'api' };
  const value: ApprovalInput = { stage: p.stage, approver: p.approver.user, ...(p.comment === undefined ? {} : { comment: p.comment }) };
  const checked = validateApprovalInput(value);
  // Break-glass only as the API signed it: no unsigned message can ask for it.
  return checked.ok ? { ok: true, value: checked.value, channel: 'api', verified: true, ...(kind === 'approve' && (p as { breakGlass?: unknown }).breakGlass === true ? { breakGlass: true } : {}) } : { ok: false, error: checked.error, channel: 'api' };
}

/** recordIgnored keeps a refused or malformed message visible in the state instead of failing anything. */
export function recordIgnored(state: ReleaseState, kind: IgnoredMessage['kind'], channel: ApprovalChannel, raw: unknown, reason: string, at: string): void {
  if (state.ignoredMessages.length >= MAX_IGNORED) state.ignoredMessages.shift();
  state.ignoredMessages.push({ at, kind, channel, input: preview(raw), reason });
  state.updatedAt = at;
}

/** applyApproval counts one approval toward its stage's quorum, or records why it does not count. */
export function applyApproval(ctx: MessageContext, raw: unknown, claimedChannel: ApprovalChannel, at: string): ApproveUpdateResult {
  const { state, stages } = ctx;
  const checked = checkMessage(ctx, raw, 'approve', claimedChannel, at);
  const { channel } = checked;
  const ignore = (reason: string) => recordIgnored(state, 'approve', channel, raw, reason, at);
  if (ctx.verification && isObject(raw) && raw['channel'] === 'api') {
    // Someone with Temporal access claiming the verified channel: refused, and kept for the audit chain.
    ignore(CLAIMED_API_REASON);
    return { outcome: 'refused', reason: CLAIMED_API_REASON, stage: typeof raw['stage'] === 'string' ? raw['stage'] : '', quorum: null };
  }
  if (!checked.ok) {
    ignore(checked.error);
    return { outcome: 'refused', reason: checked.error, stage: '', quorum: null };
  }
  if (checked.breakGlass) return applyBreakGlass(ctx, checked.value, ignore, at);
  const { stage: env, approver, comment } = checked.value;
  const i = stages.findIndex((s) => s.env === env);
  const stage = stages[i];
  const stageState = state.stages[i];
  if (!stage?.approval || !stageState?.quorum) {
    const reason = i === -1 ? `stage "${env}" is not in pipeline ${ctx.pipelineName}` : `stage "${env}" needs no approval`;
    ignore(reason);
    return { outcome: 'refused', reason, stage: env, quorum: null };
  }
  if (stageState.endedAt !== null || state.endedAt !== null) {
    const reason = `stage "${env}" has already ended (${stageState.status})`;
    ignore(reason);
    return { outcome: 'refused', reason, stage: env, quorum: stageState.quorum };
  }
  if (ctx.verification && stageState.status !== 'awaiting_approval' && !stage.approval.preApproval) {
    const reason = `stage "${env}" is not awaiting approval (it is ${stageState.status}); approvals count once its gates have passed and it asks for them`;
    ignore(reason);
    return { outcome: 'refused', reason, stage: env, quorum: stageState.quorum };
  }
  const requesters = ctx.verification?.requesters ?? [ctx.requestedBy];
  const decision = decideApproval(policyOf(stage), stageState.quorum, { stage: env, approver, comment, channel, verified: checked.verified, at }, requesters);
  stageState.quorum = decision.state;
  if (decision.outcome === 'refused') ignore(decision.reason ?? 'refused');
  state.updatedAt = at;
  return { outcome: decision.outcome, reason: decision.reason, stage: env, quorum: decision.state };
}

/**
 * applyBreakGlass counts a signed break-glass approval: it lets this hotfix pass a stopped line at one stage.
 * Only the pipeline's break-glass approvers, never the requester, only for a hotfix (by its signed start).
 */
function applyBreakGlass(ctx: MessageContext, value: ApprovalInput, ignore: (reason: string) => void, at: string): ApproveUpdateResult {
  const { state } = ctx;
  const { stage: env, approver, comment } = value;
  const i = ctx.stages.findIndex((s) => s.env === env);
  const stageState = state.stages[i];
  const refuse = (reason: string): ApproveUpdateResult => {
    ignore(reason);
    return { outcome: 'refused', reason, stage: env, quorum: stageState?.quorum ?? null };
  };
  if (state.hotfix !== true) return refuse('break-glass approval refused: this release is not a hotfix (only a release the API started with hotfix: true may pass a stopped line)');
  const approvers = ctx.breakGlassApprovers ?? [];
  if (approvers.length === 0) return refuse(`break-glass approval refused: pipeline ${ctx.pipelineName} names no breakGlass approvers`);
  if (!approvers.includes(approver)) return refuse(`break-glass approval refused: ${approver} is not a break-glass approver of pipeline ${ctx.pipelineName}; they are ${approvers.join(', ')}`);
  if ((ctx.verification?.requesters ?? [ctx.requestedBy]).includes(approver)) return refuse(`break-glass approval refused: ${approver} started this release and may not let it pass a stop`);
  if (i === -1 || !stageState) return refuse(`break-glass approval refused: stage "${env}" is not in pipeline ${ctx.pipelineName}`);
  if (stageState.endedAt !== null || state.endedAt !== null) return refuse(`break-glass approval refused: stage "${env}" has already ended (${stageState.status})`);
  state.breakGlass ??= [];
  state.updatedAt = at;
  if (state.breakGlass.some((b) => b.stage === env)) return { outcome: 'duplicate', stage: env, quorum: stageState.quorum };
  state.breakGlass.push({ stage: env, approver, at, ...(comment === undefined ? {} : { comment }) });
  return { outcome: 'counted', reason: `break-glass: ${approver} lets this hotfix pass a stopped line at ${env}`, stage: env, quorum: stageState.quorum };
}

/** applyRejection marks a stage rejected by one of its approvers; the stage loop then ends the release. */
export function applyRejection(ctx: MessageContext, raw: unknown, at: string): void {
  const { state, stages } = ctx;
  const checked = checkMessage(ctx, raw, 'reject', 'ui', at);
  const ignore = (reason: string) => recordIgnored(state, 'reject', checked.channel, raw, reason, at);
  if (!checked.ok) return ignore(checked.error);
  const { stage: env, approver, comment } = checked.value;
  const i = stages.findIndex((s) => s.env === env);
  const stage = stages[i];
  const stageState = state.stages[i];
  if (!stage?.approval || !stageState) return ignore(`stage "${env}" has no approvers to reject it`);
  if (!stage.approval.approvers.includes(approver)) {
    return ignore(`${approver} is not an approver for stage ${env}; approvers: ${stage.approval.approvers.join(', ')}`);
  }
  const channels = stage.approval.channels;
  if (ctx.verification && channels !== undefined && !channels.includes(checked.channel)) {
    return ignore(`rejections for stage ${env} are accepted only via ${channels.join(', ')}; this one came via ${checked.channel}`);
  }
  if (stageState.endedAt !== null) return ignore(`stage "${env}" has already ended`);
  stageState.rejectedBy = { approver, reason: comment ?? '(no reason given)', at, ...(ctx.verification ? { channel: checked.channel, verified: checked.verified } : {}) };
  state.updatedAt = at;
}

/**
 * validateApproveUpdate refuses a malformed Update before it reaches history; the caller sees why.
 * A client may no longer choose channel `api`: that channel is a decision the API signed.
 */
export function validateApproveUpdate(arg: unknown, recordsClaimedApi = false): void {
  if (typeof arg !== 'object' || arg === null) throw new Error('approve expects {"stage": "...", "approver": "...", "comment": "..."}');
  if ('decision' in arg) {
    if (Object.keys(arg).length !== 1) throw new Error('decision: a signed approval carries only {"decision": …}');
    return; // the signature is checked by the workflow, which records a bad one
  }
  const { channel, ...rest } = arg as Record<string, unknown>;
  // Server-policy releases take a claimed "api" in and record the refusal (applyApproval); older ones refuse it here.
  if (channel === 'api' && !recordsClaimedApi) throw new Error(CLAIMED_API_REASON);
  if (channel !== undefined && channel !== 'cli' && channel !== 'api') throw new Error('channel: leave it out (the workflow sets it); only "cli" is accepted for compatibility');
  const checked = validateApprovalInput(rest);
  if (!checked.ok) throw new Error(checked.error);
}

function isObject(raw: unknown): raw is Record<string, unknown> {
  return typeof raw === 'object' && raw !== null;
}

function preview(raw: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(raw) ?? String(raw);
  } catch {
    text = String(raw);
  }
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

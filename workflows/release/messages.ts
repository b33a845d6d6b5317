/**
 * What the release does with each message it receives: approvals (Signal from
 * the Web UI, Update from the CLI/API) and rejections. Pure functions over the
 * release state, so they are unit-tested without a server; the workflow entry
 * registers them as handlers and passes the workflow's clock.
 */
import type { Stage } from '../../domain/pipeline';
import { decideApproval, validateApprovalInput, type ApprovalChannel } from '../../domain/quorum';
import type { ApproveUpdateResult, IgnoredMessage, ReleaseState } from '../../domain/release';
import { policyOf } from './state';

/** MAX_IGNORED bounds the ignored-message list (newest kept), so a flood cannot grow the state without end. */
export const MAX_IGNORED = 50;

/** MessageContext is what message handling reads besides the state it changes. */
export interface MessageContext {
  state: ReleaseState;
  stages: Stage[];
  pipelineName: string;
  requestedBy: string;
}

/** recordIgnored keeps a refused or malformed message visible in the state instead of failing anything. */
export function recordIgnored(state: ReleaseState, kind: IgnoredMessage['kind'], channel: ApprovalChannel, raw: unknown, reason: string, at: string): void {
  if (state.ignoredMessages.length >= MAX_IGNORED) state.ignoredMessages.shift();
  state.ignoredMessages.push({ at, kind, channel, input: preview(raw), reason });
  state.updatedAt = at;
}

/** applyApproval counts one approval toward its stage's quorum, or records why it does not count. */
export function applyApproval(ctx: MessageContext, raw: unknown, channel: ApprovalChannel, at: string): ApproveUpdateResult {
  const { state, stages } = ctx;
  const ignore = (reason: string) => recordIgnored(state, 'approve', channel, raw, reason, at);
  const checked = validateApprovalInput(raw);
  if (!checked.ok) {
    ignore(checked.error);
    return { outcome: 'refused', reason: checked.error, stage: '', quorum: null };
  }
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
  const decision = decideApproval(policyOf(stage), stageState.quorum, { stage: env, approver, comment, channel, at }, ctx.requestedBy);
  stageState.quorum = decision.state;
  if (decision.outcome === 'refused') ignore(decision.reason ?? 'refused');
  state.updatedAt = at;
  return { outcome: decision.outcome, reason: decision.reason, stage: env, quorum: decision.state };
}

/** applyRejection marks a stage rejected by one of its approvers; the stage loop then ends the release. */
export function applyRejection(ctx: MessageContext, raw: unknown, at: string): void {
  const { state, stages } = ctx;
  const ignore = (reason: string) => recordIgnored(state, 'reject', 'ui', raw, reason, at);
  const checked = validateApprovalInput(raw);
  if (!checked.ok) return ignore(checked.error);
  const { stage: env, approver, comment } = checked.value;
  const i = stages.findIndex((s) => s.env === env);
  const stage = stages[i];
  const stageState = state.stages[i];
  if (!stage?.approval || !stageState) return ignore(`stage "${env}" has no approvers to reject it`);
  if (!stage.approval.approvers.includes(approver)) {
    return ignore(`${approver} is not an approver for stage ${env}; approvers: ${stage.approval.approvers.join(', ')}`);
  }
  if (stageState.endedAt !== null) return ignore(`stage "${env}" has already ended`);
  stageState.rejectedBy = { approver, reason: comment ?? '(no reason given)', at };
  state.updatedAt = at;
}

/** validateApproveUpdate refuses a malformed Update before it reaches history; the caller sees why. */
export function validateApproveUpdate(arg: unknown): void {
  if (typeof arg !== 'object' || arg === null) throw new Error('approve expects {"stage": "...", "approver": "...", "comment": "..."}');
  const { channel, ...rest } = arg as Record<string, unknown>;
  if (channel !== undefined && channel !== 'api' && channel !== 'cli') throw new Error('channel must be "api" or "cli"');
  const checked = validateApprovalInput(rest);
  if (!checked.ok) throw new Error(checked.error);
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

/**
 * The state a release starts with, built from its input alone. Pure, so the
 * workflow (run.ts) and the message-handling tests start from the same state.
 */
import { DECISION_MAX_AGE_MS, verifyDecision, type TrustedKeys } from '../../domain/decisions';
import type { Pipeline, Stage } from '../../domain/pipeline';
import { initialQuorum, type ApprovalPolicy } from '../../domain/quorum';
import type { ReleaseInput, ReleaseState, Requester, StageState } from '../../domain/release';

/** initialReleaseState is a release's state before its first stage, as of startedAt. */
export function initialReleaseState(input: ReleaseInput & { pipeline: Pipeline; pipelineHash: string }, startedAt: string): ReleaseState {
  return {
    releaseId: input.releaseId,
    model: input.model,
    version: input.version,
    pipeline: input.pipeline.name,
    pipelineHash: input.pipelineHash,
    requestedBy: input.requestedBy,
    status: 'running',
    currentStage: null,
    summary: 'starting',
    stages: input.pipeline.stages.map((s) => newStageState(s)),
    ignoredMessages: [],
    compensations: [],
    startedAt,
    updatedAt: startedAt,
    endedAt: null,
    outcome: null,
  };
}

/**
 * resolveRequester is who started the release: the identity in the API's signed start decision
 * when it verifies and matches this release, else the input's claim, unverified (with why);
 * and whether that signed decision made it a hotfix.
 */
export function resolveRequester(input: ReleaseInput, keys: TrustedKeys, runStartedAt: string): { requester: Requester; refused?: string; hotfix?: boolean } {
  const claimed: Requester = { user: input.requestedBy, verified: false };
  if (input.startDecision === undefined) return { requester: claimed };
  const result = verifyDecision(input.startDecision, 'release.start', keys, { now: runStartedAt, maxAgeMs: DECISION_MAX_AGE_MS });
  if (!result.ok) return { requester: claimed, refused: `start decision refused, requester ${input.requestedBy} unverified: ${result.reason}` };
  const p = result.payload;
  if (p.releaseId !== input.releaseId || p.model !== input.model || p.version !== input.version) {
    return { requester: claimed, refused: `start decision was signed for ${p.model}@${p.version} (${p.releaseId}), not this release; requester ${input.requestedBy} unverified` };
  }
  return {
    requester: { user: p.requester.user, verified: true, via: p.requester.via, ...(p.requester.issuer ? { issuer: p.requester.issuer } : {}), ...(p.actor ? { actor: p.actor } : {}) },
    // A hotfix only by the API's signature: a flag in the input is a claim.
    ...(p.hotfix === true ? { hotfix: true } : {}),
  };
}

/** onlyVerifiedApprovals: the stage counts approvals only from channel `api` (signed by the API). */
export function onlyVerifiedApprovals(stage: Stage): boolean {
  const channels = stage.approval?.channels;
  return channels !== undefined && channels.length > 0 && channels.every((c) => c === 'api');
}

/** policyOf is a stage's approval policy; only for stages that have one. */
export function policyOf(stage: Stage): ApprovalPolicy {
  const a = stage.approval!;
  return { required: a.required, approvers: a.approvers, selfApproval: a.selfApproval, channels: a.channels };
}

function newStageState(stage: Stage): StageState {
  return {
    env: stage.env,
    status: 'pending',
    gates: [],
    quorum: stage.approval ? initialQuorum(policyOf(stage)) : null,
    approvalDeadline: null,
    rejectedBy: null,
    canaryWeight: null,
    deployedVersion: null,
    previousVersion: null,
    healthChecks: [],
    startedAt: null,
    endedAt: null,
    error: null,
  };
}

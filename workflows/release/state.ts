/**
 * The state a release starts with, built from its input alone. Pure, so the
 * workflow (run.ts) and the message-handling tests start from the same state.
 */
import type { Stage } from '../../domain/pipeline';
import { initialQuorum, type ApprovalPolicy } from '../../domain/quorum';
import type { ReleaseInput, ReleaseState, StageState } from '../../domain/release';

/** initialReleaseState is a release's state before its first stage, as of startedAt. */
export function initialReleaseState(input: ReleaseInput, startedAt: string): ReleaseState {
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

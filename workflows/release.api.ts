/**
 * The release workflow's public contract: its input, state, id, and the
 * messages the Temporal Web UI (Signals), the CLI/API (Update) and monitors
 * (Query) use. The CLI and API import these objects, never strings.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey } from '@temporalio/common';
import type { Pipeline } from '../domain/pipeline';
import type { ApprovalChannel, QuorumState } from '../domain/quorum';
import type { ReleaseStatus } from '../domain/outcome';
import type { GateCheck } from '../domain/thresholds';

/** ReleaseInput is everything a release needs, pinned at start. */
export interface ReleaseInput {
  releaseId: string;
  model: string;
  version: string;
  /** The exact pipeline content this release runs, pinned by hash in the registry. */
  pipeline: Pipeline;
  pipelineHash: string;
  requestedBy: string;
  requestedAt: string;
}

/** GateResult is one gate's verdict with its evidence. */
export interface GateResult {
  type: string;
  name: string;
  passed: boolean;
  checks: GateCheck[];
  error?: string;
}

/** StageStatus is where one stage of a release stands. */
export type StageStatus =
  | 'pending'
  | 'waiting_for_lock'
  | 'frozen'
  | 'gating'
  | 'awaiting_approval'
  | 'deploying'
  | 'baking'
  | 'succeeded'
  | 'failed'
  | 'rolled_back'
  | 'skipped';

/** StageState is one stage's progress, gate results and approvals. */
export interface StageState {
  env: string;
  status: StageStatus;
  gates: GateResult[];
  quorum: QuorumState | null;
  approvalDeadline: string | null;
  /** When the stage started waiting for approval, and when its quorum was met (approval wait metric). */
  awaitingApprovalSince?: string | null;
  approvedAt?: string | null;
  rejectedBy: { approver: string; reason: string; at: string } | null;
  canaryWeight: number | null;
  deployedVersion: string | null;
  previousVersion: string | null;
  healthChecks: { at: string; healthy: boolean; detail: string }[];
  startedAt: string | null;
  endedAt: string | null;
  error: string | null;
}

/** IgnoredMessage is a malformed or unauthorised message, kept visible instead of crashing anything. */
export interface IgnoredMessage {
  at: string;
  kind: 'approve' | 'reject';
  channel: ApprovalChannel;
  input: string;
  reason: string;
}

/** Compensation is one undo on the stack, and how running it went. */
export interface Compensation {
  env: string;
  kind: 'restore_live';
  deployOpKey: string;
  version: string;
  status: 'pending' | 'done' | 'failed';
  attempts: number;
  restoredTo: string | null;
  error: string | null;
}

/** ReleaseState is the whole state, as the `status` query returns it. */
export interface ReleaseState {
  releaseId: string;
  model: string;
  version: string;
  pipeline: string;
  pipelineHash: string;
  requestedBy: string;
  status: ReleaseStatus;
  currentStage: string | null;
  /** In words: what the release waits for, or why it ended. */
  summary: string;
  stages: StageState[];
  ignoredMessages: IgnoredMessage[];
  compensations: Compensation[];
  startedAt: string;
  updatedAt: string;
  endedAt: string | null;
  outcome: { status: ReleaseStatus; reason: string } | null;
}

/** ApproveUpdateInput is the Update argument; the channel is set by the client that sends it. */
export interface ApproveUpdateInput {
  stage: string;
  approver: string;
  comment?: string;
  channel?: 'api' | 'cli';
}

/** ApproveUpdateResult answers an Update with what the approval did and the quorum now. */
export interface ApproveUpdateResult {
  outcome: 'counted' | 'duplicate' | 'refused';
  reason?: string;
  stage: string;
  quorum: QuorumState | null;
}

/** approveSignal: `{"stage":"prod","approver":"alice","comment":"…"}` — what the Web UI sends. */
export const approveSignal = defineSignal<[unknown]>('approve');
/** rejectSignal: `{"stage":"prod","approver":"alice","comment":"why"}` ends the release `rejected`. */
export const rejectSignal = defineSignal<[unknown]>('reject');
/** approveUpdate is the validated approval CLI/API send, answered with the quorum state. */
export const approveUpdate = defineUpdate<ApproveUpdateResult, [ApproveUpdateInput]>('approve');
/** statusQuery returns the whole ReleaseState. */
export const statusQuery = defineQuery<ReleaseState>('status');

/** Search attributes the release sets so the Web UI list can filter releases. */
export const SA_MODEL = defineSearchAttributeKey('SlipwayModel', 'KEYWORD');
/** SA_VERSION is the version being released. */
export const SA_VERSION = defineSearchAttributeKey('SlipwayVersion', 'KEYWORD');
/** SA_STAGE is the stage the release is at. */
export const SA_STAGE = defineSearchAttributeKey('SlipwayStage', 'KEYWORD');
/** SA_STATUS is the release status (e.g. awaiting_approval). */
export const SA_STATUS = defineSearchAttributeKey('SlipwayStatus', 'KEYWORD');

/** releaseWorkflowId is the deterministic id of the release of model@version. */
export function releaseWorkflowId(model: string, version: string): string {
  return `release-${model}-${version}`;
}

/**
 * deployOpKey is the idempotency key of a release's deploy to one environment.
 * It names the run (the first run id of the workflow) as well as the release,
 * so starting a version again after its release ended deploys again instead of
 * finding the earlier run's deploy done. Pass runId null for releases recorded
 * before run-scoped keys.
 */
export function deployOpKey(releaseId: string, runId: string | null, env: string): string {
  return runId === null ? `${releaseId}:${env}:deploy` : `${releaseId}:${runId}:${env}:deploy`;
}

/** rollbackWorkflowId is the id of a rollback; `requestKey` makes a retried request idempotent. */
export function rollbackWorkflowId(model: string, env: string, requestKey: string): string {
  return `rollback-${model}-${env}-${requestKey}`;
}

/** RollbackInput asks to restore (model, env) to its last known good version or a given one. */
export interface RollbackInput {
  rollbackId: string;
  model: string;
  env: string;
  toVersion?: string;
  requestedBy: string;
  reason: string;
}

/** RollbackResult says what is live after the rollback. */
export interface RollbackResult {
  model: string;
  env: string;
  from: string | null;
  to: string;
  status: 'succeeded' | 'noop';
}

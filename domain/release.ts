/**
 * The release's data: what a release is asked to do, where each stage stands,
 * and what the `status` query returns. Pure types, shared by the workflow
 * contract (workflows/release/api.ts re-exports them), the registry, the CLI
 * and the API.
 */
import type { SignedDecision } from './decisions';
import type { LineWait } from './line-controls';
import type { Pipeline } from './pipeline';
import type { ApprovalChannel, QuorumState } from './quorum';
import type { ReleaseStatus } from './outcome';
import type { CarriedOver, RetryOf, RetryRequest } from './retry';
import type { GateCheck } from './thresholds';

/**
 * ReleaseInput is what a release is asked to do. Anyone with Temporal access
 * can write it, so a release (from the server-policy patch on) takes nothing
 * that decides from it: the pipeline comes from the model's binding, loaded by
 * the worker, and the requester counts as verified only with a start decision
 * the API signed.
 */
export interface ReleaseInput {
  releaseId: string;
  model: string;
  version: string;
  /** Releases started before the server-policy patch ran this pipeline; later runs ignore it. */
  pipeline?: Pipeline;
  /** The pipeline (and hash) the starting client expected; informational, the worker loads the binding. */
  pipelineName?: string;
  pipelineHash?: string;
  /** Who asked, as claimed; verified only through startDecision. */
  requestedBy: string;
  requestedAt: string;
  /** The API's signed `release.start` decision (requester verified at the edge). */
  startDecision?: SignedDecision;
  /** A hotfix as claimed; it counts only inside startDecision (signed), never from here. */
  hotfix?: boolean;
  /**
   * Only names the run this one retries (and the stage asked to start from); the worker decides what is
   * kept, from its own registry, and honours it only as signed in startDecision when it trusts API keys.
   */
  retry?: RetryRequest;
}

/** Requester is who started a release, and whether the API vouched for it. */
export interface Requester {
  user: string;
  verified: boolean;
  /** How the API verified the requester (token, oidc + issuer). */
  via?: 'token' | 'oidc';
  issuer?: string;
  /** The person behind an automated requester (the CI run's actor); may not approve either. */
  actor?: string;
}

/** ReleasePolicy is what the worker loads for a release from its own registry and configuration. */
export type ReleasePolicy =
  | { ok: true; pipeline: Pipeline; pipelineHash: string; pipelineRevision: number | null; trustedKeys: Record<string, string> }
  | { ok: false; reason: string };

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
  | 'line_stopped'
  | 'gating'
  | 'awaiting_approval'
  | 'deploying'
  | 'baking'
  | 'succeeded'
  | 'failed'
  | 'rolled_back';

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
  rejectedBy: { approver: string; reason: string; at: string; channel?: ApprovalChannel; verified?: boolean } | null;
  canaryWeight: number | null;
  deployedVersion: string | null;
  previousVersion: string | null;
  healthChecks: { at: string; healthy: boolean; detail: string }[];
  startedAt: string | null;
  endedAt: string | null;
  error: string | null;
  /** Set when the stage was kept from an earlier run of a retried release instead of run again. */
  carriedOver?: CarriedOver;
}

/** IgnoredMessage is a malformed or unauthorised message, kept visible instead of crashing anything. */
export interface IgnoredMessage {
  at: string;
  /** `lock_grant`: an environment lock grant Signal whose lease the registry did not confirm. */
  kind: 'approve' | 'reject' | 'start' | 'lock_grant';
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
  /** The revision of the bound pipeline this release runs (server-policy releases). */
  pipelineRevision?: number | null;
  requestedBy: string;
  /** Who started it and whether that is verified (server-policy releases). */
  requester?: Requester;
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
  /** A hotfix by the API's signed start decision: it may pass a stopped line with a break-glass approval. */
  hotfix?: boolean;
  /** What the release waits for before its next deploy (a stopped line), or null. */
  waitingFor?: LineWait | null;
  /** Signed break-glass approvals counted for this hotfix, per stage. */
  breakGlass?: BreakGlassApproval[];
  /** The Temporal run (first execution) this state belongs to, so a retry can name it. */
  runId?: string;
  /** The earlier run this run retries, as the worker found it. */
  retryOf?: RetryOf;
}

/** BreakGlassApproval lets a hotfix pass a stopped line at one stage: signed, from the pipeline's breakGlass approvers. */
export interface BreakGlassApproval {
  stage: string;
  approver: string;
  at: string;
  comment?: string;
  /** When it was used to pass a stop, and which. */
  usedAt?: string;
  passedStop?: string;
}

/**
 * ApproveUpdateInput is the Update argument: a claimed `{stage, approver}`
 * (counted as channel `cli`, unverified), or a `decision` the API signed
 * (channel `api`, verified). Releases recorded before the server-policy patch
 * took a client-chosen `channel`.
 */
export type ApproveUpdateInput =
  | { stage: string; approver: string; comment?: string; channel?: 'api' | 'cli' }
  | { decision: SignedDecision };

/** ApproveUpdateResult answers an Update with what the approval did and the quorum now. */
export interface ApproveUpdateResult {
  outcome: 'counted' | 'duplicate' | 'refused';
  reason?: string;
  stage: string;
  quorum: QuorumState | null;
}

/** RollbackInput asks to restore (model, env) to its last known good version or a given one. */
export interface RollbackInput {
  rollbackId: string;
  model: string;
  env: string;
  toVersion?: string;
  /** Who asked, as claimed; verified only through requestDecision. */
  requestedBy: string;
  reason: string;
  /** The API's signed `rollback.request` (the requester verified at the edge), checked by the worker. */
  requestDecision?: SignedDecision;
}

/** RollbackResult says what is live after the rollback. */
export interface RollbackResult {
  model: string;
  env: string;
  from: string | null;
  to: string;
  status: 'succeeded' | 'noop';
}

/** The shapes the board reads from the API (GET /board, /board/inbox, /board/me, /releases/:id). */

/** Me is GET /board/me. */
export interface Me {
  user: string;
  roles: string[];
  approves: string[];
  rollsBack: string[];
  temporalUiUrl: string | null;
  namespace: string;
  /** Whether the token may start (and so retry) releases. */
  releases?: boolean;
  stopsLine?: boolean;
  quarantines?: boolean;
  retryableStatuses?: string[];
}

/** LineStop is one stop in force (GET /board `stops`, GET /stops). */
export interface LineStop {
  scope: string;
  reason: string;
  by: string;
  since: string;
}

/** LineWait is what a release held by a stop waits for. */
export interface LineWait extends LineStop {
  kind: 'line-stop';
  env: string;
}

/** QuarantineMark is why a version may not be released or rolled back to. */
export interface QuarantineMark {
  reason: string;
  by: string;
  since: string;
}

/** Quarantine is one entry of GET /quarantines. */
export interface Quarantine extends QuarantineMark {
  model: string;
  version: string;
}

/** Cell is one (model, env) of GET /board. */
export interface Cell {
  env: string;
  live: { version: string | null; since: string; health: 'ok' | 'failed'; releaseId: string | null; by: string; reason: string; quarantined?: QuarantineMark | null } | null;
  release: {
    releaseId: string;
    version: string;
    status: string;
    canaryWeight: number | null;
    approvals: { approved: number; required: number } | null;
    hotfix?: boolean;
    waitingFor?: LineWait | null;
    quarantined?: QuarantineMark | null;
  } | null;
  stopped?: LineStop | null;
}

/** Board is GET /board. */
export interface Board {
  generatedAt: string;
  environments: string[];
  approvalsWaiting: number;
  stops?: LineStop[];
  rows: { model: string; cells: Cell[]; inFlight: { releaseId: string; version: string; status: string; currentStage: string | null; summary: string; startedAt: string; hotfix?: boolean; waitingFor?: LineWait | null }[] }[];
}

/** InboxItem is one entry of GET /board/inbox. */
export interface InboxItem {
  releaseId: string;
  model: string;
  version: string;
  stage: string;
  requestedBy: string;
  approved: number;
  required: number;
  approvedBy: string[];
  approvalDeadline: string | null;
  startedAt: string;
}

/** Approval is one counted approval in a stage's quorum. */
export interface Approval {
  approver: string;
  channel: string | null;
  verified: boolean;
  at: string;
  comment?: string;
}

/** Stage is one stage of GET /releases/:id. */
export interface Stage {
  env: string;
  status: string;
  gates: { type: string; name: string; passed: boolean; error?: string; checks: { metric: string; value: number | null; threshold: string; passed: boolean; reason: string }[] }[];
  quorum: { required: number; approvedBy: string[]; approvals?: Approval[]; refused: { approver: string; reason: string; at: string }[]; met: boolean } | null;
  approvalDeadline: string | null;
  awaitingApprovalSince?: string | null;
  approvedAt?: string | null;
  rejectedBy: { approver: string; reason: string; at: string; channel?: string; verified?: boolean } | null;
  canaryWeight: number | null;
  deployedVersion: string | null;
  previousVersion: string | null;
  healthChecks: { at: string; healthy: boolean; detail: string }[];
  startedAt: string | null;
  endedAt: string | null;
  error: string | null;
  /** Kept from an earlier run of a retried release instead of run again. */
  carriedOver?: { fromRunId: string; reason: string };
}

/** BreakGlassApproval let (or may let) a hotfix pass a stopped line at one stage. */
export interface BreakGlassApproval {
  stage: string;
  approver: string;
  at: string;
  comment?: string;
  usedAt?: string;
  passedStop?: string;
}

/** RetryOf is the earlier run a retried release's run continues. */
export interface RetryOf {
  runId: string;
  startedAt: string;
  status: string;
  stage: string | null;
  startFrom: string | null;
  reason: string;
  changes: string[];
}

/** Release is GET /releases/:id. */
export interface Release {
  releaseId: string;
  model: string;
  version: string;
  pipeline: string;
  pipelineRevision?: number | null;
  requestedBy: string;
  requester?: { user: string; verified: boolean; via?: string };
  status: string;
  currentStage: string | null;
  summary: string;
  stages: Stage[];
  ignoredMessages: { at: string; kind: string; channel: string; reason: string }[];
  compensations: { env: string; version: string; status: string; attempts: number; restoredTo: string | null; error: string | null }[];
  startedAt: string;
  updatedAt: string;
  endedAt: string | null;
  outcome: { status: string; reason: string } | null;
  traceId?: string;
  hotfix?: boolean;
  waitingFor?: LineWait | null;
  breakGlass?: BreakGlassApproval[];
  runId?: string;
  retryOf?: RetryOf;
}

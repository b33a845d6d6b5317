/**
 * Retrying a release that ended badly: which stages of the earlier run can be
 * carried over (their evidence kept, nothing run again) and where the new run
 * starts. Pure, so the client (to refuse a bad request before anything
 * starts) and the worker (which decides, from its own registry) plan the same
 * way.
 */
import type { ReleaseStatus } from './outcome';
import type { StageState } from './release';

/** RETRYABLE_STATUSES are the endings a release can be retried from. */
export const RETRYABLE_STATUSES: readonly ReleaseStatus[] = ['failed', 'rejected', 'approval_expired', 'cancelled'];

/** RetryRequest is what a retry start asks: the run it retries and, optionally, the stage to start from. */
export interface RetryRequest {
  runId: string;
  from?: string;
}

/** RetryOf links a run to the run it retries, as the worker found it in its registry. */
export interface RetryOf {
  runId: string;
  startedAt: string;
  status: ReleaseStatus;
  /** The stage the earlier run ended at. */
  stage: string | null;
  /** Where this run started, and why stages before it were kept. */
  startFrom: string | null;
  /** Why this run starts at startFrom, in words. */
  reason: string;
  /** What changed since that run, in words (empty when nothing did). */
  changes: string[];
}

/** CarriedOver marks a stage whose outcome was kept from an earlier run instead of run again. */
export interface CarriedOver {
  fromRunId: string;
  reason: string;
}

/** PreviousRun is what planning needs of the earlier run (its registry record). */
export interface PreviousRun {
  runId?: string;
  version: string;
  pipeline: string;
  pipelineHash: string;
  pipelineRevision?: number | null;
  status: ReleaseStatus;
  currentStage: string | null;
  stages: StageState[];
  startedAt: string;
  endedAt: string | null;
}

/** LiveNow is what is live in one environment now, as far as retry planning cares. */
export interface LiveNow {
  version: string | null;
  releaseId: string | null;
  health: 'ok' | 'failed';
}

/** RetryTarget is the release as it would run now: its version, pinned pipeline and live pointers. */
export interface RetryTarget {
  releaseId: string;
  version: string;
  pipelineHash: string;
  pipelineRevision?: number | null;
  /** The environments of the pipeline's stages, in order. */
  stages: string[];
  /** What is live in each stage's environment now (absent or null: nothing). */
  live: Record<string, LiveNow | null | undefined>;
}

/** RetryPlan is where a retry starts and which stages it keeps. */
export interface RetryPlan {
  retryOf: RetryOf;
  /** The stages carried over, a prefix of the pipeline, each with its kept state and why. */
  carried: Array<{ env: string; reason: string }>;
  /** Index of the first stage the new run runs (stages.length when every stage is kept). */
  startIndex: number;
  /** The first stage that needs running again, and why. */
  firstNeeded: { index: number; why: string };
}

/** RetryRefusal is a retry that may not happen, with the field at fault and how to fix it. */
export interface RetryRefusal {
  field: 'release-id' | 'from';
  reason: string;
}

/** retryableRefusal says why a release in `status` may not be retried, or null when it may. */
export function retryableRefusal(releaseId: string, status: ReleaseStatus): string | null {
  if (RETRYABLE_STATUSES.includes(status)) return null;
  const hint = status === 'succeeded' ? 'it succeeded; start another version instead' : status === 'rolled_back' || status === 'superseded' || status === 'errored' ? `start it again with \`slipway release start\`` : 'wait for it to end (see `slipway release status`)';
  return `${releaseId} is ${status}; only a release that ended ${RETRYABLE_STATUSES.join(', ')} can be retried: ${hint}`;
}

/** stageOutcomeRefusal says why a stage of an earlier run cannot be kept, or null when it passed whole. */
export function stageOutcomeRefusal(stage: StageState | undefined, version: string): string | null {
  if (!stage) return 'the earlier run has no such stage';
  if (stage.status !== 'succeeded' || stage.endedAt === null) return `it ended ${stage.status} in the earlier run${stage.error ? ` (${stage.error})` : ''}`;
  const failedGate = stage.gates.find((g) => !g.passed);
  if (failedGate) return `its gate ${failedGate.name} did not pass`;
  if (stage.quorum && !stage.quorum.met) return 'its approvals were not met';
  if (stage.deployedVersion !== version) return `it did not deploy ${version}`;
  return null;
}

/**
 * planRetry decides, from the earlier run's record and what holds now, which
 * stages are kept: the longest prefix of stages that passed whole (gates,
 * approvals, deploy, bake), with the same version and pipeline hash, whose
 * environment still runs the version this release put there. `from` may only
 * start earlier than that.
 */
export function planRetry(prev: PreviousRun, now: RetryTarget, from?: string): RetryPlan | RetryRefusal {
  const status = retryableRefusal(now.releaseId, prev.status);
  if (status) return { field: 'release-id', reason: status };
  const runId = prev.runId ?? '(unnamed run)';
  const changes: string[] = [];
  let firstNeeded: { index: number; why: string } | null = null;
  if (prev.version !== now.version) {
    changes.push(`the version changed: run ${runId} ran ${prev.version}, this run ${now.version}`);
    firstNeeded = { index: 0, why: changes[0]! };
  } else if (prev.pipelineHash !== now.pipelineHash) {
    const revisions = prev.pipelineRevision != null && now.pipelineRevision != null ? ` (revision ${prev.pipelineRevision} → ${now.pipelineRevision})` : '';
    changes.push(`pipeline ${prev.pipeline} changed since run ${runId}${revisions}: ${short(prev.pipelineHash)} → ${short(now.pipelineHash)}`);
    firstNeeded = { index: 0, why: `${changes[0]}; every stage runs again` };
  }
  const carried: Array<{ env: string; reason: string }> = [];
  for (let i = 0; firstNeeded === null && i < now.stages.length; i++) {
    const env = now.stages[i]!;
    const stage = prev.stages[i]?.env === env ? prev.stages[i] : undefined;
    const outcome = stageOutcomeRefusal(stage, now.version);
    if (outcome) {
      firstNeeded = { index: i, why: `${env} needs running: ${outcome}` };
      break;
    }
    const live = now.live[env];
    if (!live || live.version !== now.version || live.releaseId !== now.releaseId) {
      changes.push(liveChange(env, live, now, runId));
      firstNeeded = { index: i, why: `${env} needs running: ${changes[changes.length - 1]}` };
      break;
    }
    if (live.health === 'failed') {
      changes.push(`${now.version} in ${env} was marked failed since run ${runId}`);
      firstNeeded = { index: i, why: `${env} needs running: ${changes[changes.length - 1]}` };
      break;
    }
    carried.push({ env, reason: `passed in run ${runId} (${gist(stage!)}), and ${env} still runs ${now.version}` });
  }
  firstNeeded ??= { index: now.stages.length, why: 'every stage passed in the earlier run' };
  let startIndex = firstNeeded.index;
  if (from !== undefined) {
    const at = now.stages.indexOf(from);
    if (at < 0) return { field: 'from', reason: `no stage "${from}" in pipeline ${prev.pipeline}; its stages are ${now.stages.join(', ') || '(none)'}` };
    if (at > firstNeeded.index) {
      const needed = now.stages[firstNeeded.index];
      return { field: 'from', reason: `${from} comes after ${needed}, the first stage that must run again (${firstNeeded.why}); use --from ${needed} or an earlier stage, or leave --from out` };
    }
    startIndex = at;
  }
  const startFrom = now.stages[startIndex] ?? null;
  const reason = startIndex < firstNeeded.index ? `asked to start at ${startFrom} (the first stage that must run again is ${now.stages[firstNeeded.index] ?? 'none'})` : firstNeeded.why;
  return {
    retryOf: { runId, startedAt: prev.startedAt, status: prev.status, stage: prev.currentStage, startFrom, reason, changes },
    carried: carried.slice(0, startIndex),
    startIndex,
    firstNeeded,
  };
}

/** isRetryRefusal tells a refusal from a plan. */
export function isRetryRefusal(plan: RetryPlan | RetryRefusal): plan is RetryRefusal {
  return 'field' in plan;
}

// What happened to env's live pointer since the earlier run, in words.
function liveChange(env: string, live: LiveNow | null | undefined, now: RetryTarget, runId: string): string {
  if (!live?.version) return `${env} runs nothing now, not ${now.version}`;
  const by = live.releaseId === now.releaseId ? `the deploy of run ${runId} was undone` : live.releaseId ? `moved by ${live.releaseId}` : 'moved outside a release';
  if (live.version === now.version) return `${env} runs ${now.version} as ${by}, not as this release deployed it`;
  return `${env} now runs ${live.version} (${by}), not ${now.version}`;
}

function short(hash: string): string {
  return hash.slice(0, 12) || '(none)';
}

// What the stage did, in a few words, for the carried-over reason.
function gist(stage: StageState): string {
  const parts = [`${stage.gates.length} gate(s) passed`];
  if (stage.quorum) parts.push(`approved by ${stage.quorum.approvedBy.join(', ') || 'nobody needed'}`);
  parts.push(`deployed ${stage.deployedVersion}`);
  return parts.join(', ');
}

/**
 * ReleaseRun holds one release's mutable state (the `status` query's answer,
 * the snapshot revision, lock grants, a pending supersede) and the few
 * operations every step needs: publish a status, store a snapshot, stop when
 * rejected or superseded. The steps and the entry work through it.
 */
import { patched, setCurrentDetails, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { Pipeline, Stage } from '../../domain/pipeline';
import type { ReleaseStatus } from '../../domain/outcome';
import type { ReleaseInput, ReleasePolicy, ReleaseState, Requester, StageState } from '../../domain/release';
import { SA_STAGE, SA_STATUS } from '../../domain/search-attributes';
import type { EnvLockRef } from '../../locks/api';
import { retryingUntilDone } from './proxies';
import type { MessageContext } from './messages';
import { initialReleaseState, resolveRequester } from './state';

/**
 * LEASE_PATCH is the patch id of the change that brought registry leases (instead of
 * lock workflows), search attributes only for waiting and final statuses, and run-scoped deploy keys.
 */
export const LEASE_PATCH = 'env-lease-lock';

/**
 * SERVER_POLICY_PATCH: releases from this change on run their model's bound pipeline, loaded by the
 * worker, and trust an identity only when the API signed it. Releases recorded before keep their input's pipeline.
 */
export const SERVER_POLICY_PATCH = 'server-policy-signed-decisions';

/** Stop ends a release with a business outcome (not a technical error). */
export class Stop extends Error {
  constructor(
    readonly status: Extract<ReleaseStatus, 'failed' | 'rejected' | 'approval_expired' | 'superseded'>,
    readonly reason: string,
  ) {
    super(reason);
  }
}

/** HeldLock is a lock held or asked for: a registry lease, or a pre-lease lock workflow. */
export interface HeldLock {
  env: string;
  lease: boolean;
}

/** ReleaseRun is the state of one release execution and what every step does with it. */
export class ReleaseRun {
  readonly state: ReleaseState;
  pipeline: Pipeline;
  stages: Stage[];
  /** Server-policy release (SERVER_POLICY_PATCH): pipeline from the binding, identities only when signed. */
  readonly serverPolicy: boolean;
  /** Set once the policy is loaded: the keys that verify signed decisions and who may not approve. */
  verification: MessageContext['verification'];
  private revision = 0;
  private publishedStatus: ReleaseStatus = 'running'; // as the client starts it
  /** Lock ids granted to this release. */
  readonly grants = new Set<string>();
  /** Grant Signals received per lock id: a grant that came while one was being checked is checked too. */
  readonly grantSignals = new Map<string, number>();
  supersededBy: { env: string; by: string } | null = null;
  /** True while waiting (lock, freeze, approval): only then may a newer release supersede this one. */
  waitingPhase = false;
  /** Locks held or asked for, by lock id. */
  readonly heldLocks = new Map<string, HeldLock>();
  /** Set by the `recheck-line` Signal: ask checkLine again now. It decides nothing itself. */
  lineRecheck = false;

  constructor(readonly input: ReleaseInput) {
    this.serverPolicy = patched(SERVER_POLICY_PATCH);
    // Until the worker has loaded the bound pipeline, the release has no stages to show.
    this.pipeline = this.serverPolicy || !input.pipeline ? placeholderPipeline(input) : input.pipeline;
    this.stages = this.pipeline.stages;
    this.state = initialReleaseState({ ...input, pipeline: this.pipeline, pipelineHash: this.serverPolicy ? '' : (input.pipelineHash ?? '') }, new Date().toISOString());
    if (this.serverPolicy) this.state.summary = 'loading the pipeline bound to the model';
    // Names the run in its snapshots, so a retry can say which run it retries (no command: safe on replay).
    this.state.runId = workflowInfo().firstExecutionRunId;
  }

  /** adopt takes the policy the worker loaded: its pipeline becomes the stages; the requester is checked against its keys. */
  adopt(policy: Extract<ReleasePolicy, { ok: true }>): Requester {
    this.pipeline = policy.pipeline;
    this.stages = policy.pipeline.stages;
    const fresh = initialReleaseState({ ...this.input, pipeline: policy.pipeline, pipelineHash: policy.pipelineHash }, this.state.startedAt);
    const { requester, refused, hotfix } = resolveRequester(this.input, policy.trustedKeys, workflowInfo().runStartTime.toISOString());
    Object.assign(this.state, {
      pipeline: policy.pipeline.name,
      pipelineHash: policy.pipelineHash,
      pipelineRevision: policy.pipelineRevision,
      stages: fresh.stages,
      requestedBy: requester.user,
      requester,
    });
    if (refused) this.state.ignoredMessages.push({ at: this.state.startedAt, kind: 'start', channel: 'api', input: 'startDecision', reason: refused });
    if (hotfix) this.state.hotfix = true;
    else if (this.input.hotfix === true) {
      this.state.ignoredMessages.push({ at: this.state.startedAt, kind: 'start', channel: 'cli', input: 'hotfix', reason: 'hotfix claimed in the workflow input but not in a start decision the API signed: the release is not a hotfix (start it with POST /releases {"hotfix": true} or `slipway release start --hotfix` through the API)' });
    }
    this.verification = { keys: policy.trustedKeys, runStartedAt: workflowInfo().runStartTime.toISOString(), requesters: [requester.user, ...(requester.actor ? [requester.actor] : [])] };
    return requester;
  }

  /** messages is what the message handlers read and change. */
  get messages(): MessageContext {
    return {
      state: this.state,
      stages: this.stages,
      pipelineName: this.pipeline.name,
      requestedBy: this.state.requestedBy,
      ...(this.verification ? { verification: this.verification } : {}),
      ...(this.pipeline.breakGlass ? { breakGlassApprovers: this.pipeline.breakGlass.approvers } : {}),
    };
  }

  stageIndex(env: string): number {
    return this.stages.findIndex((s) => s.env === env);
  }

  touch(): void {
    this.state.updatedAt = new Date().toISOString();
  }

  setStatus(status: ReleaseStatus, summary: string): void {
    this.state.status = status;
    this.state.summary = summary;
    this.touch();
    // Search attributes show where a release waits and how it ended, not each passing step: every
    // upsert is a history event and a visibility write. A passing step still replaces a waiting
    // status, so "awaiting_approval" never outlives the approval. Releases recorded before this publish all.
    const passing = (s: ReleaseStatus) => s === 'running' || s === 'deploying';
    if (!passing(status) || !passing(this.publishedStatus) || !patched(LEASE_PATCH)) {
      upsertSearchAttributes([
        { key: SA_STATUS, value: status },
        { key: SA_STAGE, value: this.state.currentStage ?? '' },
      ]);
      this.publishedStatus = status;
    }
    setCurrentDetails(`**${status}** — ${summary}`);
  }

  /** record stores the snapshot, giving back in the same activity the leases the release is done with. */
  async record(giveBack: EnvLockRef[] = []): Promise<void> {
    this.revision += 1;
    await retryingUntilDone.recordRelease(this.state, this.revision, giveBack);
  }

  rejection(): StageState['rejectedBy'] {
    return this.state.stages.find((s) => s.rejectedBy !== null)?.rejectedBy ?? null;
  }

  /** checkStops throws Stop once the release was superseded or rejected. */
  checkStops(): void {
    if (this.supersededBy) throw new Stop('superseded', `superseded at ${this.supersededBy.env} by newer release ${this.supersededBy.by}`);
    const r = this.rejection();
    if (r) throw new Stop('rejected', `rejected by ${r.approver}: ${r.reason}`);
  }
}

function placeholderPipeline(input: ReleaseInput): Pipeline {
  return { name: input.pipelineName ?? input.pipeline?.name ?? '(loading)', onFailure: 'rollback', concurrency: 'supersede', stages: [] } as unknown as Pipeline;
}

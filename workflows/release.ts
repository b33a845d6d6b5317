/**
 * releaseWorkflow: one execution per release, walking the pinned pipeline
 * stage by stage — environment lock, freeze window, gates in parallel,
 * approvals (Signal from the Web UI, Update from CLI/API), deploy (direct or
 * canary), bake with health checks — and on failure, cancellation or
 * rejection running the compensation stack newest-first, non-cancellably.
 */
import {
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
  allHandlersFinished,
} from '@temporalio/workflow';
import type { SlipwayActivities } from '../activities';
import { canarySchedule } from '../domain/canary';
import { formatDuration, parseDuration } from '../domain/duration';
import { activeFreeze } from '../domain/freeze';
import type { Stage } from '../domain/pipeline';
import { decideApproval, initialQuorum, validateApprovalInput, type ApprovalChannel, type ApprovalPolicy } from '../domain/quorum';
import type { ReleaseStatus } from '../domain/outcome';
import { envQueueWorkflowId, giveBackSignal, lockGrantedSignal, lockWorkflowId, supersededSignal, type EnvLockRef } from '../locks/api';
import {
  SA_STAGE,
  deployOpKey,
  SA_STATUS,
  approveSignal,
  approveUpdate,
  rejectSignal,
  statusQuery,
  type ApproveUpdateResult,
  type Compensation,
  type ReleaseInput,
  type ReleaseState,
  type StageState,
} from './release.api';

/**
 * Patch id of the change that brought registry leases (instead of lock workflows), search
 * attributes only for waiting and final statuses, and run-scoped deploy keys.
 */
const LEASE_PATCH = 'env-lease-lock';

const registryActs = proxyActivities<SlipwayActivities>({
  startToCloseTimeout: '30 seconds',
  // Registry writes are idempotent: keep retrying through a database outage.
  retry: { initialInterval: '1 second', maximumInterval: '10 seconds', nonRetryableErrorTypes: ['InvalidInput', 'ModelVersionNotFound', 'VersionConflict'] },
});
const gateActs = proxyActivities<SlipwayActivities>({
  startToCloseTimeout: '10 minutes',
  retry: { initialInterval: '2 seconds', maximumAttempts: 5, nonRetryableErrorTypes: ['ModelVersionNotFound', 'InvalidInput'] },
});
const deployActs = proxyActivities<SlipwayActivities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 10, nonRetryableErrorTypes: ['ModelVersionNotFound', 'InvalidInput', 'UnknownTarget'] },
});
const undoActs = proxyActivities<SlipwayActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 20 },
});

/** Stop ends a release with a business outcome (not a technical error). */
class Stop extends Error {
  constructor(
    readonly status: Extract<ReleaseStatus, 'failed' | 'rejected' | 'approval_expired' | 'superseded'>,
    readonly reason: string,
  ) {
    super(reason);
  }
}

const MAX_IGNORED = 50;
const DEFAULT_TARGET = 'registry';
const DEFAULT_HEALTH_SOURCE = 'registry';

/** releaseWorkflow promotes one model version through its pinned pipeline and returns its final state. */
export async function releaseWorkflow(input: ReleaseInput): Promise<ReleaseState> {
  const startedAt = new Date().toISOString();
  const stages = input.pipeline.stages;
  const state: ReleaseState = {
    releaseId: input.releaseId,
    model: input.model,
    version: input.version,
    pipeline: input.pipeline.name,
    pipelineHash: input.pipelineHash,
    requestedBy: input.requestedBy,
    status: 'running',
    currentStage: null,
    summary: 'starting',
    stages: stages.map((s) => newStageState(s)),
    ignoredMessages: [],
    compensations: [],
    startedAt,
    updatedAt: startedAt,
    endedAt: null,
    outcome: null,
  };
  let revision = 0;
  let publishedStatus: ReleaseStatus = 'running'; // as the client starts it
  const grants = new Set<string>();
  let supersededBy: { env: string; by: string } | null = null;
  let waitingPhase = false; // true while waiting (lock, freeze, approval): only then may a newer release supersede us
  // Locks held or asked for, by lock id; `lease` ones are registry leases, the rest pre-lease lock workflows.
  const heldLocks = new Map<string, { env: string; lease: boolean }>();
  const stageIndex = (env: string) => stages.findIndex((s) => s.env === env);

  // --- messages -------------------------------------------------------------

  const ignore = (kind: 'approve' | 'reject', channel: ApprovalChannel, raw: unknown, reason: string) => {
    if (state.ignoredMessages.length >= MAX_IGNORED) state.ignoredMessages.shift();
    state.ignoredMessages.push({ at: new Date().toISOString(), kind, channel, input: preview(raw), reason });
    touch();
  };

  const applyApproval = (raw: unknown, channel: ApprovalChannel): ApproveUpdateResult => {
    const checked = validateApprovalInput(raw);
    if (!checked.ok) {
      ignore('approve', channel, raw, checked.error);
      return { outcome: 'refused', reason: checked.error, stage: '', quorum: null };
    }
    const { stage: env, approver, comment } = checked.value;
    const i = stageIndex(env);
    const stage = stages[i];
    const stageState = state.stages[i];
    if (!stage?.approval || !stageState?.quorum) {
      const reason = i === -1 ? `stage "${env}" is not in pipeline ${input.pipeline.name}` : `stage "${env}" needs no approval`;
      ignore('approve', channel, raw, reason);
      return { outcome: 'refused', reason, stage: env, quorum: null };
    }
    if (stageState.endedAt !== null || state.endedAt !== null) {
      const reason = `stage "${env}" has already ended (${stageState.status})`;
      ignore('approve', channel, raw, reason);
      return { outcome: 'refused', reason, stage: env, quorum: stageState.quorum };
    }
    const decision = decideApproval(
      policyOf(stage),
      stageState.quorum,
      { stage: env, approver, comment, channel, at: new Date().toISOString() },
      input.requestedBy,
    );
    stageState.quorum = decision.state;
    if (decision.outcome === 'refused') ignore('approve', channel, raw, decision.reason ?? 'refused');
    touch();
    return { outcome: decision.outcome, reason: decision.reason, stage: env, quorum: decision.state };
  };

  setHandler(statusQuery, () => state);
  setHandler(approveSignal, (raw: unknown) => void applyApproval(raw, 'ui'));
  setHandler(
    approveUpdate,
    (arg) => applyApproval({ stage: arg.stage, approver: arg.approver, ...(arg.comment === undefined ? {} : { comment: arg.comment }) }, arg.channel ?? 'api'),
    {
      // Malformed Updates are refused before they reach history; the caller sees why.
      validator: (arg) => {
        if (typeof arg !== 'object' || arg === null) throw new Error('approve expects {"stage": "...", "approver": "...", "comment": "..."}');
        const { channel, ...rest } = arg as unknown as Record<string, unknown>;
        if (channel !== undefined && channel !== 'api' && channel !== 'cli') throw new Error('channel must be "api" or "cli"');
        const checked = validateApprovalInput(rest);
        if (!checked.ok) throw new Error(checked.error);
      },
    },
  );
  setHandler(rejectSignal, (raw: unknown) => {
    const checked = validateApprovalInput(raw);
    if (!checked.ok) return ignore('reject', 'ui', raw, checked.error);
    const { stage: env, approver, comment } = checked.value;
    const i = stageIndex(env);
    const stage = stages[i];
    const stageState = state.stages[i];
    if (!stage?.approval || !stageState) return ignore('reject', 'ui', raw, `stage "${env}" has no approvers to reject it`);
    if (!stage.approval.approvers.includes(approver)) {
      return ignore('reject', 'ui', raw, `${approver} is not an approver for stage ${env}; approvers: ${stage.approval.approvers.join(', ')}`);
    }
    if (stageState.endedAt !== null) return ignore('reject', 'ui', raw, `stage "${env}" has already ended`);
    stageState.rejectedBy = { approver, reason: comment ?? '(no reason given)', at: new Date().toISOString() };
    touch();
  });
  setHandler(lockGrantedSignal, ({ lockId }) => void grants.add(lockId));
  setHandler(supersededSignal, (notice) => {
    if (waitingPhase && state.currentStage === notice.env) supersededBy = notice;
    else log.info('ignoring supersede request while not waiting', { notice, currentStage: state.currentStage });
  });

  // --- helpers ----------------------------------------------------------------

  function touch(): void {
    state.updatedAt = new Date().toISOString();
  }

  function setStatus(status: ReleaseStatus, summary: string): void {
    state.status = status;
    state.summary = summary;
    touch();
    // Search attributes show where a release waits and how it ended, not each passing step: every
    // upsert is a history event and a visibility write. A passing step still replaces a waiting
    // status, so "awaiting_approval" never outlives the approval. Releases recorded before this publish all.
    const passing = (s: ReleaseStatus) => s === 'running' || s === 'deploying';
    if (!passing(status) || !passing(publishedStatus) || !patched(LEASE_PATCH)) {
      upsertSearchAttributes([
        { key: SA_STATUS, value: status },
        { key: SA_STAGE, value: state.currentStage ?? '' },
      ]);
      publishedStatus = status;
    }
    setCurrentDetails(`**${status}** — ${summary}`);
  }

  /** record stores the snapshot, giving back in the same activity the leases the release is done with. */
  async function record(giveBack: EnvLockRef[] = []): Promise<void> {
    revision += 1;
    await registryActs.recordRelease(state, revision, giveBack);
  }

  const rejection = (): StageState['rejectedBy'] => state.stages.find((s) => s.rejectedBy !== null)?.rejectedBy ?? null;

  function checkStops(): void {
    if (supersededBy) throw new Stop('superseded', `superseded at ${supersededBy.env} by newer release ${supersededBy.by}`);
    const r = rejection();
    if (r) throw new Stop('rejected', `rejected by ${r.approver}: ${r.reason}`);
  }

  async function acquireLock(stage: Stage, stageState: StageState): Promise<void> {
    stageState.status = 'waiting_for_lock';
    const waiting = () => setStatus('waiting_for_lock', `waiting for the ${stage.env} lock of ${input.model} (another promotion is in progress)`);
    const request = { model: input.model, env: stage.env, holderId: workflowInfo().workflowId, mode: input.pipeline.concurrency, priority: 'normal' as const };
    let lockId: string;
    // Releases recorded before leases keep the lock workflow they started with.
    if (patched(LEASE_PATCH)) {
      waitingPhase = true;
      lockId = envQueueWorkflowId(input.model, stage.env);
      heldLocks.set(lockId, { env: stage.env, lease: true }); // before asking: a lease taken by a failed attempt is still given back
      const { granted } = await registryActs.acquireEnvLock(request);
      // Published (search attributes) only when it really waits: a free lease is the common case.
      if (granted) grants.add(lockId);
      else waiting();
    } else {
      waiting();
      waitingPhase = true;
      lockId = lockWorkflowId(input.model, stage.env);
      await registryActs.requestEnvLock(request);
      heldLocks.set(lockId, { env: stage.env, lease: false }); // from here on we must release it, granted or queued
    }
    await condition(() => grants.has(lockId) || supersededBy !== null || rejection() !== null);
    checkStops();
  }

  /** giveBackLock gives a pre-lease lock back by signal; a lease comes back as a reference for the next record() to give back. */
  async function giveBackLock(lockId: string): Promise<EnvLockRef[]> {
    const held = heldLocks.get(lockId);
    grants.delete(lockId);
    // A lease stays listed until the record that gives it back is stored: if that record is cut
    // short (cancellation), the final record gives it back again (giving back twice is harmless).
    if (held?.lease) return [{ model: input.model, env: held.env, holderId: workflowInfo().workflowId }];
    heldLocks.delete(lockId);
    try {
      await getExternalWorkflowHandle(lockId).signal(giveBackSignal, { holderId: workflowInfo().workflowId });
    } catch (err) {
      log.warn('could not give back lock (lock workflow gone)', { lockId, error: String(err) });
    }
    return [];
  }

  const currentLockId = (env: string) => [...heldLocks.entries()].find(([, held]) => held.env === env)?.[0] ?? lockWorkflowId(input.model, env);

  async function waitOutFreeze(stage: Stage, stageState: StageState): Promise<void> {
    for (;;) {
      const freeze = activeFreeze(stage.freeze ?? [], new Date());
      if (!freeze.frozen) return;
      stageState.status = 'frozen';
      setStatus('frozen', `${stage.env} is frozen until ${freeze.until.toISOString()}: ${freeze.reason}`);
      await record();
      await condition(() => supersededBy !== null || rejection() !== null, Math.max(1000, freeze.until.getTime() - Date.now()));
      checkStops();
    }
  }

  async function runGates(stage: Stage, stageState: StageState): Promise<void> {
    const gates = stage.gates ?? [];
    if (gates.length === 0) return;
    stageState.status = 'gating';
    setStatus('running', `running ${gates.length} gate(s) for ${stage.env}`);
    stageState.gates = await Promise.all(
      gates.map((gate) =>
        gateActs.runGate({ releaseId: input.releaseId, env: stage.env, model: input.model, version: input.version, gate }),
      ),
    );
    touch();
    const failed = stageState.gates.filter((g) => !g.passed);
    if (failed.length > 0) {
      const why = failed
        .map((g) => `${g.name}: ${g.error ?? g.checks.filter((c) => !c.passed).map((c) => c.reason).join('; ')}`)
        .join(' | ');
      throw new Stop('failed', `gate failed at ${stage.env} — ${why}`);
    }
  }

  async function collectApprovals(stage: Stage, stageState: StageState): Promise<void> {
    if (!stage.approval || !stageState.quorum) return;
    const timeoutMs = parseDuration(stage.approval.timeout);
    stageState.approvalDeadline = new Date(Date.now() + timeoutMs).toISOString();
    stageState.awaitingApprovalSince = new Date().toISOString();
    stageState.status = 'awaiting_approval';
    waitingPhase = true;
    const waitingSummary = () =>
      `awaiting approval for ${stage.env}: ${stageState.quorum!.approvedBy.length} of ${stage.approval!.required} from ${stage.approval!.approvers.join(', ')} (expires ${stageState.approvalDeadline})`;
    setStatus('awaiting_approval', waitingSummary());
    await record();
    const decided = await condition(
      () => stageState.quorum!.met || rejection() !== null || supersededBy !== null,
      timeoutMs,
    );
    checkStops();
    if (!decided) throw new Stop('approval_expired', `approval for ${stage.env} expired after ${formatDuration(timeoutMs)} with ${stageState.quorum.approvedBy.length} of ${stage.approval.required}`);
    stageState.approvedAt = new Date().toISOString();
    waitingPhase = false;
  }

  async function deploy(stage: Stage, stageState: StageState): Promise<void> {
    const target = stage.target ?? DEFAULT_TARGET;
    // Same patch as leases (they shipped together): releases recorded before keep their keys.
    const opKey = deployOpKey(input.releaseId, patched(LEASE_PATCH) ? workflowInfo().firstExecutionRunId : null, stage.env);
    const base = { opKey, releaseId: input.releaseId, model: input.model, env: stage.env, version: input.version, by: `release:${input.releaseId}`, target };
    stageState.status = 'deploying';
    const push = (previousVersion: string | null) => {
      if (!state.compensations.some((c) => c.deployOpKey === opKey)) {
        state.compensations.push({ env: stage.env, kind: 'restore_live', deployOpKey: opKey, version: input.version, status: 'pending', attempts: 0, restoredTo: null, error: null });
      }
      stageState.previousVersion = previousVersion;
      stageState.deployedVersion = input.version;
    };
    if ('canary' in stage.strategy) {
      const canary = stage.strategy.canary;
      for (const step of canarySchedule(canary.steps, parseDuration(canary.interval))) {
        setStatus('deploying', `canary ${stage.env}: ${step.weight}% of traffic on ${input.version}`);
        const { previousVersion } = await deployActs.deploy({ ...base, weight: step.weight });
        if (stageState.previousVersion === null) push(previousVersion);
        stageState.canaryWeight = step.weight;
        touch();
        if (step.weight < 100) {
          await sleep(step.analyseAfterMs);
          const verdict = await registryActs.checkHealth({
            source: stage.healthSource ?? DEFAULT_HEALTH_SOURCE,
            model: input.model,
            env: stage.env,
            version: input.version,
            since: stageState.startedAt ?? new Date().toISOString(),
            maxErrorRate: canary.analysis?.maxErrorRate,
            maxLatencyP99Ms: canary.analysis?.maxLatencyP99Ms,
            maxPredictionDrift: canary.analysis?.maxPredictionDrift,
          });
          stageState.healthChecks.push({ at: new Date().toISOString(), healthy: verdict.healthy, detail: `canary ${step.weight}%: ${verdict.detail}` });
          if (!verdict.healthy) throw new Stop('failed', `canary analysis failed at ${step.weight}% in ${stage.env}: ${verdict.detail}`);
        }
      }
    } else {
      setStatus('deploying', `deploying ${input.version} to ${stage.env}`);
      const { previousVersion } = await deployActs.deploy(base);
      push(previousVersion);
    }
    touch();
  }

  async function bake(stage: Stage, stageState: StageState): Promise<void> {
    if (!stage.bake) return;
    const bakeMs = parseDuration(stage.bake);
    if (bakeMs <= 0) return;
    const intervalMs = parseDuration(stage.healthChecks?.interval ?? '10s');
    const deployedAt = new Date().toISOString();
    const endsAt = Date.now() + bakeMs;
    stageState.status = 'baking';
    setStatus('baking', `baking ${input.version} in ${stage.env} until ${new Date(endsAt).toISOString()}`);
    await record();
    // At least one check, even if recording the snapshot took longer than the bake (e.g. a worker crash).
    do {
      const wait = Math.min(intervalMs, endsAt - Date.now());
      if (wait > 0) await sleep(wait);
      const verdict = await registryActs.checkHealth({
        source: stage.healthSource ?? DEFAULT_HEALTH_SOURCE,
        model: input.model,
        env: stage.env,
        version: input.version,
        since: deployedAt,
        maxErrorRate: stage.healthChecks?.maxErrorRate,
        maxLatencyP99Ms: stage.healthChecks?.maxLatencyP99Ms,
        maxPredictionDrift: stage.healthChecks?.maxPredictionDrift,
      });
      stageState.healthChecks.push({ at: new Date().toISOString(), healthy: verdict.healthy, detail: verdict.detail });
      touch();
      if (!verdict.healthy) throw new Stop('failed', `bake health check failed in ${stage.env}: ${verdict.detail}`);
    } while (Date.now() < endsAt);
  }

  async function compensate(reason: string): Promise<boolean> {
    const pending = state.compensations.filter((c) => c.status !== 'done').reverse();
    if (pending.length === 0) return false;
    setStatus('rolling_back', `rolling back: ${reason}`);
    let undone = false;
    for (const comp of pending) {
      await runCompensation(comp, reason);
      if (comp.status === 'done') undone = true;
    }
    return undone;
  }

  async function runCompensation(comp: Compensation, reason: string): Promise<void> {
    const i = stageIndex(comp.env);
    const stage = stages[i]!;
    comp.attempts += 1;
    try {
      const result = await undoActs.undoDeploy({
        opKey: comp.deployOpKey,
        releaseId: input.releaseId,
        model: input.model,
        env: comp.env,
        failedVersion: comp.version,
        by: `release:${input.releaseId}`,
        reason,
        target: stage.target ?? DEFAULT_TARGET,
      });
      comp.status = 'done';
      comp.restoredTo = result.restoredTo;
      comp.error = result.skipped ?? null;
      const stageState = state.stages[i]!;
      if (!result.skipped) stageState.status = 'rolled_back';
    } catch (err) {
      // Retried by the activity's policy; what is left is reported, never swallowed.
      comp.status = 'failed';
      comp.error = err instanceof Error ? err.message : String(err);
      log.error('compensation failed after retries', { env: comp.env, error: comp.error });
    }
    touch();
  }

  // --- the stage loop -------------------------------------------------------

  let finalStatus: ReleaseStatus = 'succeeded';
  let finalReason = `${input.model}@${input.version} promoted through ${stages.map((s) => s.env).join(' → ')}`;
  try {
    await record();
    for (let i = 0; i < stages.length; i++) {
      const stage = stages[i]!;
      const stageState = state.stages[i]!;
      state.currentStage = stage.env;
      stageState.startedAt = new Date().toISOString();
      checkStops();
      await acquireLock(stage, stageState);
      await waitOutFreeze(stage, stageState);
      waitingPhase = false;
      await runGates(stage, stageState);
      await collectApprovals(stage, stageState);
      await deploy(stage, stageState);
      await bake(stage, stageState);
      stageState.status = 'succeeded';
      stageState.endedAt = new Date().toISOString();
      const lockId = currentLockId(stage.env);
      // The last stage's lease and snapshot go with the final record just below: one activity, not two.
      if (i < stages.length - 1 || !heldLocks.get(lockId)?.lease) {
        await record(await giveBackLock(lockId));
        heldLocks.delete(lockId);
      }
    }
  } catch (err) {
    const failedStage = state.stages.find((s) => s.env === state.currentStage);
    if (err instanceof Stop) {
      finalStatus = err.status;
      finalReason = err.reason;
    } else if (isCancellation(err)) {
      finalStatus = 'cancelled';
      finalReason = 'cancelled from outside';
    } else {
      finalStatus = 'failed';
      finalReason = `error at ${state.currentStage ?? 'start'}: ${err instanceof Error ? err.message : String(err)}`;
      if (!(err instanceof ApplicationFailure) && !(err instanceof Error && err.name === 'ActivityFailure')) {
        log.error('release failed with an unexpected error', { error: String(err) });
      }
    }
    if (failedStage && failedStage.endedAt === null) {
      failedStage.status = 'failed';
      failedStage.error = finalReason;
      failedStage.endedAt = new Date().toISOString();
    }
    // Superseded releases leave their deploys for the newer release to replace.
    const shouldUndo = finalStatus !== 'superseded' && (input.pipeline.onFailure === 'rollback' || finalStatus === 'cancelled');
    if (shouldUndo) {
      await CancellationScope.nonCancellable(async () => {
        const undone = await compensate(finalReason);
        if (undone && finalStatus === 'failed') finalStatus = 'rolled_back';
      });
    }
  } finally {
    await CancellationScope.nonCancellable(async () => {
      const giveBack: EnvLockRef[] = [];
      for (const lockId of [...heldLocks.keys()]) giveBack.push(...(await giveBackLock(lockId)));
      state.endedAt = new Date().toISOString();
      state.outcome = { status: finalStatus, reason: finalReason };
      setStatus(finalStatus, finalReason);
      await record(giveBack);
    });
  }
  await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
  // A cancelled release ends as Canceled in Temporal too, so the Web UI tells the truth; its state is in the registry.
  if (finalStatus === 'cancelled') throw new CancelledFailure(finalReason);
  return state;
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

function policyOf(stage: Stage): ApprovalPolicy {
  const a = stage.approval!;
  return { required: a.required, approvers: a.approvers, selfApproval: a.selfApproval, channels: a.channels };
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

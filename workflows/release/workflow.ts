/**
 * releaseWorkflow: one execution per release, walking the pinned pipeline
 * stage by stage (steps.ts) and on failure, cancellation or rejection running
 * the compensation stack newest-first, non-cancellably (compensation.ts).
 * This file is the entry: message handlers, the stage loop and the ending.
 */
import { ApplicationFailure, CancellationScope, CancelledFailure, allHandlersFinished, condition, isCancellation, log, patched, setHandler } from '@temporalio/workflow';
import type { ReleaseStatus } from '../../domain/outcome';
import type { ReleaseInput, ReleaseState } from '../../domain/release';
import { lockGrantedSignal, supersededSignal, type EnvLockRef } from '../../locks/api';
import { approveSignal, approveUpdate, recheckLineSignal, rejectSignal, statusQuery } from './api';
import { compensate } from './compensation';
import { applyApproval, applyRejection, validateApproveUpdate } from './messages';
import { ReleaseRun, Stop } from './run';
import { retryingUntilDone } from './proxies';
import { RETRY_PATCH, carryOver } from './retry';
import { acquireLock, bake, collectApprovals, currentLockId, deploy, giveBackLock, runGates, waitOutFreeze } from './steps';

/**
 * CLAIMED_UPDATE_PATCH: in releases started before server-side policy, an Update without a channel
 * counted as `api`; from this patch on it counts as the claim it is (`cli`), without changing how
 * updates already in their history replay.
 */
const CLAIMED_UPDATE_PATCH = 'unsigned-update-is-cli';

/** releaseWorkflow promotes one model version through its pinned pipeline and returns its final state. */
export async function releaseWorkflow(input: ReleaseInput): Promise<ReleaseState> {
  const run = new ReleaseRun(input);
  const { state } = run;
  const now = () => new Date().toISOString();

  setHandler(statusQuery, () => state);
  // Server-policy releases take approvals only once they know their pipeline; Temporal holds messages until then.
  const handleMessages = () => {
    setHandler(approveSignal, (raw: unknown) => void applyApproval(run.messages, raw, 'ui', now()));
    setHandler(
      approveUpdate,
      (arg) => {
        if ('decision' in arg) return applyApproval(run.messages, arg, 'cli', now());
        // A claimed "api" reaches applyApproval whole, so it is refused and recorded, not counted.
        const claim = { stage: arg.stage, approver: arg.approver, ...(arg.comment === undefined ? {} : { comment: arg.comment }), ...(run.serverPolicy && arg.channel === 'api' ? { channel: arg.channel } : {}) };
        return applyApproval(run.messages, claim, run.serverPolicy || (arg.channel === undefined && patched(CLAIMED_UPDATE_PATCH)) ? 'cli' : (arg.channel ?? 'api'), now());
      },
      { validator: (arg) => validateApproveUpdate(arg, run.serverPolicy) },
    );
    setHandler(rejectSignal, (raw: unknown) => applyRejection(run.messages, raw, now()));
  };
  if (!run.serverPolicy) handleMessages();
  setHandler(lockGrantedSignal, ({ lockId }) => {
    run.grants.add(lockId);
    run.grantSignals.set(lockId, (run.grantSignals.get(lockId) ?? 0) + 1);
  });
  setHandler(recheckLineSignal, () => void (run.lineRecheck = true)); // only a wake-up: checkLine decides (line.ts)
  setHandler(supersededSignal, (notice) => {
    if (run.waitingPhase && state.currentStage === notice.env) run.supersededBy = notice;
    else log.info('ignoring supersede request while not waiting', { notice, currentStage: state.currentStage });
  });

  let finalStatus: ReleaseStatus = 'succeeded';
  let finalReason = '';
  try {
    if (run.serverPolicy) {
      try {
        const policy = await retryingUntilDone.loadReleasePolicy({ releaseId: input.releaseId, model: input.model, version: input.version });
        if (!policy.ok) throw new Stop('failed', policy.reason);
        run.adopt(policy);
      } finally {
        handleMessages();
      }
    }
    const { stages } = run;
    // A retry asks the worker what it keeps; the marker goes into history only for retries.
    const firstStage = run.serverPolicy && input.retry !== undefined && patched(RETRY_PATCH) ? await carryOver(run) : 0;
    await run.record();
    for (let i = firstStage; i < stages.length; i++) {
      const stage = stages[i]!;
      const stageState = state.stages[i]!;
      state.currentStage = stage.env;
      stageState.startedAt = now();
      run.checkStops();
      await acquireLock(run, stage, stageState);
      await waitOutFreeze(run, stage, stageState);
      run.waitingPhase = false;
      await runGates(run, stage, stageState);
      await collectApprovals(run, stage, stageState);
      await deploy(run, stage, stageState);
      await bake(run, stage, stageState);
      stageState.status = 'succeeded';
      stageState.endedAt = now();
      const lockId = currentLockId(run, stage.env);
      // The last stage's lease and snapshot go with the final record just below: one activity, not two.
      if (i < stages.length - 1 || !run.heldLocks.get(lockId)?.lease) {
        await run.record(await giveBackLock(run, lockId));
        run.heldLocks.delete(lockId);
      }
    }
    finalReason = `${input.model}@${input.version} promoted through ${stages.map((s) => s.env).join(' → ')}`;
  } catch (err) {
    const failedStage = state.stages.find((s) => s.env === state.currentStage);
    if (err instanceof Stop) {
      finalStatus = err.status;
      finalReason = err.reason;
    } else if (isCancellation(err)) {
      finalStatus = 'cancelled';
      finalReason = 'cancelled from outside';
    } else {
      // A technical failure (an activity out of retries, a bug) is kept apart from a business outcome.
      finalStatus = 'errored';
      finalReason = `error at ${state.currentStage ?? 'start'}: ${err instanceof Error ? err.message : String(err)}`;
      if (!(err instanceof ApplicationFailure) && !(err instanceof Error && err.name === 'ActivityFailure')) {
        log.error('release failed with an unexpected error', { error: String(err) });
      }
    }
    if (failedStage && failedStage.endedAt === null) {
      failedStage.status = 'failed';
      failedStage.error = finalReason;
      failedStage.endedAt = now();
    }
    // Superseded releases leave their deploys for the newer release to replace.
    const shouldUndo = finalStatus !== 'superseded' && (run.pipeline.onFailure === 'rollback' || finalStatus === 'cancelled');
    if (shouldUndo) {
      await CancellationScope.nonCancellable(async () => {
        const undone = await compensate(run, finalReason);
        if (undone && finalStatus === 'failed') finalStatus = 'rolled_back';
      });
    }
  } finally {
    await CancellationScope.nonCancellable(async () => {
      const giveBack: EnvLockRef[] = [];
      for (const lockId of [...run.heldLocks.keys()]) giveBack.push(...(await giveBackLock(run, lockId)));
      state.endedAt = now();
      state.outcome = { status: finalStatus, reason: finalReason };
      run.setStatus(finalStatus, finalReason);
      await run.record(giveBack);
    });
  }
  await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
  // A cancelled release ends as Canceled in Temporal too, so the Web UI tells the truth; its state is in the registry.
  if (finalStatus === 'cancelled') throw new CancelledFailure(finalReason);
  return state;
}

/**
 * Compensation: the deploys a release made, undone newest-first when it fails,
 * is cancelled or rejected. The entry runs this in a non-cancellable scope; an
 * undo that still fails after its retries is reported in the state, never
 * swallowed.
 */
import { log } from '@temporalio/workflow';
import type { Compensation } from '../../domain/release';
import { retrying20Times } from './proxies';
import type { ReleaseRun } from './run';
import { DEFAULT_TARGET } from '../../domain/default-target';

/** compensate runs every pending undo newest-first; true when at least one restored something. */
export async function compensate(run: ReleaseRun, reason: string): Promise<boolean> {
  const pending = run.state.compensations.filter((c) => c.status !== 'done').reverse();
  if (pending.length === 0) return false;
  run.setStatus('rolling_back', `rolling back: ${reason}`);
  let undone = false;
  for (const comp of pending) {
    await runCompensation(run, comp, reason);
    if (comp.status === 'done') undone = true;
  }
  return undone;
}

async function runCompensation(run: ReleaseRun, comp: Compensation, reason: string): Promise<void> {
  const { input } = run;
  const i = run.stageIndex(comp.env);
  const stage = run.stages[i]!;
  comp.attempts += 1;
  try {
    const result = await retrying20Times.undoDeploy({
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
    if (!result.skipped) run.state.stages[i]!.status = 'rolled_back';
  } catch (err) {
    // Retried by the activity's policy; what is left is reported, never swallowed.
    comp.status = 'failed';
    comp.error = err instanceof Error ? err.message : String(err);
    log.error('compensation failed after retries', { env: comp.env, error: comp.error });
  }
  run.touch();
}

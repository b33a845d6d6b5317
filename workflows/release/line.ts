/**
 * Stop the line and quarantine, as a release meets them: right before each
 * deploy or canary step the release asks the checkLine activity (the worker
 * reads the registry; no message decides this) whether its environment is
 * stopped or its version quarantined. Stopped, it waits on a durable timer,
 * asking again each recheck interval or when the `recheck-line` Signal (which
 * carries nothing) wakes it; quarantined, it stops and compensates. A hotfix
 * (by the API's signed start decision) passes a stop only with a signed
 * break-glass approval for the stage (messages.ts counts those).
 */
import { condition, patched, proxyActivities } from '@temporalio/workflow';
import type { SlipwayActivities } from '../../activities';
import { lineStopSummary, quarantineReason, type LineCheck } from '../../domain/line-controls';
import type { Stage } from '../../domain/pipeline';
import type { StageState } from '../../domain/release';
import { Stop, type ReleaseRun } from './run';

/** STOP_LINE_PATCH: releases from this change on check the line (stops, quarantine) before each deploy and when asked to. */
export const STOP_LINE_PATCH = 'stop-the-line';

const { checkLine } = proxyActivities<Pick<SlipwayActivities, 'checkLine'>>({
  startToCloseTimeout: '30 seconds',
  // A registry read: asked again through a database outage, as the release's other registry reads are.
  retry: { initialInterval: '1 second', maximumInterval: '10 seconds' },
});

async function check(run: ReleaseRun, env: string): Promise<LineCheck> {
  const result = await checkLine({ releaseId: run.input.releaseId, model: run.input.model, version: run.input.version, env });
  if (result.quarantine) throw new Stop('failed', quarantineReason(result.quarantine));
  return result;
}

/**
 * holdLineBeforeDeploy waits while the line is stopped for the stage's environment (a hotfix with a break-glass
 * approval for the stage passes), and stops the release when its version is quarantined.
 */
export async function holdLineBeforeDeploy(run: ReleaseRun, stage: Stage, stageState: StageState): Promise<void> {
  if (!patched(STOP_LINE_PATCH)) return;
  const { state } = run;
  for (;;) {
    run.lineRecheck = false;
    const { stop, recheckMs } = await check(run, stage.env);
    if (stop === null) break;
    const glass = state.hotfix === true ? state.breakGlass?.find((b) => b.stage === stage.env) : undefined;
    if (glass) {
      // Recorded on the approval, so the audit chain says which stop a hotfix passed and on whose word.
      glass.usedAt ??= new Date().toISOString();
      glass.passedStop ??= `${stop.scope} (by ${stop.by} since ${stop.since}: ${stop.reason})`;
      break;
    }
    state.waitingFor = { kind: 'line-stop', env: stage.env, ...stop };
    stageState.status = 'line_stopped';
    run.setStatus('line_stopped', lineStopSummary(stage.env, stop));
    await run.record();
    await condition(() => run.lineRecheck || run.rejection() !== null || run.supersededBy !== null, recheckMs);
    run.checkStops();
  }
  if (state.waitingFor) {
    state.waitingFor = null;
    run.touch();
  }
  stageState.status = 'deploying';
}

/**
 * waitUnlessQuarantined is `condition(done, timeoutMs)` that also, when the `recheck-line` Signal arrives, asks
 * checkLine and stops the release if its version was quarantined meanwhile. Without that Signal it schedules
 * exactly what the plain condition did, so releases recorded before replay unchanged.
 */
export async function waitUnlessQuarantined(run: ReleaseRun, env: string, done: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  // The flag is not cleared here: a Signal that came while the stage was recording its status still counts.
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) return done();
    const decided = await condition(() => done() || run.lineRecheck, left);
    if (!decided || done()) return decided;
    run.lineRecheck = false;
    if (patched(STOP_LINE_PATCH)) await check(run, env);
  }
}

/** recheckIfAsked asks checkLine once when the `recheck-line` Signal came during a step that does not wait on it (a bake). */
export async function recheckIfAsked(run: ReleaseRun, env: string): Promise<void> {
  if (!run.lineRecheck || !patched(STOP_LINE_PATCH)) return;
  run.lineRecheck = false;
  await check(run, env);
}

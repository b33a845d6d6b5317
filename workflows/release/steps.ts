/**
 * The steps of one stage, in the order the entry runs them: take the
 * environment lock, wait out a freeze, run the gates, collect approvals,
 * deploy (direct or canary with analysis; each deploy waits while the line
 * is stopped (line.ts), waits out a freeze again and registers its undo
 * first), bake. Each step throws Stop for a
 * business outcome (gate failed, rejected, expired, superseded).
 */
import { CancellationScope, condition, getExternalWorkflowHandle, log, patched, proxyActivities, sleep, workflowInfo } from '@temporalio/workflow';
import type { BakeOutcome, BakeWatchRequest, SlipwayActivities } from '../../activities';
import { FailureType } from '../../domain/failures';
import { canarySchedule } from '../../domain/canary';
import { formatDuration, parseDuration } from '../../domain/duration';
import { activeFreeze } from '../../domain/freeze';
import { evidenceRule, type EvidenceRule } from '../../domain/health-evidence';
import { DEFAULT_TARGET } from '../../domain/default-target';
import type { Stage } from '../../domain/pipeline';
import type { HealthQuery, HealthVerdict } from '../../health/types';
import type { StageState } from '../../domain/release';
import { envQueueWorkflowId, lockWorkflowId, giveBackSignal, type EnvLockRef } from '../../locks/api';
import { retrying10TimesHeartbeating, retrying5Times, retryingUntilDone } from './proxies';
import { deployOpKey } from './api';
import { holdLineBeforeDeploy, recheckIfAsked, waitUnlessQuarantined } from './line';
import { LEASE_PATCH, Stop, type ReleaseRun } from './run';
import { recordIgnored } from './messages';
import { onlyVerifiedApprovals } from './state';

/** FREEZE_AT_DEPLOY_PATCH: releases from this change on wait out a freeze that opens after the stage started, before each deploy or canary step. */
export const FREEZE_AT_DEPLOY_PATCH = 'freeze-at-deploy';

/**
 * UNDO_BEFORE_DEPLOY_PATCH: releases from this change on register a deploy's undo before the deploy activity, so a
 * deploy the target applied but whose activity then failed is still undone. Releases recorded before register it after.
 */
export const UNDO_BEFORE_DEPLOY_PATCH = 'undo-before-deploy';

/**
 * BAKE_ACTIVITY_PATCH: releases from this change on bake in one heartbeating bakeWatch activity (a constant
 * number of history events at any bake length); releases recorded before keep the timer-and-check loop.
 */
export const BAKE_ACTIVITY_PATCH = 'bake-activity';

/**
 * VERIFIED_LOCK_GRANT_PATCH: releases from this change on confirm, with the confirmEnvLease activity, that the
 * registry lease is theirs before trusting a lock grant Signal (anyone with Temporal access can send one); a grant
 * without the lease is ignored, recorded and audited, and the release keeps waiting. Asked only when a grant
 * Signal is what ended the wait, so releases that took a free lease get no marker.
 */
export const VERIFIED_LOCK_GRANT_PATCH = 'verified-lock-grant';

const DEFAULT_HEALTH_SOURCE = 'registry';
/** HEALTH_MIN_REPORTS_PATCH guards `onMissing: wait`: the extra checks after a bake or analysis short of reports. */
export const HEALTH_MIN_REPORTS_PATCH = 'health-min-reports';

/**
 * waitForEvidence keeps checking, every intervalMs up to the rule's limit, while the verdict
 * is short of reports; it returns the first verdict that is not, or the last one at the limit.
 */
async function waitForEvidence(run: ReleaseRun, stageState: StageState, query: HealthQuery & { source: string }, verdict: HealthVerdict, rule: EvidenceRule, intervalMs: number, label: string): Promise<HealthVerdict> {
  const deadline = Date.now() + rule.waitLimitMs;
  run.setStatus(run.state.status, `${label}: waiting until ${new Date(deadline).toISOString()} for at least ${rule.minReports} health report(s) (onMissing: wait)`);
  await run.record();
  let last = verdict;
  while (!last.healthy && last.missing === true) {
    const wait = Math.min(intervalMs, deadline - Date.now());
    if (wait <= 0) break;
    await sleep(wait);
    last = await retryingUntilDone.checkHealth(query);
    stageState.healthChecks.push({ at: new Date().toISOString(), healthy: last.healthy, detail: `${label} (waiting for reports): ${last.detail}` });
    run.touch();
  }
  return last;
}

/** acquireLock waits until this release holds the stage's (model, env) lock, or stops if superseded or rejected meanwhile. */
export async function acquireLock(run: ReleaseRun, stage: Stage, stageState: StageState): Promise<void> {
  const { input } = run;
  stageState.status = 'waiting_for_lock';
  const waiting = () => run.setStatus('waiting_for_lock', `waiting for the ${stage.env} lock of ${input.model} (another promotion is in progress)`);
  const request = { model: input.model, env: stage.env, holderId: workflowInfo().workflowId, mode: run.pipeline.concurrency, priority: 'normal' as const };
  let lockId: string;
  // Releases recorded before leases keep the lock workflow they started with.
  if (patched(LEASE_PATCH)) {
    run.waitingPhase = true;
    lockId = envQueueWorkflowId(input.model, stage.env);
    run.heldLocks.set(lockId, { env: stage.env, lease: true }); // before asking: a lease taken by a failed attempt is still given back
    const { granted } = await retryingUntilDone.acquireEnvLock(request);
    // Published (search attributes) only when it really waits: a free lease is the common case.
    if (granted) run.grants.add(lockId);
    else {
      waiting();
      await waitForConfirmedGrant(run, lockId, { model: input.model, env: stage.env, holderId: request.holderId });
      return;
    }
  } else {
    waiting();
    run.waitingPhase = true;
    lockId = lockWorkflowId(input.model, stage.env);
    await retryingUntilDone.requestEnvLock(request);
    run.heldLocks.set(lockId, { env: stage.env, lease: false }); // from here on it must be given back, granted or queued
  }
  await condition(() => run.grants.has(lockId) || run.supersededBy !== null || run.rejection() !== null);
  run.checkStops();
}

/** waitForConfirmedGrant waits for a grant Signal and, behind VERIFIED_LOCK_GRANT_PATCH, trusts it only once the registry lease is this release's. */
async function waitForConfirmedGrant(run: ReleaseRun, lockId: string, lease: EnvLockRef): Promise<void> {
  for (;;) {
    await condition(() => run.grants.has(lockId) || run.supersededBy !== null || run.rejection() !== null);
    run.checkStops();
    if (!patched(VERIFIED_LOCK_GRANT_PATCH)) return;
    const signalsBefore = run.grantSignals.get(lockId) ?? 0;
    const { held, holder } = await retryingUntilDone.confirmEnvLease(lease);
    if (held) return;
    const at = new Date().toISOString();
    recordIgnored(run.state, 'lock_grant', 'cli', { lockId, env: lease.env }, `lock grant for ${lease.env} ignored: the registry lease is ${holder === null ? 'free' : `held by ${holder}`}, not by this release (a grant Signal not backed by the lease); still waiting for the ${lease.env} lock`, at);
    // A grant that arrived while the lease was checked may be the real one: check it too.
    if ((run.grantSignals.get(lockId) ?? 0) === signalsBefore) run.grants.delete(lockId);
    // Stored now, so the refusal reaches the audit chain while the release waits.
    await run.record();
  }
}

/** giveBackLock frees a pre-lease lock by signal; a lease comes back as a reference for the next record() to give back. */
export async function giveBackLock(run: ReleaseRun, lockId: string): Promise<EnvLockRef[]> {
  const held = run.heldLocks.get(lockId);
  run.grants.delete(lockId);
  // A lease stays listed until the record that gives it back is stored: if that record is cut
  // short (cancellation), the final record gives it back again (giving back twice is harmless).
  if (held?.lease) return [{ model: run.input.model, env: held.env, holderId: workflowInfo().workflowId }];
  run.heldLocks.delete(lockId);
  try {
    await getExternalWorkflowHandle(lockId).signal(giveBackSignal, { holderId: workflowInfo().workflowId });
  } catch (err) {
    log.warn('could not give back lock (lock workflow gone)', { lockId, error: String(err) });
  }
  return [];
}

/** currentLockId is the id of the lock held for env. */
export function currentLockId(run: ReleaseRun, env: string): string {
  return [...run.heldLocks.entries()].find(([, held]) => held.env === env)?.[0] ?? lockWorkflowId(run.input.model, env);
}

/** waitOutFreeze waits while a freeze window covers the stage. */
export async function waitOutFreeze(run: ReleaseRun, stage: Stage, stageState: StageState): Promise<void> {
  for (;;) {
    const freeze = activeFreeze(stage.freeze ?? [], new Date());
    if (!freeze.frozen) return;
    stageState.status = 'frozen';
    run.setStatus('frozen', `${stage.env} is frozen until ${freeze.until.toISOString()}: ${freeze.reason}`);
    await run.record();
    await condition(() => run.supersededBy !== null || run.rejection() !== null, Math.max(1000, freeze.until.getTime() - Date.now()));
    run.checkStops();
  }
}

/** holdFreezeBeforeDeploy waits out a freeze that opened after the stage started (e.g. while it awaited approval) just before a deploy. */
async function holdFreezeBeforeDeploy(run: ReleaseRun, stage: Stage, stageState: StageState): Promise<void> {
  // Pure check first: the patch marker goes into history only when a freeze really holds a deploy.
  if (!activeFreeze(stage.freeze ?? [], new Date()).frozen || !patched(FREEZE_AT_DEPLOY_PATCH)) return;
  const waiting = run.waitingPhase;
  run.waitingPhase = true; // a waiting release, as at the stage's start: a newer one may supersede it
  await waitOutFreeze(run, stage, stageState);
  run.waitingPhase = waiting;
  stageState.status = 'deploying';
}

/** runGates runs the stage's gates in parallel; any failed verdict stops the release. */
export async function runGates(run: ReleaseRun, stage: Stage, stageState: StageState): Promise<void> {
  const { input } = run;
  const gates = stage.gates ?? [];
  if (gates.length === 0) return;
  stageState.status = 'gating';
  run.setStatus('running', `running ${gates.length} gate(s) for ${stage.env}`);
  stageState.gates = await Promise.all(
    gates.map((gate) => retrying5Times.runGate({ releaseId: input.releaseId, env: stage.env, model: input.model, version: input.version, gate })),
  );
  run.touch();
  const failed = stageState.gates.filter((g) => !g.passed);
  if (failed.length > 0) {
    const why = failed.map((g) => `${g.name}: ${g.error ?? g.checks.filter((c) => !c.passed).map((c) => c.reason).join('; ')}`).join(' | ');
    throw new Stop('failed', `gate failed at ${stage.env} — ${why}`);
  }
}

/** collectApprovals waits for the stage's quorum, a rejection, a supersede or the deadline. */
export async function collectApprovals(run: ReleaseRun, stage: Stage, stageState: StageState): Promise<void> {
  if (!stage.approval || !stageState.quorum) return;
  if (run.serverPolicy && onlyVerifiedApprovals(stage) && !run.state.requester?.verified) {
    throw new Stop('failed', `${stage.env} counts only approvals signed by the API, so its requester must be verified too, and ${run.state.requestedBy} was not (the release was not started through the API): start it with POST /releases or \`slipway release start\` with SLIPWAY_API_URL and a token`);
  }
  const timeoutMs = parseDuration(stage.approval.timeout);
  stageState.approvalDeadline = new Date(Date.now() + timeoutMs).toISOString();
  stageState.awaitingApprovalSince = new Date().toISOString();
  stageState.status = 'awaiting_approval';
  run.waitingPhase = true;
  const waitingSummary = () =>
    `awaiting approval for ${stage.env}: ${stageState.quorum!.approvedBy.length} of ${stage.approval!.required} from ${stage.approval!.approvers.join(', ')} (expires ${stageState.approvalDeadline})`;
  run.setStatus('awaiting_approval', waitingSummary());
  await run.record();
  // A quarantine of this version while it waits ends it (the recheck-line Signal makes it ask).
  const decided = await waitUnlessQuarantined(run, stage.env, () => stageState.quorum!.met || run.rejection() !== null || run.supersededBy !== null, timeoutMs);
  run.checkStops();
  if (!decided) {
    throw new Stop('approval_expired', `approval for ${stage.env} expired after ${formatDuration(timeoutMs)} with ${stageState.quorum.approvedBy.length} of ${stage.approval.required}`);
  }
  stageState.approvedAt = new Date().toISOString();
  run.waitingPhase = false;
}

/** deploy serves the version through the stage's target, directly or in canary steps each followed by analysis. */
export async function deploy(run: ReleaseRun, stage: Stage, stageState: StageState): Promise<void> {
  const { input, state } = run;
  const target = stage.target ?? DEFAULT_TARGET;
  // Same patch as leases (they shipped together): releases recorded before keep their keys.
  const opKey = deployOpKey(input.releaseId, patched(LEASE_PATCH) ? workflowInfo().firstExecutionRunId : null, stage.env);
  const base = { opKey, releaseId: input.releaseId, model: input.model, env: stage.env, version: input.version, by: `release:${input.releaseId}`, target };
  stageState.status = 'deploying';
  const registerUndo = () => {
    if (!state.compensations.some((c) => c.deployOpKey === opKey)) {
      state.compensations.push({ env: stage.env, kind: 'restore_live', deployOpKey: opKey, version: input.version, status: 'pending', attempts: 0, restoredTo: null, error: null });
    }
  };
  const push = (previousVersion: string | null) => {
    registerUndo();
    stageState.previousVersion = previousVersion;
    stageState.deployedVersion = input.version;
  };
  // Before the deploy, not after: a target may apply the change and the activity still fail until its retries run
  // out. Undo needs no previousVersion (it restores the registry's last known good) and skips a deploy that never
  // happened. Registering it schedules nothing; compensation runs it only on this patched path, so old histories
  // compensate exactly the entries they did.
  const undoFirst = () => {
    if (patched(UNDO_BEFORE_DEPLOY_PATCH)) registerUndo();
  };
  if ('canary' in stage.strategy) {
    const canary = stage.strategy.canary;
    for (const step of canarySchedule(canary.steps, parseDuration(canary.interval))) {
      await holdLineBeforeDeploy(run, stage, stageState);
      await holdFreezeBeforeDeploy(run, stage, stageState);
      run.setStatus('deploying', `canary ${stage.env}: ${step.weight}% of traffic on ${input.version}`);
      undoFirst();
      const { previousVersion } = await retrying10TimesHeartbeating.deploy({ ...base, weight: step.weight });
      if (stageState.previousVersion === null) push(previousVersion);
      stageState.canaryWeight = step.weight;
      run.touch();
      if (step.weight < 100) {
        await sleep(step.analyseAfterMs);
        const rule = evidenceRule(canary.analysis);
        const query = {
          source: stage.healthSource ?? DEFAULT_HEALTH_SOURCE,
          model: input.model,
          env: stage.env,
          version: input.version,
          since: stageState.startedAt ?? new Date().toISOString(),
          maxErrorRate: canary.analysis?.maxErrorRate,
          maxLatencyP99Ms: canary.analysis?.maxLatencyP99Ms,
          maxPredictionDrift: canary.analysis?.maxPredictionDrift,
          minReports: rule.minReports,
        };
        let verdict = await retryingUntilDone.checkHealth(query);
        stageState.healthChecks.push({ at: new Date().toISOString(), healthy: verdict.healthy, detail: `canary ${step.weight}%: ${verdict.detail}` });
        // Histories from before the patch never saw a verdict short of reports, so they never get here.
        if (verdict.missing === true && rule.onMissing === 'wait' && patched(HEALTH_MIN_REPORTS_PATCH)) {
          verdict = await waitForEvidence(run, stageState, query, verdict, rule, parseDuration(stage.healthChecks?.interval ?? '10s'), `canary ${step.weight}%`);
        }
        if (verdict.missing === true) throw new Stop('failed', `canary analysis at ${step.weight}% in ${stage.env} had too few health reports to judge: ${verdict.detail}`);
        if (!verdict.healthy) throw new Stop('failed', `canary analysis failed at ${step.weight}% in ${stage.env}: ${verdict.detail}`);
      }
    }
  } else {
    await holdLineBeforeDeploy(run, stage, stageState);
    await holdFreezeBeforeDeploy(run, stage, stageState);
    run.setStatus('deploying', `deploying ${input.version} to ${stage.env}`);
    undoFirst();
    const { previousVersion } = await retrying10TimesHeartbeating.deploy(base);
    push(previousVersion);
  }
  run.touch();
}

/** bake watches the deployed version's health for the stage's bake time, at least once. */
export async function bake(run: ReleaseRun, stage: Stage, stageState: StageState): Promise<void> {
  const { input } = run;
  if (!stage.bake) return;
  const bakeMs = parseDuration(stage.bake);
  if (bakeMs <= 0) return;
  const intervalMs = parseDuration(stage.healthChecks?.interval ?? '10s');
  const deployedAt = new Date().toISOString();
  const endsAt = Date.now() + bakeMs;
  stageState.status = 'baking';
  run.setStatus('baking', `baking ${input.version} in ${stage.env} until ${new Date(endsAt).toISOString()}`);
  await run.record();
  const rule = evidenceRule(stage.healthChecks);
  const query = {
    source: stage.healthSource ?? DEFAULT_HEALTH_SOURCE,
    model: input.model,
    env: stage.env,
    version: input.version,
    since: deployedAt,
    maxErrorRate: stage.healthChecks?.maxErrorRate,
    maxLatencyP99Ms: stage.healthChecks?.maxLatencyP99Ms,
    maxPredictionDrift: stage.healthChecks?.maxPredictionDrift,
    minReports: rule.minReports,
  };
  if (patched(BAKE_ACTIVITY_PATCH)) {
    await bakeInActivity(run, stage, stageState, { query, endsAt: new Date(endsAt).toISOString(), intervalMs, waitingForReports: false }, rule);
    // A quarantine that arrived during the bake ends the release here, before the next stage.
    return recheckIfAsked(run, stage.env);
  }
  // At least one check, even if recording the snapshot took longer than the bake (e.g. a worker crash).
  do {
    const wait = Math.min(intervalMs, endsAt - Date.now());
    if (wait > 0) await sleep(wait);
    let verdict = await retryingUntilDone.checkHealth(query);
    stageState.healthChecks.push({ at: new Date().toISOString(), healthy: verdict.healthy, detail: verdict.detail });
    run.touch();
    // Short of reports is judged when the bake ends: reports may still arrive before then.
    if (verdict.missing === true && Date.now() < endsAt) continue;
    if (verdict.missing === true && rule.onMissing === 'wait' && patched(HEALTH_MIN_REPORTS_PATCH)) {
      verdict = await waitForEvidence(run, stageState, query, verdict, rule, intervalMs, 'bake');
    }
    if (verdict.missing === true) throw new Stop('failed', `bake in ${stage.env} had too few health reports to judge ${input.version}: ${verdict.detail}`);
    if (!verdict.healthy) throw new Stop('failed', `bake health check failed in ${stage.env}: ${verdict.detail}`);
  } while (Date.now() < endsAt);
}

/**
 * bakeInActivity runs the bake as one bakeWatch activity and, when it ends short of reports with
 * onMissing: wait, the wait for them as a second one: a constant number of history events at any length.
 */
async function bakeInActivity(run: ReleaseRun, stage: Stage, stageState: StageState, req: BakeWatchRequest, rule: EvidenceRule): Promise<void> {
  const { input } = run;
  let outcome = await bakeWatchUnlessStopped(run, stageState, req);
  if (outcome.outcome === 'missing' && rule.onMissing === 'wait') {
    const deadline = Date.now() + rule.waitLimitMs;
    run.setStatus(run.state.status, `bake: waiting until ${new Date(deadline).toISOString()} for at least ${rule.minReports} health report(s) (onMissing: wait)`);
    await run.record();
    outcome = await bakeWatchUnlessStopped(run, stageState, { ...req, endsAt: new Date(deadline).toISOString(), waitingForReports: true });
  }
  if (outcome.outcome === 'missing') throw new Stop('failed', `bake in ${stage.env} had too few health reports to judge ${input.version}: ${outcome.detail}`);
  if (outcome.outcome === 'failed') throw new Stop('failed', `bake health check failed in ${stage.env}: ${outcome.detail}`);
}

/**
 * bakeWatchUnlessStopped runs bakeWatch raced against a rejection or a supersede: either cancels it
 * (the activity learns on its next heartbeat) and stops the release. Its checks go into the stage's healthChecks.
 */
async function bakeWatchUnlessStopped(run: ReleaseRun, stageState: StageState, req: BakeWatchRequest): Promise<BakeOutcome> {
  const { bakeWatch } = proxyActivities<Pick<SlipwayActivities, 'bakeWatch'>>({
    // The bake (or the wait), one more interval, and room for a slow check and retries.
    startToCloseTimeout: Math.max(0, Date.parse(req.endsAt) - Date.now()) + req.intervalMs + 5 * 60_000,
    // bakeWatch heartbeats every 5 s whatever the interval; 30 s covers one slow health check.
    heartbeatTimeout: '30 seconds',
    retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 5, nonRetryableErrorTypes: [FailureType.UnknownHealthSource] },
  });
  let result: BakeOutcome | undefined;
  const scope = new CancellationScope();
  const watching = scope.run(async () => {
    result = await bakeWatch(req);
  });
  const stopping = scope.run(() => condition(() => run.rejection() !== null || run.supersededBy !== null));
  try {
    await Promise.race([watching, stopping]);
  } finally {
    // Whichever lost is cancelled: the activity on a stop, the condition once the bake is over.
    scope.cancel();
  }
  if (result === undefined) {
    run.checkStops();
    throw new Error('bake ended without an outcome'); // not reached: only a stop ends the race without one
  }
  const outcome: BakeOutcome = result;
  stageState.healthChecks.push(...outcome.recent);
  run.touch();
  return outcome;
}

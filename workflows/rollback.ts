/**
 * rollbackWorkflow: restore (model, env) to its last known good version, or
 * a named one, through the same environment lock and deploy target a release
 * uses — so a rollback never races a promotion.
 */
import { ApplicationFailure, CancellationScope, condition, getExternalWorkflowHandle, patched, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { SlipwayActivities } from '../activities';
import { FailureType } from '../domain/failures';
import { envQueueWorkflowId, giveBackSignal, lockGrantedSignal, lockWorkflowId } from '../locks/api';
import type { RollbackInput, RollbackResult } from './release/api';

const acts = proxyActivities<SlipwayActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '10 seconds', maximumAttempts: 20, nonRetryableErrorTypes: [FailureType.ModelVersionNotFound, FailureType.InvalidInput, FailureType.UnknownTarget] },
});

/** rollbackWorkflow moves the live pointer back and returns what was live before and after. */
export async function rollbackWorkflow(input: RollbackInput): Promise<RollbackResult> {
  // Rollbacks recorded before leases keep the lock workflow they started with.
  const lease = patched('env-lease-lock');
  const lockId = lease ? envQueueWorkflowId(input.model, input.env) : lockWorkflowId(input.model, input.env);
  let granted = false;
  setHandler(lockGrantedSignal, ({ lockId: id }) => {
    if (id === lockId) granted = true;
  });
  const request = { model: input.model, env: input.env, holderId: workflowInfo().workflowId, mode: 'queue', priority: 'rollback' } as const;
  if (!lease) await acts.requestEnvLock(request);
  try {
    // Inside the try: a lease taken by an attempt that then failed is still given back.
    if (lease) granted = (await acts.acquireEnvLock(request)).granted;
    await condition(() => granted);
    const { from, fromOpKey, to, target } = await acts.findRollbackTarget({
      model: input.model,
      env: input.env,
      toVersion: input.toVersion,
      rollbackId: input.rollbackId,
      requestedBy: input.requestedBy,
      ...(input.requestDecision ? { requestDecision: input.requestDecision } : {}),
    });
    // Non-retryable: a plain Error would fail the workflow task and retry it forever.
    if (to === null) throw ApplicationFailure.nonRetryable(`${input.model} has no earlier good version in ${input.env} to roll back to; name one with --to`, FailureType.NoRollbackTarget);
    if (from === to) return { model: input.model, env: input.env, from, to, status: 'noop' };
    await acts.deploy({
      opKey: `${input.rollbackId}:deploy`,
      releaseId: input.rollbackId,
      model: input.model,
      env: input.env,
      version: to,
      by: input.requestedBy,
      // Through the target that made the live move, so what serves changes too. Only an argument changes, so
      // no patch: results recorded before findRollbackTarget named a target have none, and deployed to the registry.
      target: target ?? 'registry',
    });
    // Added after releases were already recorded: patched() keeps their histories replaying.
    if (fromOpKey && patched('rollback-marks-replaced-failed')) {
      await acts.markDeploymentFailed({ opKey: fromOpKey, by: input.requestedBy, reason: input.reason });
    }
    return { model: input.model, env: input.env, from, to, status: 'succeeded' };
  } finally {
    await CancellationScope.nonCancellable(async () => {
      if (lease) await acts.releaseEnvLocks([{ model: input.model, env: input.env, holderId: workflowInfo().workflowId }]);
      else await getExternalWorkflowHandle(lockId).signal(giveBackSignal, { holderId: workflowInfo().workflowId }).catch(() => undefined);
    });
  }
}

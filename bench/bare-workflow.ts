/**
 * Baseline workflows for the release benchmark: the floor Temporal itself
 * sets on this machine. They are bundled on their own (workflowsPath) and run
 * on their own task queue, so nothing of Slipway's is in their path.
 */
import { condition, defineQuery, defineSignal, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';

/** BareActivities are the no-op activities the baseline workflows call. */
export interface BareActivities {
  noop(): Promise<void>;
  /** Notes the moment the "deploy" runs, as Slipway's deploy records its move's startedAt. */
  markDeployed(workflowId: string): Promise<void>;
}

const acts = proxyActivities<BareActivities>({ startToCloseTimeout: '30 seconds' });

/** bareApproveSignal stands in for Slipway's `approve` signal. */
export const bareApproveSignal = defineSignal<[unknown]>('approve');
/** bareStatusQuery stands in for Slipway's `status` query. */
export const bareStatusQuery = defineQuery<{ approved: boolean; startedAt: string }>('status');

/** bareReleaseWorkflow runs `activityCount` no-op activities one after another, as a release runs its steps. */
export async function bareReleaseWorkflow(activityCount: number): Promise<number> {
  for (let i = 0; i < activityCount; i++) await acts.noop();
  return activityCount;
}

/** bareApprovalWorkflow waits for one approve signal, answering status queries meanwhile, then "deploys". */
export async function bareApprovalWorkflow(): Promise<void> {
  const state = { approved: false, startedAt: new Date().toISOString() };
  setHandler(bareStatusQuery, () => state);
  setHandler(bareApproveSignal, () => {
    state.approved = true;
  });
  await condition(() => state.approved);
  await acts.markDeployed(workflowInfo().workflowId);
}

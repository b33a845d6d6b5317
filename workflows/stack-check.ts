/**
 * stackCheckWorkflow proves the ground is real: a workflow on the Temporal
 * server calls an activity that writes and reads the registry database.
 * `slipway dev` runs it once at start; tests run it against their own stack.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { SlipwayActivities, StackCheckRecord } from '../activities';

const { writeAndReadStackCheck } = proxyActivities<SlipwayActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { maximumAttempts: 5 },
});

/** stackCheckWorkflow writes a document through an activity and returns what was read back. */
export async function stackCheckWorkflow(checkId: string): Promise<StackCheckRecord> {
  return writeAndReadStackCheck(checkId);
}

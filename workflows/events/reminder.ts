/**
 * approvalReminderWorkflow: a durable timer until a stage's approval is about
 * to expire (deadline − remindBefore), then the `remindApproval` activity
 * publishes `approval.expiring` only if the release record says the stage of
 * that run still awaits approval. Started by the publisher when it publishes
 * the approval request; one per request (deterministic id).
 */
import { proxyActivities, sleep } from '@temporalio/workflow';
import type { EventActivities } from '../../activities/events';
import type { ReminderInput, ReminderResult } from './api';

const acts = proxyActivities<EventActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute', maximumAttempts: 30 },
});

/** approvalReminderWorkflow sleeps until the reminder is due, then asks for it to be published. */
export async function approvalReminderWorkflow(input: ReminderInput): Promise<ReminderResult> {
  let remindAt = input.remindAt;
  // Bounded: a reminder woken early (a hostile start with a wrong time) sleeps to the recorded due time and asks again.
  for (let round = 0; ; round++) {
    const wait = Date.parse(remindAt) - Date.now();
    if (Number.isFinite(wait) && wait > 0) await sleep(wait);
    const result = await acts.remindApproval(input);
    if (result.dueAt === undefined || round >= 3) return result;
    remindAt = result.dueAt;
  }
}

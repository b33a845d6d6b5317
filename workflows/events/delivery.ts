/**
 * eventDeliveryWorkflow: one event to one subscription, at least once. The
 * `deliverEvent` activity makes one signed POST per attempt and records it;
 * Temporal retries it with exponential backoff (DELIVERY_RETRY), so a receiver
 * that is down for hours still gets the event, and a worker restart loses
 * nothing. A refusal (4xx) or the last attempt ends the delivery as failed.
 */
import { ActivityFailure, ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { EventActivities } from '../../activities/events';
import { DELIVERY_REFUSED, DELIVERY_RETRY, type DeliveryInput, type DeliveryResult } from './api';

const acts = proxyActivities<EventActivities>({
  startToCloseTimeout: '1 minute',
  retry: {
    initialInterval: DELIVERY_RETRY.initialIntervalMs,
    backoffCoefficient: DELIVERY_RETRY.backoffCoefficient,
    maximumInterval: DELIVERY_RETRY.maximumIntervalMs,
    maximumAttempts: DELIVERY_RETRY.maximumAttempts,
    nonRetryableErrorTypes: [DELIVERY_REFUSED],
  },
});

/** eventDeliveryWorkflow delivers one event to one subscription and says how it ended. */
export async function eventDeliveryWorkflow(input: DeliveryInput): Promise<DeliveryResult> {
  try {
    return await acts.deliverEvent(input);
  } catch (err) {
    // The activity recorded every attempt; the workflow ends quietly, the delivery's record says failed.
    if (err instanceof ActivityFailure) {
      const cause = err.cause instanceof ApplicationFailure ? err.cause.message : String(err.cause ?? err.message);
      return { status: 'failed', attempts: 0, detail: cause };
    }
    throw err;
  }
}

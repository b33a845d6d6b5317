/**
 * The contract of the event workflows: their inputs and results, their
 * deterministic ids (a duplicate start collapses into the first), and the
 * delivery retry policy the delivery activity also reads to say when it
 * tries next. Pure: the publisher and the workflows import it.
 */

/** DeliveryInput names one event and one subscription; the activity loads both from the registry. */
export interface DeliveryInput {
  eventId: string;
  subscriptionId: string;
}

/** DeliveryResult is how a delivery ended. */
export interface DeliveryResult {
  status: 'delivered' | 'failed' | 'skipped';
  attempts: number;
  detail: string;
}

/** ReminderInput asks for a reminder about one stage's approval request of one run. */
export interface ReminderInput {
  releaseId: string;
  /** The run's startedAt: a reminder of an earlier run never speaks for a later one. */
  runStartedAt: string;
  env: string;
  /** When to wake; the activity checks it against the release record before publishing anything. */
  remindAt: string;
}

/** ReminderResult says whether the reminder was published, and if not why. */
export interface ReminderResult {
  published: boolean;
  reason: string;
  /** Set when the reminder woke too early by the release record: sleep until then and ask again. */
  dueAt?: string;
}

/** DELIVERY_RETRY is the delivery activity's retry policy: exponential backoff, about a day of attempts. */
export const DELIVERY_RETRY = {
  initialIntervalMs: 1_000,
  backoffCoefficient: 2,
  maximumIntervalMs: 30 * 60_000,
  maximumAttempts: 60,
} as const;

/** DeliveryFailure is the failure type of a receiver's refusal (4xx other than 408/425/429): retrying cannot help. */
export const DELIVERY_REFUSED = 'EventDeliveryRefused';

/** nextRetryDelayMs is how long Temporal waits after attempt `attempt` (1-based) fails. */
export function nextRetryDelayMs(attempt: number): number {
  return Math.min(DELIVERY_RETRY.initialIntervalMs * DELIVERY_RETRY.backoffCoefficient ** (attempt - 1), DELIVERY_RETRY.maximumIntervalMs);
}

/** deliveryWorkflowId is one per subscription and event: starting it twice starts it once. */
export function deliveryWorkflowId(input: DeliveryInput): string {
  return `event-delivery/${input.subscriptionId}/${input.eventId}`;
}

/** reminderWorkflowId is one per stage approval request of a run. */
export function reminderWorkflowId(input: Pick<ReminderInput, 'releaseId' | 'runStartedAt' | 'env'>): string {
  return `approval-reminder/${input.releaseId}@${input.runStartedAt}/${input.env}`;
}

/** DELIVERY_WORKFLOW and REMINDER_WORKFLOW are the workflow type names (on the wire: never rename). */
export const DELIVERY_WORKFLOW = 'eventDeliveryWorkflow';
export const REMINDER_WORKFLOW = 'approvalReminderWorkflow';

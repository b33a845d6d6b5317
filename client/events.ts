/**
 * The one way events are published: `EventPublisher.publish(drafts)` stores
 * each event in the outbox under its stable id (registry/subscriptions.ts),
 * then starts one delivery workflow per event × matching subscription, with a
 * deterministic id so a second publish of the same event starts nothing new.
 * An event is marked dispatched only after all its deliveries started, so a
 * publish that dies half-way is finished by the next one (the caller's retry).
 * Publishing an approval request also starts its reminder's durable timer.
 *
 * Other features publish with one call, e.g. from an activity or the API:
 *   await publisher.publish([versionQuarantinedEvent({ model, version, reason, by, at, key })]);
 */
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import type { Db } from 'mongodb';
import { approvalReminderAt, deriveReleaseEvents, subscribedTo, type EventDraft } from '../domain/events';
import type { Pipeline } from '../domain/pipeline';
import type { ReleaseState } from '../domain/release';
import { SubscriptionStore, type Subscription } from '../registry/subscriptions';
import {
  DELIVERY_WORKFLOW,
  REMINDER_WORKFLOW,
  deliveryWorkflowId,
  reminderWorkflowId,
  type DeliveryInput,
  type ReminderInput,
} from '../workflows/events/api';

/** EventPublisherDeps are where events are stored and delivery workflows started. */
export interface EventPublisherDeps {
  db: Db;
  temporal: Client;
  taskQueue: string;
  /** SLIPWAY_PUBLIC_URL (else the API's URL): the base of links into the release board. */
  publicUrl: string;
  clock?: () => Date;
  /** The pinned pipeline of a hash (approvers, canary steps, remindBefore); null when unknown. */
  pipelineOf?: (hash: string) => Promise<Pipeline | null>;
}

/** PublishResult says how many events were new and how many deliveries were started. */
export interface PublishResult {
  events: number;
  deliveries: number;
  reminders: number;
}

/** EventPublisher publishes events to the subscriptions kept on the server. */
export class EventPublisher {
  readonly store: SubscriptionStore;
  private readonly clock: () => Date;

  constructor(private readonly deps: EventPublisherDeps) {
    this.clock = deps.clock ?? (() => new Date());
    this.store = new SubscriptionStore(deps.db, this.clock);
  }

  /** publishRelease publishes every event a release snapshot implies that was not published yet. */
  async publishRelease(state: ReleaseState): Promise<PublishResult> {
    const subs = await this.store.all();
    if (subs.length === 0) return { events: 0, deliveries: 0, reminders: 0 };
    const pipeline = this.deps.pipelineOf && state.pipelineHash ? await this.deps.pipelineOf(state.pipelineHash) : null;
    const drafts = deriveReleaseEvents(state, pipeline, this.deps.publicUrl);
    const result = await this.dispatch(drafts, subs);
    if (subs.some((s) => subscribedTo(s.events, 'dev.slipway.release.approval.expiring'))) {
      result.reminders = await this.startReminders(state, pipeline);
    }
    return result;
  }

  /** publish publishes ready-made events (quarantine, stop/resume, reminders) to every subscription that wants them. */
  async publish(drafts: EventDraft[]): Promise<PublishResult> {
    const subs = await this.store.all();
    if (subs.length === 0) return { events: 0, deliveries: 0, reminders: 0 };
    return this.dispatch(drafts, subs);
  }

  private async dispatch(drafts: EventDraft[], subs: Subscription[]): Promise<PublishResult> {
    // Only events someone subscribed to are stored: a server with no interest in one type keeps no outbox of it.
    const wanted = drafts.filter((d) => subs.some((s) => subscribedTo(s.events, d.type)));
    const pending = await this.store.recordEvents(wanted);
    let deliveries = 0;
    for (const event of pending) {
      for (const sub of subs.filter((s) => subscribedTo(s.events, event.type))) {
        await this.store.openDelivery(sub, event);
        await this.startOnce(DELIVERY_WORKFLOW, deliveryWorkflowId({ subscriptionId: sub._id, eventId: event._id }), { eventId: event._id, subscriptionId: sub._id } satisfies DeliveryInput);
        deliveries += 1;
      }
    }
    await this.store.markDispatched(pending.map((e) => e._id));
    return { events: pending.length, deliveries, reminders: 0 };
  }

  // A durable timer per stage awaiting approval of this run; the reminder checks again before publishing.
  private async startReminders(state: ReleaseState, pipeline: Pipeline | null): Promise<number> {
    let started = 0;
    for (const [i, stage] of state.stages.entries()) {
      if (stage.status !== 'awaiting_approval' || stage.approvalDeadline === null) continue;
      const approval = pipeline?.stages[i]?.env === stage.env ? pipeline.stages[i]?.approval : undefined;
      if (!approval) continue;
      const remindAt = approvalReminderAt(stage.approvalDeadline, approval);
      const input: ReminderInput = { releaseId: state.releaseId, runStartedAt: state.startedAt, env: stage.env, remindAt: remindAt.toISOString() };
      if (await this.startOnce(REMINDER_WORKFLOW, reminderWorkflowId(input), input)) started += 1;
    }
    return started;
  }

  // Started once per id, ever (within the namespace's retention): a completed delivery is not started again.
  private async startOnce(workflowType: string, workflowId: string, arg: DeliveryInput | ReminderInput): Promise<boolean> {
    try {
      await this.deps.temporal.workflow.start(workflowType, {
        workflowId,
        taskQueue: this.deps.taskQueue,
        args: [arg],
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      });
      return true;
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) return false;
      throw err;
    }
  }
}

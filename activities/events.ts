/**
 * The event activities: `deliverEvent` (one signed POST of one event to one
 * subscription, recorded, retried by its workflow's policy) and
 * `remindApproval` (publishes `approval.expiring` when the release record says
 * the stage still awaits approval). Also the publisher `recordRelease` calls,
 * so every release snapshot publishes what it implies.
 */
import { ApplicationFailure, Context, log } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { Db } from 'mongodb';
import { EventPublisher } from '../client/events';
import { secretEnvProblem, subscriptionUrlProblem } from '../domain/event-subscription';
import { approvalExpiringEvent, approvalReminderAt, subscribedTo, toCloudEvent, toSlackMessage, type EventDraft } from '../domain/events';
import type { Pipeline } from '../domain/pipeline';
import type { ReleaseState } from '../domain/release';
import { describeFetchError, isTimeout, isUnavailableStatus, readCapped, snippet } from '../lib/http';
import type { PluginSettings } from '../lib/plugins';
import { OutboundRefusedError, outboundFetch, outboundPolicyFromSettings } from '../lib/outbound';
import { WEBHOOK_SIGNATURE_HEADER, signWebhookRequest } from '../lib/request-signing';
import { Registry } from '../registry/registry';
import { ReleaseStore } from '../registry/releases';
import { deliveryId, type StoredEvent } from '../registry/subscriptions';
import { DELIVERY_REFUSED, DELIVERY_RETRY, nextRetryDelayMs, type DeliveryInput, type DeliveryResult, type ReminderInput, type ReminderResult } from '../workflows/events/api';

/** EventActivityDeps are what the event activities need from the worker. */
export interface EventActivityDeps {
  db: Db;
  /** The worker's client: delivery and reminder workflows are started with it. Without one, nothing is published. */
  temporal?: Client;
  taskQueue?: string;
  clock: () => Date;
  /** The worker's SLIPWAY_* settings: signing secrets are read from here, by allowlisted name only. */
  settings: PluginSettings;
  /** Base of links into the release board (SLIPWAY_PUBLIC_URL). */
  publicUrl: string;
}

// Receivers answer in a few seconds or the attempt counts as failed; the answer body is only quoted in errors.
const DELIVERY_TIMEOUT_MS = 10_000;
const MAX_ANSWER_BYTES = 4 * 1024;

/** createEventActivities builds the event activities and the publisher recordRelease uses. */
export function createEventActivities(deps: EventActivityDeps) {
  const registry = new Registry(deps.db, deps.clock);
  const releases = new ReleaseStore(deps.db, deps.clock);
  const outbound = outboundPolicyFromSettings(deps.settings);
  // Pinned pipelines never change under their hash: each is read once per worker.
  const pipelines = new Map<string, Pipeline | null>();
  const pipelineOf = async (hash: string): Promise<Pipeline | null> => {
    if (!pipelines.has(hash)) pipelines.set(hash, (await registry.getPipeline(hash))?.pipeline ?? null);
    return pipelines.get(hash) ?? null;
  };
  const publisher =
    deps.temporal && deps.taskQueue
      ? new EventPublisher({ db: deps.db, temporal: deps.temporal, taskQueue: deps.taskQueue, publicUrl: deps.publicUrl, clock: deps.clock, pipelineOf })
      : undefined;
  const store = publisher?.store;

  const activities = {
    /** deliverEvent makes one attempt to deliver an event to a subscription, and records it. */
    async deliverEvent(input: DeliveryInput): Promise<DeliveryResult> {
      const attempt = Context.current().info.attempt;
      if (!store) throw ApplicationFailure.nonRetryable('this worker has no Temporal client to deliver events with', DELIVERY_REFUSED);
      const [sub, event] = await Promise.all([store.get(input.subscriptionId), store.getEvent(input.eventId)]);
      if (!event) return { status: 'skipped', attempts: attempt, detail: `event ${input.eventId} is not in the outbox` };
      const record = (status: 'delivered' | 'retrying' | 'failed' | 'skipped', httpStatus: number | null, error: string | null) =>
        store.recordAttempt(input.subscriptionId, event, {
          number: attempt,
          httpStatus,
          error,
          status,
          nextRetryAt: status === 'retrying' ? new Date(deps.clock().getTime() + nextRetryDelayMs(attempt)) : null,
        });
      if (!sub) {
        // Only a delivery that was opened is noted: an id made up by whoever started the workflow writes nothing.
        if (await store.deliveries.findOne({ _id: deliveryId(input.subscriptionId, event._id) }, { projection: { _id: 1 } })) await record('skipped', null, 'the subscription was removed');
        return { status: 'skipped', attempts: attempt, detail: 'the subscription was removed' };
      }
      // Anyone with Temporal access can start a delivery: only an event the subscription asked for goes out.
      if (!subscribedTo(sub.events, event.type)) {
        const reason = `${sub._id} does not subscribe to ${event.type}`;
        await record('skipped', null, reason);
        await store.audit.append({ key: `event.delivery_refused:${sub._id}:${event._id}`, actor: 'unverified:temporal', action: 'event.delivery_refused', subject: {}, reason, details: { subscriptionId: sub._id, eventId: event._id } });
        return { status: 'skipped', attempts: attempt, detail: reason };
      }
      // Checked again here, not only when the subscription was added: the worker decides what it signs and where it sends.
      const refusal = subscriptionUrlProblem(sub.url) ?? (sub.secretEnv !== null ? secretEnvProblem(sub.secretEnv) : null);
      const secret = sub.secretEnv !== null ? deps.settings[sub.secretEnv] : undefined;
      const missing = sub.secretEnv !== null && !secret ? `${sub.secretEnv} is not set on the worker: it must hold the secret deliveries to this subscription are signed with` : null;
      const body = JSON.stringify(sub.format === 'slack' ? toSlackMessage(draftOf(event)) : toCloudEvent(draftOf(event)));
      const last = attempt >= DELIVERY_RETRY.maximumAttempts;
      const failAttempt = async (httpStatus: number | null, error: string, retryable: boolean): Promise<never> => {
        await record(retryable && !last ? 'retrying' : 'failed', httpStatus, error);
        if (retryable) throw ApplicationFailure.retryable(error, 'EventDeliveryFailed');
        throw ApplicationFailure.nonRetryable(error, DELIVERY_REFUSED);
      };
      // A missing secret may be set and the worker restarted: worth retrying; a forbidden one is not.
      if (refusal) return failAttempt(null, refusal, false);
      if (missing) return failAttempt(null, missing, true);
      let status: number;
      let answer: string;
      try {
        // The worker's outbound rules (lib/outbound.ts): no link-local or metadata address at connect time, no redirects.
        const response = await outboundFetch(sub.url, {
          method: 'POST',
          field: 'subscription url',
          headers: {
            'content-type': sub.format === 'slack' ? 'application/json' : 'application/cloudevents+json; charset=utf-8',
            'user-agent': 'slipway-events/1',
            ...(secret ? { [WEBHOOK_SIGNATURE_HEADER]: signWebhookRequest(secret, { method: 'POST', url: sub.url, body }, deps.clock()) } : {}),
          },
          body,
          signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
        }, outbound);
        status = response.status;
        answer = await readCapped(response, MAX_ANSWER_BYTES);
      } catch (err) {
        if (err instanceof OutboundRefusedError) return failAttempt(null, err.message, false);
        return failAttempt(null, isTimeout(err) ? `no answer within ${DELIVERY_TIMEOUT_MS / 1000}s` : `unreachable: ${describeFetchError(err)}`, true);
      }
      if (status >= 200 && status <= 299) {
        await record('delivered', status, null);
        return { status: 'delivered', attempts: attempt, detail: `HTTP ${status}` };
      }
      return failAttempt(status, `HTTP ${status}${snippet(answer)}`, isUnavailableStatus(status));
    },

    /** remindApproval publishes the approval reminder if, by the release record, the stage of that run still awaits approval and it is time. */
    async remindApproval(input: ReminderInput): Promise<ReminderResult> {
      if (!publisher) return { published: false, reason: 'this worker has no Temporal client to publish with' };
      const record = await releases.get(input.releaseId);
      if (!record) return { published: false, reason: `release ${input.releaseId} is not in the registry` };
      const { _id, revision: _r, recordedAt: _a, ...rest } = record;
      const state = { releaseId: _id, ...rest } as ReleaseState;
      if (state.startedAt !== input.runStartedAt) return { published: false, reason: 'a later run of the release replaced the one this reminder was for' };
      const stage = state.stages.find((s) => s.env === input.env);
      if (!stage || stage.status !== 'awaiting_approval' || stage.approvalDeadline === null) {
        return { published: false, reason: `${input.env} no longer awaits approval (${stage?.status ?? 'no such stage'})` };
      }
      // The input only wakes the reminder; when it is due comes from the pinned pipeline and the recorded deadline.
      const i = state.stages.indexOf(stage);
      const pipeline = await pipelineOf(state.pipelineHash);
      const approval = pipeline?.stages[i]?.approval;
      const now = deps.clock();
      const dueAt = approval ? approvalReminderAt(stage.approvalDeadline, approval) : null;
      if (dueAt && dueAt.getTime() > now.getTime() + 1_000) {
        return { published: false, reason: 'not due yet by the pinned pipeline\'s remindBefore', dueAt: dueAt.toISOString() };
      }
      const event = approvalExpiringEvent(state, input.env, pipeline, deps.publicUrl, now);
      if (!event) return { published: false, reason: `${input.env} no longer awaits approval` };
      const result = await publisher.publish([event]);
      log.info('approval reminder published', { releaseId: input.releaseId, env: input.env, deliveries: result.deliveries });
      return { published: true, reason: `${result.deliveries} delivery(ies) started` };
    },
  };

  return {
    activities,
    /** publish publishes ready-made events (nothing without a Temporal client). */
    async publish(drafts: EventDraft[]): Promise<void> {
      if (publisher) await publisher.publish(drafts);
    },
    /** publishRelease publishes what a release snapshot implies (nothing without a Temporal client). */
    async publishRelease(state: ReleaseState): Promise<void> {
      if (publisher) await publisher.publishRelease(state);
    },
  };
}

/** EventActivities are the activities the event workflows proxy. */
export type EventActivities = ReturnType<typeof createEventActivities>['activities'];

function draftOf(event: StoredEvent): EventDraft {
  return { id: event._id, type: event.type, source: event.source, subject: event.subject, time: event.time, data: event.data };
}

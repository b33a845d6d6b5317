/**
 * Subscriptions to release events, kept on the server (`event_subscriptions`),
 * the events published (`events`: an outbox keyed by the event's stable id,
 * so a happening published twice is stored once) and each delivery's state
 * and attempts (`event_deliveries`, `event_delivery_attempts`). Adding and
 * removing a subscription is an audit event in the `_global` chain.
 *
 * FerretDB 1.24: reads by _id or one field, single-document writes, inserts
 * keyed by _id for idempotency.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Collection, Db } from 'mongodb';
import { checkSubscriptionInput, redactUrl } from '../domain/event-subscription';
import type { EventDraft, EventFormat } from '../domain/events';
import { AuditLog, type AuditSigner } from './audit';
import { insertIfAbsent } from './db';
import { InvalidInputError, NotFoundError, RegistryError, isDuplicateKey } from './errors';

/** Subscription is a stored subscription. */
export interface Subscription {
  /** `sub-` and 16 hex of the URL's hash: one subscription per URL, so adding one twice is refused, race-free. */
  _id: string;
  url: string;
  /** Full-form event types and globs (domain/events.ts parseEventPatterns). */
  events: string[];
  format: EventFormat;
  secretEnv: string | null;
  createdBy: string;
  createdAt: Date;
}

/** SubscriptionView is a subscription as listed: the URL redacted (a Slack URL is itself a secret). */
export interface SubscriptionView {
  id: string;
  url: string;
  events: string[];
  format: EventFormat;
  secretEnv: string | null;
  createdBy: string;
  createdAt: Date;
}

/** StoredEvent is a published event in the outbox. */
export interface StoredEvent extends Omit<EventDraft, 'id'> {
  _id: string;
  /** When Slipway recorded it: the start of the delivery latency. */
  recordedAt: Date;
  /** Set once a delivery was started for every subscription it matched; an event left false is dispatched again. */
  dispatched: boolean;
}

/** DeliveryStatus is where one event's delivery to one subscription stands. */
export type DeliveryStatus = 'pending' | 'retrying' | 'delivered' | 'failed' | 'skipped';

/** Delivery is one event × subscription, updated after every attempt. */
export interface Delivery {
  /** `<subscription id>|<event id>`. */
  _id: string;
  subscriptionId: string;
  eventId: string;
  eventType: string;
  status: DeliveryStatus;
  attempts: number;
  lastHttpStatus: number | null;
  lastError: string | null;
  nextRetryAt: Date | null;
  recordedAt: Date;
  deliveredAt: Date | null;
  updatedAt: Date;
}

/** DeliveryAttempt is one POST of a delivery. */
export interface DeliveryAttempt {
  /** `<delivery id>#<attempt>`: a retried activity attempt is stored once. */
  _id: string;
  deliveryId: string;
  attempt: number;
  at: Date;
  httpStatus: number | null;
  error: string | null;
}

/** DeliveryView is a delivery with its recent attempts, as `slipway subscription deliveries` shows it. */
export interface DeliveryView extends Omit<Delivery, '_id'> {
  id: string;
  recentAttempts: Omit<DeliveryAttempt, '_id' | 'deliveryId'>[];
}

/** deliveryId is the key of one event's delivery to one subscription. */
export function deliveryId(subscriptionId: string, eventId: string): string {
  return `${subscriptionId}|${eventId}`;
}

const SUBSCRIPTION_ID = /^sub-[0-9a-f]{16}$/;

/** SubscriptionStore keeps subscriptions, the event outbox and deliveries. */
export class SubscriptionStore {
  readonly subscriptions: Collection<Subscription>;
  readonly events: Collection<StoredEvent>;
  readonly deliveries: Collection<Delivery>;
  readonly attempts: Collection<DeliveryAttempt>;
  readonly audit: AuditLog;

  constructor(
    db: Db,
    private readonly clock: () => Date = () => new Date(),
    auditSigner?: AuditSigner,
  ) {
    this.subscriptions = db.collection('event_subscriptions');
    this.events = db.collection('events');
    this.deliveries = db.collection('event_deliveries');
    this.attempts = db.collection('event_delivery_attempts');
    this.audit = new AuditLog(db, clock, auditSigner);
  }

  /** ensureIndexes creates the indexes the deliveries listing reads by. */
  async ensureIndexes(): Promise<void> {
    await Promise.all([
      this.deliveries.createIndex({ updatedAt: -1 }, { name: 'updated' }),
      this.deliveries.createIndex({ subscriptionId: 1, updatedAt: -1 }, { name: 'subscription_updated' }),
      this.attempts.createIndex({ deliveryId: 1 }, { name: 'delivery' }),
    ]);
  }

  /** add validates a subscription and stores it; a second one for the same URL is refused (remove it first). */
  async add(raw: unknown, actor: string): Promise<SubscriptionView> {
    const checked = checkSubscriptionInput(raw);
    if (!checked.ok) throw new InvalidInputError(checked.problems);
    const { url, events, format, secretEnv } = checked.input;
    const sub: Subscription = { _id: subscriptionId(url), url, events, format, secretEnv, createdBy: actor, createdAt: this.clock() };
    try {
      await this.subscriptions.insertOne(sub);
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      throw new DuplicateSubscriptionError(sub._id, redactUrl(url));
    }
    await this.audit.append({
      key: `subscription.added:${sub._id}:${randomUUID()}`,
      actor,
      action: 'subscription.added',
      subject: {},
      details: { subscriptionId: sub._id, url: redactUrl(url), events, format, secretEnv },
    });
    return view(sub);
  }

  /** list returns every subscription, oldest first, URLs redacted. */
  async list(): Promise<SubscriptionView[]> {
    return (await this.all()).map(view);
  }

  /** all returns every subscription as stored (the publisher matches and delivers with these). */
  async all(): Promise<Subscription[]> {
    return this.subscriptions.find({}, { sort: { createdAt: 1 }, limit: 1000 }).toArray();
  }

  /** get returns one subscription, or null once removed. */
  async get(id: string): Promise<Subscription | null> {
    return this.subscriptions.findOne({ _id: id });
  }

  /** remove deletes a subscription; deliveries under way stop at their next attempt. */
  async remove(id: unknown, actor: string): Promise<{ removed: string }> {
    if (typeof id !== 'string' || !SUBSCRIPTION_ID.test(id)) {
      throw new InvalidInputError([{ field: 'id', reason: 'must be a subscription id such as "sub-0123456789abcdef" (see `slipway subscription list`)' }]);
    }
    const existing = await this.get(id);
    if (!existing) throw new NotFoundError('subscription', id, 'see `slipway subscription list`');
    const deleted = await this.subscriptions.deleteOne({ _id: id });
    if (deleted.deletedCount === 0) throw new NotFoundError('subscription', id, 'see `slipway subscription list`');
    await this.audit.append({
      key: `subscription.removed:${id}:${randomUUID()}`,
      actor,
      action: 'subscription.removed',
      subject: {},
      details: { subscriptionId: id, url: redactUrl(existing.url), events: existing.events, format: existing.format },
    });
    return { removed: id };
  }

  /**
   * recordEvents stores drafts in the outbox (a draft already there keeps its
   * first copy) and returns the stored events not yet dispatched.
   */
  async recordEvents(drafts: EventDraft[]): Promise<StoredEvent[]> {
    if (drafts.length === 0) return [];
    const ids = drafts.map((d) => d.id);
    const known = new Map((await this.events.find({ _id: { $in: ids } }, { projection: { dispatched: 1 } }).toArray()).map((e) => [e._id, e.dispatched]));
    const now = this.clock();
    const fresh: StoredEvent[] = [];
    for (const { id, ...rest } of drafts) {
      if (known.get(id) === true) continue;
      if (!known.has(id)) await insertIfAbsent(this.events, { _id: id, ...rest, recordedAt: now, dispatched: false });
      fresh.push({ _id: id, ...rest, recordedAt: now, dispatched: false });
    }
    if (fresh.length === 0) return [];
    // Read back: an event stored by an earlier attempt keeps its first recordedAt.
    const stored = await this.events.find({ _id: { $in: fresh.map((e) => e._id) } }).toArray();
    return stored.filter((e) => !e.dispatched);
  }

  /** markDispatched notes that deliveries were started for these events. */
  async markDispatched(ids: string[]): Promise<void> {
    if (ids.length > 0) await this.events.updateMany({ _id: { $in: ids } }, { $set: { dispatched: true } });
  }

  /** getEvent returns a stored event by id. */
  async getEvent(id: string): Promise<StoredEvent | null> {
    return this.events.findOne({ _id: id });
  }

  /** openDelivery notes a delivery as pending before its workflow starts, so `deliveries` lists it from then on. */
  async openDelivery(sub: Subscription, event: StoredEvent): Promise<void> {
    const now = this.clock();
    await insertIfAbsent(this.deliveries, {
      _id: deliveryId(sub._id, event._id),
      subscriptionId: sub._id,
      eventId: event._id,
      eventType: event.type,
      status: 'pending',
      attempts: 0,
      lastHttpStatus: null,
      lastError: null,
      nextRetryAt: null,
      recordedAt: event.recordedAt,
      deliveredAt: null,
      updatedAt: now,
    });
  }

  /** recordAttempt stores one attempt and the delivery's state after it. */
  async recordAttempt(
    subscriptionId: string,
    event: StoredEvent,
    attempt: { number: number; httpStatus: number | null; error: string | null; status: DeliveryStatus; nextRetryAt: Date | null },
  ): Promise<void> {
    const id = deliveryId(subscriptionId, event._id);
    const now = this.clock();
    await insertIfAbsent(this.attempts, { _id: `${id}#${attempt.number}`, deliveryId: id, attempt: attempt.number, at: now, httpStatus: attempt.httpStatus, error: attempt.error });
    await this.deliveries.updateOne(
      { _id: id },
      {
        $set: {
          status: attempt.status,
          attempts: attempt.number,
          lastHttpStatus: attempt.httpStatus,
          lastError: attempt.error,
          nextRetryAt: attempt.nextRetryAt,
          updatedAt: now,
          ...(attempt.status === 'delivered' ? { deliveredAt: now } : {}),
        },
        $setOnInsert: { subscriptionId, eventId: event._id, eventType: event.type, recordedAt: event.recordedAt, ...(attempt.status === 'delivered' ? {} : { deliveredAt: null }) },
      },
      { upsert: true },
    );
  }

  /** listDeliveries returns the most recently updated deliveries (of one subscription, or all), each with its last attempts. */
  async listDeliveries(filter: { subscriptionId?: string; limit?: number } = {}): Promise<DeliveryView[]> {
    if (filter.subscriptionId !== undefined && !SUBSCRIPTION_ID.test(filter.subscriptionId)) {
      throw new InvalidInputError([{ field: 'subscription', reason: 'must be a subscription id such as "sub-0123456789abcdef" (see `slipway subscription list`)' }]);
    }
    const limit = filter.limit ?? 50;
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new InvalidInputError([{ field: 'limit', reason: 'must be a whole number from 1 to 500' }]);
    const deliveries = await this.deliveries
      .find(filter.subscriptionId ? { subscriptionId: filter.subscriptionId } : {}, { sort: { updatedAt: -1 }, limit })
      .toArray();
    const attempts = deliveries.length === 0 ? [] : await this.attempts.find({ deliveryId: { $in: deliveries.map((d) => d._id) } }).toArray();
    return deliveries.map(({ _id, ...d }) => ({
      id: _id,
      ...d,
      recentAttempts: attempts
        .filter((a) => a.deliveryId === _id)
        .sort((a, b) => a.attempt - b.attempt)
        .slice(-5)
        .map(({ attempt, at, httpStatus, error }) => ({ attempt, at, httpStatus, error })),
    }));
  }
}

/** DuplicateSubscriptionError is a second subscription for a URL that has one. */
export class DuplicateSubscriptionError extends RegistryError {
  constructor(id: string, url: string) {
    super('conflict', `${url} already has subscription ${id}: remove it first (\`slipway subscription remove ${id}\`), then add the new one`);
  }
}

/** subscriptionId is the id a URL's subscription gets. */
export function subscriptionId(url: string): string {
  return `sub-${createHash('sha256').update(url).digest('hex').slice(0, 16)}`;
}

function view(s: Subscription): SubscriptionView {
  return { id: s._id, url: redactUrl(s.url), events: s.events, format: s.format, secretEnv: s.secretEnv, createdBy: s.createdBy, createdAt: s.createdAt };
}

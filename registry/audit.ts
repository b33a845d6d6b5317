/**
 * The append-only, tamper-evident audit log: every event carries the hash of
 * its predecessor, so editing or deleting one breaks the chain from there on.
 */
import { createHash } from 'node:crypto';
import type { Collection, Db } from 'mongodb';
import { canonicalJson } from '../domain/pipeline';
import { isDuplicateKey } from './errors';

/** GENESIS_HASH is the "previous hash" of the first event. */
export const GENESIS_HASH = '0'.repeat(64);

/** AuditSubject says what an event is about. */
export interface AuditSubject {
  model?: string;
  version?: string;
  env?: string;
  alias?: string;
  releaseId?: string;
  pipeline?: string;
}

/** AuditInput is what a caller appends: who did what to which subject, and why. */
export interface AuditInput {
  /** Idempotency key: appending the same key twice returns the first event. */
  key: string;
  actor: string;
  action: string;
  subject: AuditSubject;
  reason?: string;
  details?: Record<string, unknown>;
}

/** AuditEvent is a stored event with its place in the chain. */
export interface AuditEvent extends AuditInput {
  _id: string;
  seq: number;
  at: Date;
  prevHash: string;
  hash: string;
}

/** ChainVerification is the result of walking the chain. */
export interface ChainVerification {
  ok: boolean;
  checked: number;
  brokenAt?: { seq: number; reason: string };
}

/** eventHash computes an event's hash from its predecessor's hash and its own content. */
export function eventHash(prevHash: string, event: Omit<AuditEvent, 'hash' | 'prevHash' | '_id'>): string {
  const body = canonicalJson({
    seq: event.seq,
    at: event.at.toISOString(),
    key: event.key,
    actor: event.actor,
    action: event.action,
    subject: event.subject,
    reason: event.reason ?? null,
    details: event.details ?? null,
  });
  return createHash('sha256').update(prevHash).update('\n').update(body).digest('hex');
}

/** AuditLog appends to and verifies the chain in the `audit_events` collection. */
export class AuditLog {
  readonly events: Collection<AuditEvent>;

  constructor(
    db: Db,
    private readonly clock: () => Date,
  ) {
    this.events = db.collection<AuditEvent>('audit_events');
  }

  /** ensureIndexes creates the unique sequence index (idempotent). */
  async ensureIndexes(): Promise<void> {
    await this.events.createIndex({ seq: 1 }, { unique: true, name: 'seq_unique' });
    await this.events.createIndex({ 'subject.model': 1, seq: -1 }, { name: 'model_seq' });
  }

  /** append adds an event at the chain's head; a retried append with the same key returns the original. */
  async append(input: AuditInput): Promise<AuditEvent> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const [last] = await this.events.find({}, { sort: { seq: -1 }, limit: 1, projection: { seq: 1, hash: 1 } }).toArray();
      const seq = (last?.seq ?? 0) + 1;
      const prevHash = last?.hash ?? GENESIS_HASH;
      const base = { ...stripUndefined(input), seq, at: this.clock() };
      const event: AuditEvent = { _id: input.key, ...base, prevHash, hash: eventHash(prevHash, base) };
      try {
        await this.events.insertOne(event);
        return event;
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
        const existing = await this.events.findOne({ _id: input.key });
        if (existing) return existing;
        // Another writer took this seq; read the new head and try again.
      }
    }
    throw new Error('audit log append kept losing the race for the next sequence number');
  }

  /** verify walks the whole chain in order, recomputing every hash and link. */
  async verify(): Promise<ChainVerification> {
    let prevHash = GENESIS_HASH;
    let expectedSeq = 1;
    let checked = 0;
    for await (const event of this.events.find({}, { sort: { seq: 1 } })) {
      if (event.seq !== expectedSeq) {
        return { ok: false, checked, brokenAt: { seq: expectedSeq, reason: `event ${expectedSeq} is missing (next is ${event.seq})` } };
      }
      if (event.prevHash !== prevHash) {
        return { ok: false, checked, brokenAt: { seq: event.seq, reason: 'prevHash does not match the previous event' } };
      }
      const { _id, hash, prevHash: _p, ...rest } = event;
      if (eventHash(prevHash, { ...rest, key: _id }) !== hash) {
        return { ok: false, checked, brokenAt: { seq: event.seq, reason: 'content does not match its hash (edited)' } };
      }
      prevHash = hash;
      expectedSeq += 1;
      checked += 1;
    }
    return { ok: true, checked };
  }
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

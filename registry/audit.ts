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
  /** The sequence number: unique, so two writers cannot both take the next one. */
  _id: number;
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

/**
 * AuditLog appends to and verifies the chain. Every hot-path read is by _id,
 * the one lookup FerretDB 1.24 answers without scanning: events are keyed by
 * their sequence number (the unique _id makes claiming the next number
 * atomic), `audit_keys` maps idempotency keys to numbers, and `audit_head`
 * is a hint of the newest number that appenders correct by probing forward.
 */
export class AuditLog {
  readonly events: Collection<AuditEvent>;
  private readonly keys: Collection<{ _id: string; seq: number }>;
  private readonly headHint: Collection<{ _id: string; seq: number }>;
  private cachedSeq = 0;

  constructor(
    db: Db,
    private readonly clock: () => Date,
  ) {
    this.events = db.collection<AuditEvent>('audit_events');
    this.keys = db.collection('audit_keys');
    this.headHint = db.collection('audit_head');
  }

  /** ensureIndexes creates the per-model index (idempotent); sequence and keys are _ids. */
  async ensureIndexes(): Promise<void> {
    await this.events.createIndex({ 'subject.model': 1, seq: -1 }, { name: 'model_seq' });
  }

  /** append adds an event at the chain's head; a retried append with the same key returns the original. */
  async append(input: AuditInput): Promise<AuditEvent> {
    const known = await this.keys.findOne({ _id: input.key });
    if (known) {
      const existing = await this.events.findOne({ _id: known.seq });
      if (existing) return existing;
    }
    for (let attempt = 0; attempt < 100; attempt++) {
      const head = await this.head();
      // A first attempt that wrote its event but died before its key: finish it.
      if (head?.key === input.key) {
        await insertKey(this.keys, input.key, head.seq);
        return head;
      }
      const seq = (head?.seq ?? 0) + 1;
      const prevHash = head?.hash ?? GENESIS_HASH;
      const base = { ...stripUndefined(input), seq, at: this.clock() };
      const event: AuditEvent = { _id: seq, ...base, prevHash, hash: eventHash(prevHash, base) };
      try {
        await this.events.insertOne(event);
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
        // Another writer took this number: back off a little, then read the new head.
        this.cachedSeq = Math.max(this.cachedSeq, seq);
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * Math.min(attempt + 1, 10)));
        continue;
      }
      this.cachedSeq = seq;
      await insertKey(this.keys, input.key, seq);
      await this.headHint.updateOne({ _id: 'head', seq: { $lt: seq } }, { $set: { seq } }, { upsert: true }).catch((e: unknown) => {
        if (!isDuplicateKey(e)) throw e; // a newer hint won the race: fine
      });
      return event;
    }
    throw new Error('audit log append kept losing the race for the next sequence number');
  }

  /** head finds the newest event: start from the hint (or what this process saw) and probe forward by _id. */
  private async head(): Promise<AuditEvent | null> {
    const hint = await this.headHint.findOne({ _id: 'head' });
    let seq = Math.max(this.cachedSeq, hint?.seq ?? 0);
    let event = seq > 0 ? await this.events.findOne({ _id: seq }) : null;
    for (;;) {
      const next = await this.events.findOne({ _id: seq + 1 });
      if (!next) break;
      event = next;
      seq += 1;
    }
    this.cachedSeq = seq;
    return event;
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
      if (_id !== event.seq || eventHash(prevHash, rest) !== hash) {
        return { ok: false, checked, brokenAt: { seq: event.seq, reason: 'content does not match its hash (edited)' } };
      }
      prevHash = hash;
      expectedSeq += 1;
      checked += 1;
    }
    return { ok: true, checked };
  }
}

async function insertKey(keys: Collection<{ _id: string; seq: number }>, key: string, seq: number): Promise<void> {
  try {
    await keys.insertOne({ _id: key, seq });
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
  }
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

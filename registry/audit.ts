/**
 * The append-only, tamper-evident audit log: every event carries the hash of
 * its predecessor in its model's chain, so editing or deleting one breaks the
 * chain from there on.
 */
import { createHash } from 'node:crypto';
import type { Collection, Db } from 'mongodb';
import { canonicalJson } from '../domain/canonical-json';
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
  /** `<chain>:<seq>`: unique, so two writers cannot both take the next number of a chain. */
  _id: string;
  /** The chain this event links into: one per model (busy models do not queue behind each other), `_global` for the rest. */
  chain: string;
  seq: number;
  at: Date;
  prevHash: string;
  hash: string;
}

/** ChainVerification is the result of walking the chain. */
export interface ChainVerification {
  ok: boolean;
  checked: number;
  brokenAt?: { chain: string; seq: number; reason: string };
}

/** eventHash computes an event's hash from its predecessor's hash and its own content. */
export function eventHash(prevHash: string, event: Omit<AuditEvent, 'hash' | 'prevHash' | '_id'>): string {
  const body = canonicalJson({
    chain: event.chain,
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

/** A process new to a chain probes at most this many events past the hint. */
const HINT_EVERY = 8;

/**
 * AuditLog appends to and verifies the chains, one per model (so busy models
 * never queue behind each other) plus `_global`. Every hot-path read is by
 * _id, the one lookup FerretDB 1.24 answers without scanning: events are keyed
 * `<chain>:<seq>` (the unique _id makes claiming the next number atomic),
 * `audit_keys` maps idempotency keys to events, and `audit_head` holds a hint
 * of each chain's newest number that appenders correct by probing forward.
 */
export class AuditLog {
  readonly events: Collection<AuditEvent>;
  private readonly keys: Collection<{ _id: string; eventId: string }>;
  private readonly headHint: Collection<{ _id: string; seq: number }>;
  private readonly cachedSeq = new Map<string, number>();

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
    await this.events.createIndex({ chain: 1, seq: 1 }, { name: 'chain_seq' });
  }

  /**
   * append adds an event at the head of its chain; a retried append with the same key returns the original.
   * `fresh` says the caller has just made what the event records, so no earlier attempt can have logged it.
   */
  async append(input: AuditInput, options: { fresh?: boolean } = {}): Promise<AuditEvent> {
    const known = options.fresh ? null : await this.keys.findOne({ _id: input.key });
    if (known) {
      const existing = await this.events.findOne({ _id: known.eventId });
      if (existing) return existing;
    }
    const chain = chainOf(input.subject);
    for (let attempt = 0; attempt < 100; attempt++) {
      const head = await this.head(chain);
      // A first attempt that wrote its event but died before its key: finish it.
      if (head?.key === input.key) {
        await insertKey(this.keys, input.key, head._id);
        return head;
      }
      const seq = (head?.seq ?? 0) + 1;
      const prevHash = head?.hash ?? GENESIS_HASH;
      const base = { ...stripUndefined(input), chain, seq, at: this.clock() };
      const event: AuditEvent = { _id: `${chain}:${seq}`, ...base, prevHash, hash: eventHash(prevHash, base) };
      try {
        await this.events.insertOne(event);
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
        // Another writer took this number: back off a little, then read the new head.
        this.cachedSeq.set(chain, Math.max(this.cachedSeq.get(chain) ?? 0, seq));
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * Math.min(attempt + 1, 10)));
        continue;
      }
      this.cachedSeq.set(chain, seq);
      await insertKey(this.keys, input.key, event._id);
      // The hint only spares other processes probes, so it is moved every HINT_EVERY events, not every one.
      if (seq % HINT_EVERY === 1) {
        // Filter by _id alone: FerretDB uses the _id index only for a filter with nothing else in it.
        await this.headHint.updateOne({ _id: chain }, { $max: { seq } }, { upsert: true }).catch((e: unknown) => {
          if (!isDuplicateKey(e)) throw e; // a newer hint won the race: fine
        });
      }
      return event;
    }
    throw new Error('audit log append kept losing the race for the next sequence number');
  }

  /** head finds a chain's newest event: start from the hint (or what this process saw) and probe forward by _id. */
  private async head(chain: string): Promise<AuditEvent | null> {
    // What this process saw is a floor (events are never deleted): only a chain it has not seen needs the hint.
    const cached = this.cachedSeq.get(chain);
    let seq = cached ?? (await this.headHint.findOne({ _id: chain }))?.seq ?? 0;
    let event = seq > 0 ? await this.events.findOne({ _id: `${chain}:${seq}` }) : null;
    if (seq > 0 && !event && cached !== undefined) {
      this.cachedSeq.delete(chain); // the database was replaced under us: trust it, not the memory
      return this.head(chain);
    }
    for (;;) {
      const next = await this.events.findOne({ _id: `${chain}:${seq + 1}` });
      if (!next) break;
      event = next;
      seq += 1;
    }
    this.cachedSeq.set(chain, seq);
    return event;
  }

  /** verify walks every chain in order, recomputing every hash and link. */
  async verify(): Promise<ChainVerification> {
    const chains = new Map<string, AuditEvent[]>();
    for await (const event of this.events.find({})) {
      const list = chains.get(event.chain) ?? [];
      list.push(event);
      chains.set(event.chain, list);
    }
    let checked = 0;
    for (const [chain, events] of [...chains].sort(([a], [b]) => a.localeCompare(b))) {
      events.sort((a, b) => a.seq - b.seq);
      let prevHash = GENESIS_HASH;
      let expectedSeq = 1;
      for (const event of events) {
        if (event.seq !== expectedSeq) {
          return { ok: false, checked, brokenAt: { chain, seq: expectedSeq, reason: `event ${expectedSeq} of chain ${chain} is missing (next is ${event.seq})` } };
        }
        if (event.prevHash !== prevHash) {
          return { ok: false, checked, brokenAt: { chain, seq: event.seq, reason: 'prevHash does not match the previous event' } };
        }
        const { _id, hash, prevHash: _p, ...rest } = event;
        if (_id !== `${chain}:${event.seq}` || eventHash(prevHash, rest) !== hash) {
          return { ok: false, checked, brokenAt: { chain, seq: event.seq, reason: 'content does not match its hash (edited)' } };
        }
        prevHash = hash;
        expectedSeq += 1;
        checked += 1;
      }
    }
    return { ok: true, checked };
  }
}

/** chainOf picks the chain an event belongs to: its model's, else the global one. */
export function chainOf(subject: AuditSubject): string {
  return subject.model ?? '_global';
}
async function insertKey(keys: Collection<{ _id: string; eventId: string }>, key: string, eventId: string): Promise<void> {
  try {
    await keys.insertOne({ _id: key, eventId });
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
  }
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

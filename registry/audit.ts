/**
 * The append-only, tamper-evident audit log: every event carries the hash of
 * its predecessor in its model's chain, so editing or deleting one breaks the
 * chain from there on. A process with a signing key also signs a checkpoint
 * of the chain's head after each append (`audit_checkpoints`), so deleting
 * the newest events or recomputing every hash after an edit is caught too.
 */
import { createHash } from 'node:crypto';
import type { Collection, Db } from 'mongodb';
import { canonicalJson } from '../domain/canonical-json';
import type { TrustedKeys } from '../domain/decisions';
// lib/signing imports only domain/: the one Ed25519 document verification, shared rather than copied.
import { verifyDocument } from '../lib/signing';
import { isDuplicateKey } from './errors';

/** CHECKPOINT_CONTEXT is the signing context of audit checkpoints (on the wire: never change it). */
export const CHECKPOINT_CONTEXT = 'slipway-audit-checkpoint-v1';

/** AuditSigner signs documents; lib/signing.ts's Signer is one. */
export interface AuditSigner {
  readonly keyId: string;
  readonly publicKey: string;
  signDocument(context: string, body: unknown): { keyId: string; signature: string };
}

/** CheckpointBody is what a checkpoint signs: a chain's head at a moment. */
export interface CheckpointBody {
  chain: string;
  seq: number;
  hash: string;
  /** ISO time of signing. */
  at: string;
}

/** AuditCheckpoint is a stored signed checkpoint, keyed `<chain>:<seq>` (the history of heads). */
export interface AuditCheckpoint extends CheckpointBody {
  _id: string;
  keyId: string;
  signature: string;
}

/** CheckpointSummary says, per chain, which signed checkpoint the verification trusted. */
export interface CheckpointSummary {
  chain: string;
  /** Checkpoints whose signature verified with a trusted key. */
  verified: number;
  /** The newest verified checkpoint, or null when the chain has none. */
  newest: { seq: number; at: string; keyId: string } | null;
}

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

/** AuditVerification is a chain walk plus what the signed checkpoints say. */
export interface AuditVerification extends ChainVerification {
  /** Per chain walked; empty when no trusted keys were given (checkpoints then are not checked). */
  checkpoints: CheckpointSummary[];
  checkpointsChecked: boolean;
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
  readonly checkpoints: Collection<AuditCheckpoint>;
  private readonly cachedSeq = new Map<string, number>();

  constructor(
    db: Db,
    private readonly clock: () => Date,
    /** Signs a checkpoint after every append; none when absent (checkpoints are then another process's job). */
    private readonly signer?: AuditSigner,
  ) {
    this.events = db.collection<AuditEvent>('audit_events');
    this.keys = db.collection('audit_keys');
    this.headHint = db.collection('audit_head');
    this.checkpoints = db.collection('audit_checkpoints');
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
      // One Ed25519 signature and one insert: cheap enough to checkpoint every append, so no tail goes unsigned.
      if (this.signer) await this.writeCheckpoint(event);
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

  /** checkpoint signs the current head of a chain (or of every chain) on demand; returns what it wrote. */
  async checkpoint(chain?: string): Promise<AuditCheckpoint[]> {
    if (!this.signer) throw new Error('audit checkpoint: no signing key configured; set SLIPWAY_AUDIT_SIGNING_KEY (or SLIPWAY_API_SIGNING_KEY for the API)');
    const chains = chain !== undefined ? [chain] : ((await this.events.distinct('chain', {})) as string[]).sort();
    const written: AuditCheckpoint[] = [];
    for (const c of chains) {
      const head = await this.head(c);
      if (head) written.push(await this.writeCheckpoint(head));
    }
    return written;
  }

  private async writeCheckpoint(event: AuditEvent): Promise<AuditCheckpoint> {
    const body: CheckpointBody = { chain: event.chain, seq: event.seq, hash: event.hash, at: this.clock().toISOString() };
    const { keyId, signature } = this.signer!.signDocument(CHECKPOINT_CONTEXT, body);
    const doc: AuditCheckpoint = { _id: `${event.chain}:${event.seq}`, ...body, keyId, signature };
    try {
      await this.checkpoints.insertOne(doc);
    } catch (err) {
      if (!isDuplicateKey(err)) throw err; // a retried append already checkpointed this head
    }
    return doc;
  }

  /** verify walks every chain in order, recomputing every hash and link. */
  async verify(): Promise<ChainVerification> {
    const { checkpoints: _c, checkpointsChecked: _k, ...walk } = await this.verifyAudit({});
    return walk;
  }

  /**
   * verifyAudit walks every chain (or one model's), recomputing every hash and link, then checks the
   * chain against every checkpoint signed by a trusted key: a checkpointed seq that is missing means
   * the newest events were deleted; a checkpointed hash that differs means events were edited and the
   * hashes recomputed. A checkpoint whose signature does not verify is reported as forged.
   */
  async verifyAudit(options: { model?: string; trustedKeys?: TrustedKeys }): Promise<AuditVerification> {
    const trusted = options.trustedKeys ?? {};
    const checkpointsChecked = Object.keys(trusted).length > 0;
    const filter = options.model !== undefined ? { chain: options.model } : {};
    const { chains, ...walked } = await this.walk(filter);
    const checkpoints: CheckpointSummary[] = [];
    if (!walked.ok || !checkpointsChecked) return { ...walked, checkpoints, checkpointsChecked };
    const byChain = new Map<string, AuditCheckpoint[]>();
    for await (const cp of this.checkpoints.find(filter)) byChain.set(cp.chain, [...(byChain.get(cp.chain) ?? []), cp]);
    for (const chain of [...new Set([...chains.keys(), ...byChain.keys()])].sort()) {
      const events = chains.get(chain) ?? [];
      const list = (byChain.get(chain) ?? []).sort((a, b) => a.seq - b.seq);
      let newest: CheckpointSummary['newest'] = null;
      for (const cp of list) {
        const body: CheckpointBody = { chain: cp.chain, seq: cp.seq, hash: cp.hash, at: cp.at };
        if (!verifyDocument(CHECKPOINT_CONTEXT, body, { keyId: cp.keyId, signature: cp.signature }, trusted)) {
          return broken(chain, cp.seq, `checkpoint at seq ${cp.seq} is not signed by a trusted key (key ${cp.keyId}): forged, or signed by a key missing from SLIPWAY_API_PUBLIC_KEYS`);
        }
        const event = events[cp.seq - 1];
        if (!event) {
          return broken(chain, events.length + 1, `events ${events.length + 1}..${cp.seq} of chain ${chain} are missing: a checkpoint signed at ${cp.at} covers seq ${cp.seq} (the newest events were deleted)`);
        }
        if (event.hash !== cp.hash) {
          // Checkpoints are checked oldest first, so this is the first checkpointed event whose hash changed.
          return broken(chain, cp.seq, `hash of event ${cp.seq} differs from the checkpoint signed at ${cp.at} (events were edited and the hashes recomputed)`);
        }
        newest = { seq: cp.seq, at: cp.at, keyId: cp.keyId };
      }
      checkpoints.push({ chain, verified: list.length, newest });
    }
    return { ok: true, checked: walked.checked, checkpoints, checkpointsChecked };

    function broken(chain: string, seq: number, reason: string): AuditVerification {
      return { ok: false, checked: walked.checked, brokenAt: { chain, seq, reason }, checkpoints, checkpointsChecked };
    }
  }

  private async walk(filter: { chain?: string }): Promise<ChainVerification & { chains: Map<string, AuditEvent[]> }> {
    const chains = new Map<string, AuditEvent[]>();
    for await (const event of this.events.find(filter)) {
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
          return { ok: false, checked, chains, brokenAt: { chain, seq: expectedSeq, reason: `event ${expectedSeq} of chain ${chain} is missing (next is ${event.seq})` } };
        }
        if (event.prevHash !== prevHash) {
          return { ok: false, checked, chains, brokenAt: { chain, seq: event.seq, reason: 'prevHash does not match the previous event' } };
        }
        const { _id, hash, prevHash: _p, ...rest } = event;
        if (_id !== `${chain}:${event.seq}` || eventHash(prevHash, rest) !== hash) {
          return { ok: false, checked, chains, brokenAt: { chain, seq: event.seq, reason: 'content does not match its hash (edited)' } };
        }
        prevHash = hash;
        expectedSeq += 1;
        checked += 1;
      }
    }
    return { ok: true, checked, chains };
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

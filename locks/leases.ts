/**
 * Environment leases: who holds the promotion lock of (model, env), kept as
 * one document per lock in the registry. Taking a lease is an insert with a
 * unique _id, the one write FerretDB 1.24 makes atomic, so the uncontended
 * case costs one insert and a read — no lock workflow, no signals.
 *
 * When a lease is taken, requesters queue in the (model, env) queue workflow,
 * which claims the lease for them in order. While it has waiters it keeps a
 * "waiting" marker document; a newcomer that took the lease on the fast path
 * but finds the marker gives the lease back and queues, so waiters (and
 * rollbacks at the front of the queue) are not overtaken.
 */
import type { Collection, Db } from 'mongodb';
import { isDuplicateKey } from '../registry/errors';

/** EnvLease is the lock document of one (model, env). */
export interface EnvLease {
  _id: string;
  model: string;
  env: string;
  holder: string;
  since: Date;
}

/** LeaseAttempt says whether a lease was taken, and who holds it if not. */
export type LeaseAttempt = { granted: true } | { granted: false; holder: string | null };

/** EnvLeases takes, gives back and inspects environment leases. */
export class EnvLeases {
  private readonly leases: Collection<EnvLease>;
  private readonly markers: Collection<{ _id: string; since: Date }>;

  constructor(
    db: Db,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.leases = db.collection('env_leases');
    this.markers = db.collection('env_lease_waiters');
  }

  /** take inserts the lease for holderId; taking a lease one already holds succeeds (retried activities). */
  async take(model: string, env: string, holderId: string): Promise<LeaseAttempt> {
    const _id = leaseKey(model, env);
    // The holder may give the lease back between our insert and our read: try again then.
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await this.leases.insertOne({ _id, model, env, holder: holderId, since: this.clock() });
        return { granted: true };
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
      }
      const current = await this.leases.findOne({ _id }, { projection: { holder: 1 } });
      if (current?.holder === holderId) return { granted: true };
      if (current) return { granted: false, holder: current.holder };
    }
    return { granted: false, holder: null };
  }

  /**
   * takeIfNoneWaiting is the fast path: take the lease unless requesters are
   * queued for it, in which case any lease taken is given back.
   */
  async takeIfNoneWaiting(model: string, env: string, holderId: string): Promise<LeaseAttempt> {
    const attempt = await this.take(model, env, holderId);
    if (!attempt.granted) return attempt;
    // The marker is read after our insert: a queue that formed before it is seen here,
    // and one that forms after it will find our lease when it claims.
    if (await this.markers.findOne({ _id: leaseKey(model, env) }, { projection: { _id: 1 } })) {
      await this.giveBack(model, env, holderId);
      return { granted: false, holder: null };
    }
    return { granted: true };
  }

  /** markWaiting records that requesters are queued for (model, env). */
  async markWaiting(model: string, env: string): Promise<void> {
    try {
      await this.markers.insertOne({ _id: leaseKey(model, env), since: this.clock() });
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
    }
  }

  /** anyWaiting says whether a queue has marked (model, env) as waited for. */
  async anyWaiting(model: string, env: string): Promise<boolean> {
    return (await this.markers.findOne({ _id: leaseKey(model, env) }, { projection: { _id: 1 } })) !== null;
  }

  /** clearWaiting removes the waiting marker once the queue is empty. */
  async clearWaiting(model: string, env: string): Promise<void> {
    await this.markers.deleteOne({ _id: leaseKey(model, env) });
  }

  /** giveBack frees the lease if holderId holds it; anything else is left alone. */
  async giveBack(model: string, env: string, holderId: string): Promise<boolean> {
    // Only the holder deletes its lease, and nobody can insert over it while it exists.
    const r = await this.leases.deleteOne({ _id: leaseKey(model, env), holder: holderId });
    return r.deletedCount === 1;
  }

  /** holderOf returns who holds (model, env), or null. */
  async holderOf(model: string, env: string): Promise<string | null> {
    return (await this.leases.findOne({ _id: leaseKey(model, env) }, { projection: { holder: 1 } }))?.holder ?? null;
  }
}

/** leaseKey is the _id of the lease (and waiting marker) of (model, env). */
export function leaseKey(model: string, env: string): string {
  return `${model}:${env}`;
}

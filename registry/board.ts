/**
 * The release board's reads: what is live for every (model, environment) and
 * which releases are in flight, in a handful of queries whatever the number
 * of models (one `live_heads` scan, batched `_id` lookups, one release query).
 */
import type { Db } from 'mongodb';
import { TERMINAL_STATUSES } from '../domain/outcome';
import type { ReleaseRecord } from './releases';
import type { Deployment } from './types';

/** BoardLive is the newest move of one (model, env) pointer. */
export type BoardLive = Deployment;

// A stale live_heads hint costs one more batched probe per round; a pointer moved this many times since its hint is read on the next poll.
const MAX_PROBE_ROUNDS = 8;

/** BoardReader reads the board's data straight from the registry's collections. */
export class BoardReader {
  constructor(private readonly db: Db) {}

  /**
   * liveEverywhere returns the newest move of every (model, env) pointer.
   * It starts from the `live_heads` hints (written after every move) and
   * probes forward by `_id` in batches, as registry/live.ts does one pointer at a time.
   */
  async liveEverywhere(): Promise<BoardLive[]> {
    const heads = await this.db.collection<{ _id: string; revision: number }>('live_heads').find({}).toArray();
    const deployments = this.db.collection<Deployment>('deployments');
    const newest = new Map<string, Deployment>();
    let probe = heads.map((h) => ({ key: h._id, revision: h.revision }));
    for (let round = 0; round < MAX_PROBE_ROUNDS && probe.length > 0; round++) {
      const found = await deployments.find({ _id: { $in: probe.map((p) => `${p.key}:${p.revision}`) } }).toArray();
      const byId = new Map(found.map((d) => [d._id, d]));
      const next: typeof probe = [];
      for (const p of probe) {
        const move = byId.get(`${p.key}:${p.revision}`);
        if (!move) continue;
        newest.set(p.key, move);
        next.push({ key: p.key, revision: p.revision + 1 });
      }
      probe = next;
    }
    return [...newest.values()].sort((a, b) => (a.model === b.model ? a.env.localeCompare(b.env) : a.model.localeCompare(b.model)));
  }

  /** inFlight returns the releases not yet ended, newest first (the `status_started` index serves it). */
  async inFlight(limit = 500): Promise<ReleaseRecord[]> {
    return this.db
      .collection<ReleaseRecord>('releases')
      .find({ status: { $nin: [...TERMINAL_STATUSES] } }, { sort: { startedAt: -1 }, limit })
      .toArray();
  }

  /** recentEnded returns the newest ended releases, for the board's "last release" per model. */
  async recentEnded(limit = 200): Promise<ReleaseRecord[]> {
    return this.db
      .collection<ReleaseRecord>('releases')
      .find({ status: { $in: [...TERMINAL_STATUSES] } }, { sort: { startedAt: -1 }, limit, projection: { stages: 0, ignoredMessages: 0, compensations: 0 } })
      .toArray();
  }
}

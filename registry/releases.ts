/**
 * Releases as the registry remembers them (a snapshot of the workflow's
 * state, written at each transition), and the health reports that serving
 * platforms post and bakes read.
 */
import type { Collection, Db } from 'mongodb';
import type { ReleaseState } from '../workflows/release/api';
import { isDuplicateKey } from './errors';

/** ReleaseRecord is a stored release snapshot; `revision` only grows. */
export interface ReleaseRecord extends Omit<ReleaseState, 'releaseId'> {
  _id: string;
  revision: number;
  recordedAt: Date;
}

/** HealthReport is one observation of a deployed version's health. */
export interface HealthReport {
  model: string;
  env: string;
  version: string;
  healthy: boolean;
  errorRate?: number;
  latencyP99Ms?: number;
  source: string;
  at: Date;
}

/** HealthReports is what health sources read: the reports posted for a deployed version. */
export interface HealthReports {
  /** healthSince returns the observations of a deployed version since a moment, newest first. */
  healthSince(model: string, env: string, version: string, since: Date): Promise<HealthReport[]>;
}

/** ReleaseStore keeps release snapshots in the `releases` collection, and the health reports. */
export class ReleaseStore implements HealthReports {
  readonly releases: Collection<ReleaseRecord>;
  readonly health: Collection<HealthReport>;

  constructor(db: Db, private readonly clock: () => Date = () => new Date()) {
    this.releases = db.collection('releases');
    this.health = db.collection('health_reports');
  }

  /** ensureIndexes creates the listing and health indexes (idempotent). */
  async ensureIndexes(): Promise<void> {
    await Promise.all([
      this.releases.createIndex({ model: 1, startedAt: -1 }, { name: 'model_started' }),
      this.releases.createIndex({ status: 1, startedAt: -1 }, { name: 'status_started' }),
      this.health.createIndex({ model: 1, env: 1, version: 1, at: -1 }, { name: 'model_env_version_at' }),
    ]);
  }

  /**
   * record stores a snapshot unless a newer one (higher revision) is already
   * there, so a retried or late activity never moves a release backwards.
   * Only _id lookups: FerretDB scans the collection for any other filter.
   * Each release writes its own document, one snapshot at a time.
   */
  async record(state: ReleaseState, revision: number): Promise<'stored' | 'stale'> {
    const { releaseId, ...rest } = state;
    const doc: ReleaseRecord = { _id: releaseId, ...rest, revision, recordedAt: this.clock() };
    // Two _id-only commands rather than one filtered on revision too: FerretDB uses the _id index
    // only when the filter holds nothing else, and would scan every release to apply it.
    for (let attempt = 0; attempt < 3; attempt++) {
      const current = await this.releases.findOne({ _id: releaseId }, { projection: { revision: 1 } });
      if (current && current.revision >= revision) return 'stale';
      if (current) {
        await this.releases.replaceOne({ _id: releaseId }, doc);
        return 'stored';
      }
      try {
        await this.releases.insertOne(doc);
        return 'stored';
      } catch (err) {
        if (!isDuplicateKey(err)) throw err; // someone inserted first: compare again
      }
    }
    return 'stale';
  }

  /** get returns a release snapshot by id. */
  async get(releaseId: string): Promise<ReleaseRecord | null> {
    return this.releases.findOne({ _id: releaseId });
  }

  /** list returns releases newest first, optionally by model and status. */
  async list(filter: { model?: string; status?: string; limit?: number; skip?: number } = {}): Promise<ReleaseRecord[]> {
    const query: Record<string, string> = {};
    if (filter.model !== undefined) query.model = filter.model;
    if (filter.status !== undefined) query.status = filter.status;
    return this.releases
      .find(query, { sort: { startedAt: -1 }, limit: filter.limit ?? 50, skip: filter.skip ?? 0 })
      .toArray();
  }

  /** reportHealth stores one health observation. */
  async reportHealth(report: Omit<HealthReport, 'at'> & { at?: Date }): Promise<void> {
    await this.health.insertOne({ ...report, at: report.at ?? this.clock() });
  }

  /** healthSince returns the observations of a deployed version since a moment, newest first. */
  async healthSince(model: string, env: string, version: string, since: Date): Promise<HealthReport[]> {
    return this.health.find({ model, env, version, at: { $gte: since } }, { sort: { at: -1 }, limit: 100 }).toArray();
  }
}

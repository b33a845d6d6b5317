/**
 * Releases as the registry remembers them (a snapshot of the workflow's
 * state, written at each transition), and the health reports that serving
 * platforms post and bakes read.
 */
import type { Collection, Db } from 'mongodb';
import type { VerifiedIdentity } from '../domain/decisions';
import type { ReleaseState } from '../workflows/release/api';
import { isDuplicateKey } from './errors';

/** ReleaseRecord is a stored release snapshot; `revision` only grows. */
export interface ReleaseRecord extends Omit<ReleaseState, 'releaseId'> {
  _id: string;
  revision: number;
  recordedAt: Date;
}

/** EarlierRun is the last snapshot of a run that a later run of the same release id replaced. */
export interface EarlierRun extends Omit<ReleaseRecord, '_id'> {
  _id: string;
  releaseId: string;
}

/** HealthReport is one observation of a deployed version's health. */
export interface HealthReport {
  model: string;
  env: string;
  version: string;
  healthy: boolean;
  errorRate?: number;
  latencyP99Ms?: number;
  /** A label the reporter chose (defaults to its user); says nothing about who reported. */
  source: string;
  /** Who posted it, as the API verified it (and the person behind a CI identity); absent on reports written directly or before it was recorded. */
  reportedBy?: VerifiedIdentity & { actor?: string };
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
  /** Earlier runs of a release id, keyed `<releaseId>@<startedAt>`, once a later run has replaced them. */
  readonly runsHistory: Collection<EarlierRun>;

  constructor(db: Db, private readonly clock: () => Date = () => new Date()) {
    this.releases = db.collection('releases');
    this.health = db.collection('health_reports');
    this.runsHistory = db.collection('release_runs');
  }

  /** ensureIndexes creates the listing and health indexes (idempotent). */
  async ensureIndexes(): Promise<void> {
    await Promise.all([
      this.releases.createIndex({ model: 1, startedAt: -1 }, { name: 'model_started' }),
      this.releases.createIndex({ status: 1, startedAt: -1 }, { name: 'status_started' }),
      this.runsHistory.createIndex({ releaseId: 1, startedAt: -1 }, { name: 'release_started' }),
      this.health.createIndex({ model: 1, env: 1, version: 1, at: -1 }, { name: 'model_env_version_at' }),
    ]);
  }

  /**
   * record stores a snapshot unless it would move the record backwards: a
   * snapshot of a later run (later `startedAt`: the same version started again
   * after its release ended) replaces an earlier run's record whatever its
   * revision, an earlier run's never replaces a later one's, and within one
   * run a higher revision wins. So a retried or late activity, of this run or
   * an earlier one, never moves a release backwards. The run a later one
   * replaces is kept in `release_runs` (see runs()).
   */
  async record(state: ReleaseState, revision: number): Promise<'stored' | 'stale'> {
    const { releaseId, ...rest } = state;
    const doc: ReleaseRecord = { _id: releaseId, ...rest, revision, recordedAt: this.clock() };
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = await this.releases.findOne({ _id: releaseId }, { projection: { revision: 1, startedAt: 1 } });
      if (!current) {
        try {
          await this.releases.insertOne(doc);
          return 'stored';
        } catch (err) {
          if (!isDuplicateKey(err)) throw err; // someone inserted first: compare again
          continue;
        }
      }
      const order = compareRuns(state.startedAt, current.startedAt);
      if (order < 0 || (order === 0 && current.revision >= revision)) return 'stale';
      if (order > 0) await this.keepEarlierRun(releaseId, current.startedAt);
      // Conditional on what was compared, so a write racing in between is compared again, not overwritten.
      const replaced = await this.releases.replaceOne({ _id: releaseId, revision: current.revision, startedAt: current.startedAt }, doc);
      if (replaced.matchedCount === 1) return 'stored';
    }
    return 'stale';
  }

  // Copies the earlier run's last snapshot aside before a later run replaces it; a retry copies nothing twice.
  private async keepEarlierRun(releaseId: string, startedAt: string): Promise<void> {
    const earlier = await this.releases.findOne({ _id: releaseId });
    if (!earlier || earlier.startedAt !== startedAt) return;
    const { _id, ...snapshot } = earlier;
    try {
      await this.runsHistory.insertOne({ ...snapshot, _id: runKey(_id, startedAt), releaseId: _id });
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
    }
  }

  /** runs returns every recorded run of a release, newest first: the current record, then the earlier runs it replaced. */
  async runs(releaseId: string): Promise<ReleaseRecord[]> {
    const [current, earlier] = await Promise.all([
      this.get(releaseId),
      this.runsHistory.find({ releaseId }, { sort: { startedAt: -1 }, limit: 100 }).toArray(),
    ]);
    const older = earlier.map(({ releaseId: id, ...run }) => ({ ...run, _id: id })).filter((run) => run.startedAt !== current?.startedAt);
    return current ? [current, ...older] : older;
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

// Orders two runs of one release id by start time (ISO timestamps; the workflow writes them, so they parse).
function compareRuns(a: string, b: string): number {
  const diff = Date.parse(a) - Date.parse(b);
  return Number.isNaN(diff) ? (a < b ? -1 : a > b ? 1 : 0) : Math.sign(diff);
}

function runKey(releaseId: string, startedAt: string): string {
  return `${releaseId}@${startedAt}`;
}

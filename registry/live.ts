/**
 * Live pointers: what is live for each (model, environment), kept as an
 * append-only log of moves (`deployments`), so what was live at any moment
 * stays answerable. A move's insert is its commit point; `deployment_ops`
 * maps each opKey to its move, and `live_heads` hints where reads of the
 * newest move start probing.
 */
import type { Collection, Db } from 'mongodb';
import { envNameSchema, modelNameSchema, versionSchema } from '../domain/model-version';
import type { AuditLog } from './audit';
import { insertIfAbsent } from './db';
import { ConcurrentUpdateError, InvalidInputError, isDuplicateKey } from './errors';
import { checkName } from './names';
import type { Deployment, LiveAtMoment, LivePointer, MoveLiveInput } from './types';

/** LivePointers moves live pointers and answers what is and was live where. */
export class LivePointers {
  readonly deployments: Collection<Deployment>;
  /** opKey → the move it made, so idempotency checks are _id lookups. */
  private readonly deploymentOps: Collection<{ _id: string; moveId: string }>;
  /** (model, env) → a recent revision, where reads of the live version start probing. */
  private readonly liveHeads: Collection<{ _id: string; revision: number }>;
  /** Newest revision this process has seen per (model, env): where live reads start probing. */
  private readonly seenRevision = new Map<string, number>();

  constructor(
    db: Db,
    private readonly audit: AuditLog,
    /** Throws NotFoundError for a version that is not registered: only registered versions go live. */
    private readonly requireVersion: (model: string, version: string) => Promise<unknown>,
    private readonly clock: () => Date,
  ) {
    this.deployments = db.collection('deployments');
    this.deploymentOps = db.collection('deployment_ops');
    this.liveHeads = db.collection('live_heads');
  }

  /** ensureIndexes creates the indexes the move log relies on. */
  async ensureIndexes(): Promise<void> {
    await Promise.all([
      this.deployments.createIndex({ opKey: 1 }, { unique: true, name: 'opkey_unique' }),
      this.deployments.createIndex({ model: 1, env: 1, revision: -1 }, { name: 'model_env_revision' }),
      this.deployments.createIndex({ model: 1, env: 1, startedAt: -1 }, { name: 'model_env_started' }),
      this.deployments.createIndex({ env: 1, model: 1 }, { name: 'env_model' }),
    ]);
  }

  /** getLive returns the newest move for (model, env) — what is live now — or null if nothing ever was. */
  async getLive(model: string, env: string): Promise<LivePointer | null> {
    return this.latestMove(checkName(modelNameSchema, 'model', model), checkName(envNameSchema, 'env', env));
  }

  /** pointersOf returns the live pointer of every environment a (checked) model was ever deployed to, by env name. */
  async pointersOf(model: string): Promise<LivePointer[]> {
    const envs = (await this.deployments.distinct('env', { model })).sort();
    const live = await Promise.all(envs.map((env) => this.latestMove(model, env)));
    return live.filter((p): p is LivePointer => p !== null);
  }

  /**
   * latestMove reads the newest move by _id only: from the `live_heads` hint
   * (written after each move, possibly behind) it probes forward to the first
   * revision that does not exist. FerretDB answers _id lookups without
   * scanning; a sorted find would read every deployment of every model.
   */
  private async latestMove(model: string, env: string): Promise<Deployment | null> {
    const key = `${model}:${env}`;
    // A revision this process has seen is a floor (moves are never deleted): start there without reading the hint.
    const seen = this.seenRevision.get(key);
    const start = seen ?? (await this.liveHeads.findOne({ _id: key }))?.revision ?? 0;
    let revision = start;
    let move = revision > 0 ? await this.deployments.findOne({ _id: `${key}:${revision}` }) : null;
    if (revision > 0 && !move && seen !== undefined) {
      this.seenRevision.delete(key); // the database was replaced under us: trust it, not the memory
      return this.latestMove(model, env);
    }
    for (;;) {
      const next = await this.deployments.findOne({ _id: `${key}:${revision + 1}` });
      if (!next) break;
      move = next;
      revision += 1;
    }
    if (move) this.seenRevision.set(key, revision);
    if (move && revision !== start) await this.advanceHead(key, revision);
    return move;
  }

  private async advanceHead(key: string, revision: number): Promise<void> {
    // Best effort and monotonic enough: a stale hint only costs a few probes.
    // Filter by _id alone: FerretDB uses the _id index only for a filter with nothing else in it.
    await this.liveHeads.updateOne({ _id: key }, { $max: { revision } }, { upsert: true }).catch((err: unknown) => {
      if (!isDuplicateKey(err)) throw err;
    });
  }

  /**
   * moveLivePointer makes a version live by appending the next move. The
   * insert is the commit point; a retry with the same opKey finds its move
   * and only completes the audit event, so nothing changes twice.
   */
  async moveLivePointer(input: MoveLiveInput): Promise<{ pointer: LivePointer; applied: boolean }> {
    const model = checkName(modelNameSchema, 'model', input.model);
    const env = checkName(envNameSchema, 'env', input.env);
    if (input.version !== null) await this.requireVersion(model, input.version);
    for (let attempt = 0; attempt < 20; attempt++) {
      const done = await this.findMoveFast(input.opKey);
      if (done) {
        await this.auditMove(done);
        return { pointer: done, applied: false };
      }
      const current = await this.latestMove(model, env);
      // A first attempt (or a racing retry) made the move but not its opKey entry yet: finish it.
      if (current?.opKey === input.opKey) {
        await insertIfAbsent(this.deploymentOps, { _id: input.opKey, moveId: current._id });
        await this.auditMove(current);
        return { pointer: current, applied: false };
      }
      const revision = (current?.revision ?? 0) + 1;
      if (input.expectedRevision !== undefined && revision - 1 !== input.expectedRevision) {
        throw new ConcurrentUpdateError(`live pointer ${model}@${env}`, input.expectedRevision);
      }
      const move: Deployment = {
        _id: `${model}:${env}:${revision}`,
        opKey: input.opKey,
        model,
        env,
        revision,
        version: input.version,
        previousVersion: current?.version ?? null,
        startedAt: this.clock(),
        releaseId: input.releaseId ?? null,
        by: input.by,
        reason: input.reason,
        health: 'ok',
        ...(input.target ? { target: input.target } : {}),
      };
      try {
        await this.deployments.insertOne(move);
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
        // Lost the race for this revision (or a concurrent retry of the same op won).
        if (input.expectedRevision !== undefined) {
          const winner = await this.deployments.findOne({ _id: move._id });
          if (winner?.opKey !== input.opKey) throw new ConcurrentUpdateError(`live pointer ${model}@${env}`, input.expectedRevision);
        }
        continue;
      }
      await insertIfAbsent(this.deploymentOps, { _id: input.opKey, moveId: move._id });
      this.seenRevision.set(`${model}:${env}`, Math.max(revision, this.seenRevision.get(`${model}:${env}`) ?? 0));
      await this.advanceHead(`${model}:${env}`, revision);
      await this.auditMove(move, true);
      return { pointer: move, applied: true };
    }
    throw new ConcurrentUpdateError(`live pointer ${model}@${env}`, undefined);
  }

  private async auditMove(move: Deployment, fresh = false): Promise<void> {
    await this.audit.append({
      key: `live:${move.opKey}`,
      actor: move.by,
      action: 'live.moved',
      subject: { model: move.model, env: move.env, ...(move.version ? { version: move.version } : {}), ...(move.releaseId ? { releaseId: move.releaseId } : {}) },
      reason: move.reason,
      details: { previousVersion: move.previousVersion, revision: move.revision, ...(move.target ? { target: move.target } : {}) },
    }, { fresh });
  }

  /** markDeploymentFailed flags the deployment a release rolled back, so it never counts as last known good. */
  async markDeploymentFailed(opKey: string, by: string, reason: string): Promise<void> {
    const move = await this.findMove(opKey);
    if (!move) return;
    await this.deployments.updateOne({ _id: move._id }, { $set: { health: 'failed' } });
    await this.audit.append({
      key: `failed:${opKey}`,
      actor: by,
      action: 'deployment.failed',
      subject: { model: move.model, env: move.env, ...(move.version ? { version: move.version } : {}), ...(move.releaseId ? { releaseId: move.releaseId } : {}) },
      reason,
    });
  }

  /** findMove returns the move made with an opKey, if any. */
  async findMove(opKey: string): Promise<Deployment | null> {
    // The slow scan covers the one window where a move exists without its opKey entry (a crash between the two writes).
    return (await this.findMoveFast(opKey)) ?? this.deployments.findOne({ opKey });
  }

  /** findMoveFast finds a move by opKey through `deployment_ops` (two _id lookups). */
  private async findMoveFast(opKey: string): Promise<Deployment | null> {
    const op = await this.deploymentOps.findOne({ _id: opKey });
    return op ? this.deployments.findOne({ _id: op.moveId }) : null;
  }

  /** liveAt answers "what was live in env at this moment"; null if nothing was. */
  async liveAt(model: string, env: string, at: Date): Promise<Deployment | null> {
    checkName(modelNameSchema, 'model', model);
    checkName(envNameSchema, 'env', env);
    checkMoment(at);
    const move = await this.deployments.findOne({ model, env, startedAt: { $lte: at } }, { sort: { startedAt: -1, revision: -1 } });
    if (!move || move.version === null) return null;
    const next = await this.deployments.findOne({ model, env, revision: { $gt: move.revision } }, { sort: { revision: 1 } });
    return { ...move, endedAt: next?.startedAt ?? null };
  }

  /** whatWasLiveAt answers "what was live at T" in `env`, or in every environment the model was ever deployed to. */
  async whatWasLiveAt(model: string, at: Date, env?: string): Promise<LiveAtMoment> {
    const m = checkName(modelNameSchema, 'model', model);
    checkMoment(at);
    const envs = env ? [env] : (await this.deployments.distinct('env', { model: m })).sort();
    const environments = await Promise.all(
      envs.map(async (e) => {
        const deployment = await this.liveAt(m, e, at);
        return { env: e, version: deployment?.version ?? null, since: deployment?.startedAt ?? null };
      }),
    );
    return { model: m, at: at.toISOString(), environments };
  }

  /**
   * lastKnownGood is the newest healthy deployment of a version other than
   * `excludingVersion`, before move `beforeRevision` (default: any).
   */
  async lastKnownGood(model: string, env: string, options: { excludingVersion?: string; beforeRevision?: number; excludingVersions?: string[] } = {}): Promise<Deployment | null> {
    checkName(modelNameSchema, 'model', model);
    checkName(envNameSchema, 'env', env);
    const filter: Record<string, unknown> = { model, env, health: 'ok', version: { $ne: null } };
    // Quarantined versions (excludingVersions) are never good to go back to.
    const excluded = [...(options.excludingVersion ? [options.excludingVersion] : []), ...(options.excludingVersions ?? [])].map((v) => checkName(versionSchema, 'version', v));
    if (excluded.length > 0) filter.version = { $nin: [null, ...excluded] };
    if (options.beforeRevision !== undefined) filter.revision = { $lt: options.beforeRevision };
    return this.deployments.findOne(filter, { sort: { revision: -1 } });
  }

  /**
   * lastDeploymentOf is the newest move that made `version` live in env, or null if it never was.
   * A rollback may restore a version only when this exists and is not marked failed.
   */
  async lastDeploymentOf(model: string, env: string, version: string): Promise<Deployment | null> {
    const m = checkName(modelNameSchema, 'model', model);
    const e = checkName(envNameSchema, 'env', env);
    const v = checkName(versionSchema, 'version', version);
    return this.deployments.findOne({ model: m, env: e, version: v }, { sort: { revision: -1 } });
  }

  /** deploymentHistory lists deployments newest first, with end times, for one environment or all. */
  async deploymentHistory(model: string, env?: string, limit = 100): Promise<Deployment[]> {
    const m = checkName(modelNameSchema, 'model', model);
    const envs = env !== undefined ? [checkName(envNameSchema, 'env', env)] : await this.deployments.distinct('env', { model: m });
    const perEnv = await Promise.all(
      envs.map(async (e) => {
        const moves = await this.deployments.find({ model: m, env: e }, { sort: { revision: -1 }, limit: limit + 1 }).toArray();
        // Each move ends when the next (newer) one starts.
        return moves.map((move, i) => ({ ...move, endedAt: i === 0 ? null : moves[i - 1]!.startedAt }));
      }),
    );
    return perEnv
      .flat()
      .filter((d) => d.version !== null)
      .sort((a, b) => b.startedAt.getTime() - a.startedAt.getTime() || b.revision - a.revision)
      .slice(0, limit);
  }

  /** liveInEnvironment lists what is live for every model in one environment. */
  async liveInEnvironment(env: string): Promise<LivePointer[]> {
    const e = checkName(envNameSchema, 'env', env);
    const models = (await this.deployments.distinct('model', { env: e })).sort();
    const live = await Promise.all(models.map((m) => this.latestMove(m, e)));
    return live.filter((p): p is LivePointer => p !== null && p.version !== null);
  }
}

/**
 * rollbackRefusal says why `version` may not be rolled back to in env (null: it may), given its newest
 * deployment there: only a version that was live in that environment, and not marked failed, is known good.
 */
export function rollbackRefusal(model: string, env: string, version: string, lastDeployment: Deployment | null): string | null {
  const instead = `start a release instead (slipway release start ${model} ${version}), so it passes the gates`;
  if (!lastDeployment) return `${model}@${version} was never live in ${env}, so a rollback cannot restore it; ${instead}`;
  if (lastDeployment.health === 'failed') return `${model}@${version} was marked failed when it was last live in ${env} (deployment ${lastDeployment._id}); ${instead}`;
  return null;
}

function checkMoment(at: Date): void {
  if (!(at instanceof Date) || Number.isNaN(at.getTime())) throw new InvalidInputError([{ field: 'at', reason: 'must be a valid date-time' }]);
}

/**
 * The model registry: immutable model versions, live pointers per
 * (model, environment) with full deployment history, protected aliases,
 * releases, pinned pipelines and the audit chain.
 *
 * Works on MongoDB 6/7 and FerretDB 1.24: single-document atomic updates with
 * a `revision` field for optimistic concurrency, unique indexes, and every
 * write keyed so a retried activity changes nothing twice. No transactions.
 */
import { createHash } from 'node:crypto';
import type { Collection, Db } from 'mongodb';
import type { z } from 'zod';
import {
  CONTENT_FIELDS,
  envNameSchema,
  formatZodIssues,
  modelNameSchema,
  registerVersionInputSchema,
  versionSchema,
  type ModelVersion,
  type RegisterVersionInput,
} from '../domain/model-version';
import { canonicalJson, type Pipeline } from '../domain/pipeline';
import { AuditLog } from './audit';
import {
  ConcurrentUpdateError,
  InvalidInputError,
  NotFoundError,
  ProtectedAliasError,
  VersionConflictError,
  isDuplicateKey,
} from './errors';

/** ModelDoc is one model: created by its first registration. */
export interface ModelDoc {
  _id: string;
  createdAt: Date;
  createdBy: string;
}

/** VersionDoc is a stored ModelVersion, keyed `<model>@<version>`. */
export interface VersionDoc extends ModelVersion {
  _id: string;
}

/**
 * Deployment is one move of a (model, env) live pointer: from `startedAt`
 * until the next move, `version` was live. The log of moves is the commit
 * point: `_id` = `<model>:<env>:<revision>` is unique, so of two writers
 * racing for the same revision exactly one insert wins — on MongoDB and on
 * FerretDB alike (FerretDB 1.24's filtered updates are not atomic, its
 * unique indexes are).
 */
export interface Deployment {
  _id: string;
  /** Idempotency key of the move (unique), e.g. `<releaseId>:<stage>:deploy`. */
  opKey: string;
  model: string;
  env: string;
  revision: number;
  /** null when the move left nothing live (undo of a first-ever deploy). */
  version: string | null;
  previousVersion: string | null;
  startedAt: Date;
  /** Filled in on reads from the next move; not stored. */
  endedAt?: Date | null;
  releaseId: string | null;
  by: string;
  reason: string;
  /** `failed` marks a deployment that its release rolled back: never "last known good". */
  health: 'ok' | 'failed';
}

/** LivePointer is what is live for (model, env) now: the newest move. */
export type LivePointer = Deployment;

/** AliasMove is one move of a named alias (champion, challenger); the newest is current. */
export interface AliasDoc {
  _id: string;
  model: string;
  alias: string;
  version: string;
  protected: boolean;
  revision: number;
  updatedAt: Date;
  updatedBy: string;
  releaseId: string | null;
}

/** PipelineDoc is a pipeline's exact content, stored once by hash so releases can pin it. */
export interface PipelineDoc {
  _id: string;
  name: string;
  source: string;
  pipeline: Pipeline;
  firstSeenAt: Date;
}

/** MoveLiveInput asks to make `version` live for (model, env). */
export interface MoveLiveInput {
  model: string;
  env: string;
  /** The version to make live, or null to leave nothing live (undo of a first-ever deploy). */
  version: string | null;
  /** Idempotency key, e.g. `<releaseId>:<stage>:deploy`. */
  opKey: string;
  by: string;
  reason: string;
  releaseId?: string;
  /** When given, the move fails with ConcurrentUpdateError unless the pointer is still at this revision. */
  expectedRevision?: number;
}



/** Registry is the system of record for models, versions and what is live where. */
export class Registry {
  readonly models: Collection<ModelDoc>;
  readonly versions: Collection<VersionDoc>;
  readonly deployments: Collection<Deployment>;
  /** opKey → the move it made, so idempotency checks are _id lookups. */
  readonly deploymentOps: Collection<{ _id: string; moveId: string }>;
  /** (model, env) → a recent revision, where reads of the live version start probing. */
  readonly liveHeads: Collection<{ _id: string; revision: number }>;
  readonly aliases: Collection<AliasDoc>;
  readonly pipelines: Collection<PipelineDoc>;
  readonly audit: AuditLog;
  private readonly storedPipelines = new Set<string>();
  /** Newest revision this process has seen per (model, env): where live reads start probing. */
  private readonly seenRevision = new Map<string, number>();

  constructor(
    readonly db: Db,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.models = db.collection('models');
    this.versions = db.collection('model_versions');
    this.deployments = db.collection('deployments');
    this.deploymentOps = db.collection('deployment_ops');
    this.liveHeads = db.collection('live_heads');
    this.aliases = db.collection('aliases');
    this.pipelines = db.collection('pipelines');
    this.audit = new AuditLog(db, clock);
  }

  /** ensureIndexes creates every index the registry relies on; safe to call at every start. */
  async ensureIndexes(): Promise<void> {
    await Promise.all([
      this.versions.createIndex({ model: 1, version: 1 }, { unique: true, name: 'model_version_unique' }),
      this.versions.createIndex({ model: 1, registeredAt: -1 }, { name: 'model_registered' }),
      this.deployments.createIndex({ opKey: 1 }, { unique: true, name: 'opkey_unique' }),
      this.deployments.createIndex({ model: 1, env: 1, revision: -1 }, { name: 'model_env_revision' }),
      this.deployments.createIndex({ model: 1, env: 1, startedAt: -1 }, { name: 'model_env_started' }),
      this.deployments.createIndex({ env: 1, model: 1 }, { name: 'env_model' }),
      this.aliases.createIndex({ model: 1, alias: 1, revision: -1 }, { name: 'model_alias_revision' }),
      this.audit.ensureIndexes(),
    ]);
  }

  // --- model versions -------------------------------------------------------

  /**
   * registerVersion stores an immutable version. The same content again is a
   * no-op returning the stored version; different content is a conflict.
   */
  async registerVersion(raw: unknown, by: string): Promise<{ version: VersionDoc; created: boolean }> {
    const parsed = registerVersionInputSchema.safeParse(raw);
    if (!parsed.success) throw new InvalidInputError(formatZodIssues(parsed.error));
    const input = parsed.data;
    const contentHash = hashContent(input);
    const doc: VersionDoc = {
      _id: versionKey(input.model, input.version),
      ...stripUndefined(input),
      registeredBy: by,
      registeredAt: this.clock(),
      contentHash,
    };
    try {
      await this.versions.insertOne(doc);
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      const existing = await this.versions.findOne({ _id: doc._id });
      if (!existing) throw err;
      if (existing.contentHash !== contentHash) throw new VersionConflictError(input.model, input.version, differingFields(existing, input));
      // Same content: finish what a crashed first attempt may have left undone.
      await this.afterRegister(existing);
      return { version: existing, created: false };
    }
    await this.afterRegister(doc, true);
    return { version: doc, created: true };
  }

  private async afterRegister(doc: VersionDoc, fresh = false): Promise<void> {
    await insertIfAbsent(this.models, { _id: doc.model, createdAt: doc.registeredAt, createdBy: doc.registeredBy });
    await this.audit.append({
      key: `register:${doc._id}`,
      actor: doc.registeredBy,
      action: 'version.registered',
      subject: { model: doc.model, version: doc.version },
      details: { sha256: doc.artifact.sha256, uri: doc.artifact.uri, contentHash: doc.contentHash },
    }, { fresh });
  }

  /** getVersion returns a registered version or throws NotFoundError. */
  async getVersion(model: string, version: string): Promise<VersionDoc> {
    const m = checkName(modelNameSchema, 'model', model);
    const v = checkName(versionSchema, 'version', version);
    const doc = await this.versions.findOne({ _id: versionKey(m, v) });
    if (!doc) {
      const known = await this.models.findOne({ _id: m });
      if (!known) throw new NotFoundError('model', m, 'register a version first with `slipway model register`');
      throw new NotFoundError('version', `${m}@${v}`, 'see `slipway model show ' + m + '`');
    }
    return doc;
  }

  /** listVersions lists a model's versions, newest first. */
  async listVersions(model: string, limit = 100): Promise<VersionDoc[]> {
    const m = checkName(modelNameSchema, 'model', model);
    return this.versions.find({ model: m }, { sort: { registeredAt: -1 }, limit }).toArray();
  }

  /** describeModel gathers a model's versions, live pointers and aliases, or throws NotFoundError. */
  async describeModel(model: string): Promise<{ model: ModelDoc; versions: VersionDoc[]; live: LivePointer[]; aliases: AliasDoc[] }> {
    const m = checkName(modelNameSchema, 'model', model);
    const doc = await this.models.findOne({ _id: m });
    if (!doc) throw new NotFoundError('model', m, 'register a version first with `slipway model register`');
    const envs = (await this.deployments.distinct('env', { model: m })).sort();
    const aliasNames = (await this.aliases.distinct('alias', { model: m })).sort();
    const [versions, live, aliases] = await Promise.all([
      this.listVersions(m),
      Promise.all(envs.map((env) => this.latestMove(m, env))),
      Promise.all(aliasNames.map((alias) => this.getAlias(m, alias))),
    ]);
    return {
      model: doc,
      versions,
      live: live.filter((p): p is LivePointer => p !== null),
      aliases: aliases.filter((a): a is AliasDoc => a !== null),
    };
  }

  // --- live pointers and history ---------------------------------------------

  /** getLive returns the newest move for (model, env) — what is live now — or null if nothing ever was. */
  async getLive(model: string, env: string): Promise<LivePointer | null> {
    return this.latestMove(checkName(modelNameSchema, 'model', model), checkName(envNameSchema, 'env', env));
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
    if (input.version !== null) await this.getVersion(model, input.version);
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
      details: { previousVersion: move.previousVersion, revision: move.revision },
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
    if (!(at instanceof Date) || Number.isNaN(at.getTime())) throw new InvalidInputError([{ field: 'at', reason: 'must be a valid date-time' }]);
    const move = await this.deployments.findOne({ model, env, startedAt: { $lte: at } }, { sort: { startedAt: -1, revision: -1 } });
    if (!move || move.version === null) return null;
    const next = await this.deployments.findOne({ model, env, revision: { $gt: move.revision } }, { sort: { revision: 1 } });
    return { ...move, endedAt: next?.startedAt ?? null };
  }

  /**
   * lastKnownGood is the newest healthy deployment of a version other than
   * `excludingVersion`, before move `beforeRevision` (default: any).
   */
  async lastKnownGood(model: string, env: string, options: { excludingVersion?: string; beforeRevision?: number } = {}): Promise<Deployment | null> {
    checkName(modelNameSchema, 'model', model);
    checkName(envNameSchema, 'env', env);
    const filter: Record<string, unknown> = { model, env, health: 'ok', version: { $ne: null } };
    if (options.excludingVersion) filter.version = { $nin: [null, checkName(versionSchema, 'version', options.excludingVersion)] };
    if (options.beforeRevision !== undefined) filter.revision = { $lt: options.beforeRevision };
    return this.deployments.findOne(filter, { sort: { revision: -1 } });
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

  // --- aliases ----------------------------------------------------------------

  /** getAlias returns the current target of an alias, or null. */
  async getAlias(model: string, alias: string): Promise<AliasDoc | null> {
    return this.aliases.findOne({ model: checkName(modelNameSchema, 'model', model), alias: checkName(envNameSchema, 'alias', alias) }, { sort: { revision: -1 } });
  }

  /** setAlias points an alias at a version; a protected alias moves only with a releaseId. */
  async setAlias(input: {
    model: string;
    alias: string;
    version: string;
    by: string;
    releaseId?: string;
    protect?: boolean;
    expectedRevision?: number;
  }): Promise<AliasDoc> {
    const model = checkName(modelNameSchema, 'model', input.model);
    const alias = checkName(envNameSchema, 'alias', input.alias);
    await this.getVersion(model, input.version);
    const current = await this.getAlias(model, alias);
    if (current?.protected && !input.releaseId) throw new ProtectedAliasError(model, alias);
    const revision = (current?.revision ?? 0) + 1;
    if (input.expectedRevision !== undefined && revision - 1 !== input.expectedRevision) {
      throw new ConcurrentUpdateError(`alias ${model}:${alias}`, input.expectedRevision);
    }
    const next: AliasDoc = {
      _id: `${model}:${alias}:${revision}`,
      model,
      alias,
      version: input.version,
      protected: input.protect ?? current?.protected ?? false,
      revision,
      updatedAt: this.clock(),
      updatedBy: input.by,
      releaseId: input.releaseId ?? null,
    };
    try {
      await this.aliases.insertOne(next);
    } catch (err) {
      if (isDuplicateKey(err)) throw new ConcurrentUpdateError(`alias ${model}:${alias}`, revision - 1);
      throw err;
    }
    await this.audit.append({
      key: `alias:${next._id}`,
      actor: input.by,
      action: 'alias.moved',
      subject: { model, alias, version: input.version, ...(input.releaseId ? { releaseId: input.releaseId } : {}) },
      details: { previousVersion: current?.version ?? null, protected: next.protected },
    });
    return next;
  }

  // --- pipelines --------------------------------------------------------------

  /** storePipeline keeps each distinct pipeline content once, by hash, and returns the hash. */
  async storePipeline(pipeline: Pipeline, source: string): Promise<string> {
    const hash = pipelineHash(pipeline);
    // Stored pipelines never change or go away, so each is written once per process, not once per release.
    if (this.storedPipelines.has(hash)) return hash;
    await insertIfAbsent(this.pipelines, { _id: hash, name: pipeline.name, source, pipeline, firstSeenAt: this.clock() });
    this.storedPipelines.add(hash);
    return hash;
  }

  /** getPipeline returns a pinned pipeline by hash. */
  async getPipeline(hash: string): Promise<PipelineDoc | null> {
    return this.pipelines.findOne({ _id: hash });
  }
}

/**
 * insertIfAbsent writes a document keyed by _id once. Racing writers of the
 * same key both succeed: one inserts, the other's duplicate-key error means
 * "already there" (FerretDB reports racing upserts that way too).
 */
export async function insertIfAbsent<T extends { _id: string }>(collection: Collection<T>, doc: T): Promise<void> {
  try {
    await collection.insertOne(doc as Parameters<Collection<T>['insertOne']>[0]);
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
  }
}

/** versionKey is the _id of a version document. */
export function versionKey(model: string, version: string): string {
  return `${model}@${version}`;
}

/** pipelineHash is the sha256 of a pipeline's canonical JSON. */
export function pipelineHash(pipeline: Pipeline): string {
  return createHash('sha256').update(canonicalJson(pipeline)).digest('hex');
}

function hashContent(input: RegisterVersionInput): string {
  const content = Object.fromEntries(CONTENT_FIELDS.map((f) => [f, input[f] ?? null]));
  return createHash('sha256').update(canonicalJson(content)).digest('hex');
}

function differingFields(existing: VersionDoc, input: RegisterVersionInput): string[] {
  const fields = CONTENT_FIELDS.filter(
    (f) => canonicalJson(existing[f] ?? null) !== canonicalJson(input[f] ?? null),
  );
  return fields.length > 0 ? fields : ['content'];
}

/** checkName validates a name at the edge, so no object or `$`-string ever reaches a query. */
function checkName(schema: z.ZodType<string>, field: string, value: unknown): string {
  const result = schema.safeParse(value);
  if (!result.success) {
    const shown = typeof value === 'string' ? `"${value.slice(0, 80)}"` : `a${typeof value === 'object' ? 'n' : ''} ${typeof value}`;
    throw new InvalidInputError([{ field, reason: `${shown} is not allowed: ${result.error.issues[0]?.message ?? 'invalid'}` }]);
  }
  return result.data;
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/**
 * The model registry: immutable model versions, live pointers per
 * (model, environment) with full deployment history (kept by registry/live.ts),
 * protected aliases, pinned pipelines and the audit chain, behind the
 * ModelRegistry interface (registry/types.ts).
 *
 * Works on MongoDB 6/7 and FerretDB 1.24: single-document atomic updates with
 * a `revision` field for optimistic concurrency, unique indexes, and every
 * write keyed so a retried activity changes nothing twice. No transactions.
 */
import { createHash } from 'node:crypto';
import type { Collection, Db } from 'mongodb';
import {
  CONTENT_FIELDS,
  envNameSchema,
  formatZodIssues,
  modelNameSchema,
  registerVersionInputSchema,
  versionSchema,
  type RegisterVersionInput,
} from '../domain/model-version';
import { canonicalJson, type Pipeline } from '../domain/pipeline';
import { AuditLog, type AuditSigner } from './audit';
import { LineControlStore, type LineEventPublisher } from './line-controls';
import { insertIfAbsent } from './db';
import { ConcurrentUpdateError, InvalidInputError, NotFoundError, ProtectedAliasError, VersionConflictError, isDuplicateKey } from './errors';
import { LivePointers } from './live';
import { checkName } from './names';
import type {
  AliasDoc,
  AliasInput,
  Deployment,
  LiveAtMoment,
  LivePointer,
  ModelDescription,
  ModelDoc,
  ModelRegistry,
  MoveLiveInput,
  PipelineDoc,
  VersionDoc,
} from './types';

/** Registry is the system of record for models, versions and what is live where, on MongoDB or FerretDB. */
export class Registry implements ModelRegistry {
  readonly models: Collection<ModelDoc>;
  readonly versions: Collection<VersionDoc>;
  /** The live pointers' move log, for DORA metrics (registry/dora.ts). */
  readonly deployments: Collection<Deployment>;
  readonly aliases: Collection<AliasDoc>;
  readonly pipelines: Collection<PipelineDoc>;
  readonly audit: AuditLog;
  /** Stops of the line and quarantined versions (registry/line-controls.ts). */
  readonly lineControls: LineControlStore;
  private readonly live: LivePointers;
  private readonly storedPipelines = new Set<string>();

  constructor(
    readonly db: Db,
    private readonly clock: () => Date = () => new Date(),
    /** auditSigner signs a checkpoint of the audit chain after each append (registry/audit.ts). */
    options: { auditSigner?: AuditSigner; publishLineEvent?: LineEventPublisher } = {},
  ) {
    this.models = db.collection('models');
    this.versions = db.collection('model_versions');
    this.aliases = db.collection('aliases');
    this.pipelines = db.collection('pipelines');
    this.audit = new AuditLog(db, clock, options.auditSigner);
    this.lineControls = new LineControlStore(db, this.audit, clock, options.publishLineEvent);
    this.live = new LivePointers(db, this.audit, (model, version) => this.getVersion(model, version), clock);
    this.deployments = this.live.deployments;
  }

  /** ensureIndexes creates every index the registry relies on; safe to call at every start. */
  async ensureIndexes(): Promise<void> {
    await Promise.all([
      this.versions.createIndex({ model: 1, version: 1 }, { unique: true, name: 'model_version_unique' }),
      this.versions.createIndex({ model: 1, registeredAt: -1 }, { name: 'model_registered' }),
      this.live.ensureIndexes(),
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

  /** findVersion returns a registered version or null; for names the registry itself handed out (no NotFoundError, no name check). */
  async findVersion(model: string, version: string): Promise<VersionDoc | null> {
    return this.versions.findOne({ _id: versionKey(model, version) });
  }

  /** describeModel gathers a model's versions, live pointers and aliases, or throws NotFoundError. */
  async describeModel(model: string): Promise<ModelDescription> {
    const m = checkName(modelNameSchema, 'model', model);
    const doc = await this.models.findOne({ _id: m });
    if (!doc) throw new NotFoundError('model', m, 'register a version first with `slipway model register`');
    const aliasNames = (await this.aliases.distinct('alias', { model: m })).sort();
    const [versions, live, aliases] = await Promise.all([
      this.listVersions(m),
      this.live.pointersOf(m),
      Promise.all(aliasNames.map((alias) => this.getAlias(m, alias))),
    ]);
    return { model: doc, versions, live, aliases: aliases.filter((a): a is AliasDoc => a !== null) };
  }

  // --- live pointers and history (registry/live.ts) ---------------------------

  /** getLive returns what is live for (model, env) now, or null if nothing ever was. */
  getLive(model: string, env: string): Promise<LivePointer | null> {
    return this.live.getLive(model, env);
  }

  /** moveLivePointer makes a version live; a retry with the same opKey changes nothing twice. */
  moveLivePointer(input: MoveLiveInput): Promise<{ pointer: LivePointer; applied: boolean }> {
    return this.live.moveLivePointer(input);
  }

  /** markDeploymentFailed flags the deployment a release rolled back, so it never counts as last known good. */
  markDeploymentFailed(opKey: string, by: string, reason: string): Promise<void> {
    return this.live.markDeploymentFailed(opKey, by, reason);
  }

  /** findMove returns the move made with an opKey, if any. */
  findMove(opKey: string): Promise<Deployment | null> {
    return this.live.findMove(opKey);
  }

  /** lastKnownGood is the newest healthy deployment of a version other than `excludingVersion` or a quarantined one, before move `beforeRevision`. */
  async lastKnownGood(model: string, env: string, options: { excludingVersion?: string; beforeRevision?: number } = {}): Promise<Deployment | null> {
    const quarantined = (await this.lineControls.quarantined(model)).map((q) => q.version);
    return this.live.lastKnownGood(model, env, { ...options, excludingVersions: quarantined });
  }

  /** lastDeploymentOf is the newest move that made `version` live in env, or null if it never was. */
  lastDeploymentOf(model: string, env: string, version: string): Promise<Deployment | null> {
    return this.live.lastDeploymentOf(model, env, version);
  }

  /** liveAt answers "what was live in env at this moment"; null if nothing was. */
  liveAt(model: string, env: string, at: Date): Promise<Deployment | null> {
    return this.live.liveAt(model, env, at);
  }

  /** whatWasLiveAt answers "what was live at T" in `env`, or in every environment the model was ever deployed to. */
  whatWasLiveAt(model: string, at: Date, env?: string): Promise<LiveAtMoment> {
    return this.live.whatWasLiveAt(model, at, env);
  }

  /** deploymentHistory lists deployments newest first, with end times, for one environment or all. */
  deploymentHistory(model: string, env?: string, limit = 100): Promise<Deployment[]> {
    return this.live.deploymentHistory(model, env, limit);
  }

  /** liveInEnvironment lists what is live for every model in one environment. */
  liveInEnvironment(env: string): Promise<LivePointer[]> {
    return this.live.liveInEnvironment(env);
  }

  // --- aliases ----------------------------------------------------------------

  /** getAlias returns the current target of an alias, or null. */
  async getAlias(model: string, alias: string): Promise<AliasDoc | null> {
    return this.aliases.findOne({ model: checkName(modelNameSchema, 'model', model), alias: checkName(envNameSchema, 'alias', alias) }, { sort: { revision: -1 } });
  }

  /** setAlias points an alias at a version; a protected alias moves only with a releaseId. */
  async setAlias(input: AliasInput): Promise<AliasDoc> {
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

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

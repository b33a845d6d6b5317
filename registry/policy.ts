/**
 * Release policy kept on the server: named pipelines, applied and versioned
 * (every change a numbered revision, the content stored once by hash in the
 * same `pipelines` collection releases pin from), and the binding of each
 * model to the pipeline its releases follow. Every change is an audit event:
 * applies in the `_global` chain, bindings in the model's.
 *
 * FerretDB 1.24: every read is by _id, and the commit points are inserts
 * with a unique _id (`<name>:<revision>`), never a filtered update, so two
 * concurrent applies both keep their revision.
 */
import { checkPipelineSecrets } from '../domain/pipeline-secrets';
import { NO_SECRETS, type SecretEnvAllow } from '../domain/secret-env';
import { randomUUID } from 'node:crypto';
import type { Collection, Db } from 'mongodb';
import { modelNameSchema } from '../domain/model-version';
import { DEFAULT_TARGET } from '../domain/default-target';
import { PipelineError, parsePipeline, pipelineNameSchema, type Pipeline, type PipelineIssue } from '../domain/pipeline';
import { HEALTH_SOURCE_LIMITS, HEALTH_SOURCE_NAMES, type HealthLimit } from '../health/names';
import { TARGET_NAMES, WEIGHTED_TARGETS } from '../targets/names';
import { AuditLog, type AuditSigner } from './audit';
import { insertIfAbsent } from './db';
import { InvalidInputError, NotFoundError, isDuplicateKey } from './errors';
import { checkName } from './names';
import { pipelineHash } from './registry';
import type {
  AppliedPipeline,
  BoundPipeline,
  ModelBinding,
  PipelineDoc,
  PipelineHeadHint,
  PipelineRevision,
  PipelineSummary,
  PipelineView,
} from './types';

/** PluginNames are the deploy targets and health sources a pipeline may name. */
export interface PluginNames {
  targets: readonly string[];
  healthSources: readonly string[];
  /** Of `targets`, those that split traffic by weight: only these may run a canary. */
  weightedTargets: readonly string[];
}

/** REGISTERED_PLUGINS are the names every worker's registered targets and health sources answer to. */
export const REGISTERED_PLUGINS: PluginNames = { targets: TARGET_NAMES, healthSources: HEALTH_SOURCE_NAMES, weightedTargets: WEIGHTED_TARGETS };

/** PolicyStoreOptions are the store's clock and, for workers that register extra plugins, the names they add. */
export interface PolicyStoreOptions {
  clock?: () => Date;
  /** Added to REGISTERED_PLUGINS: targets or health sources a custom worker registers (tests, embedders), and which of its targets split traffic. */
  extraPlugins?: Partial<PluginNames>;
  /** Signs a checkpoint of the audit chain after each policy change (the API's key). */
  auditSigner?: AuditSigner;
  /** SLIPWAY_SECRET_ENV_ALLOW as this process read it: a pipeline naming any other secret variable is refused on apply (default: none allowed). */
  secretEnvAllow?: SecretEnvAllow;
}

// Applies racing for the same name retry this often before giving up; each loss means another revision landed.
const MAX_APPLY_ATTEMPTS = 50;

/** PolicyStore keeps named pipelines with their revisions and the model → pipeline bindings. */
export class PolicyStore {
  readonly pipelines: Collection<PipelineDoc>;
  readonly revisions: Collection<PipelineRevision>;
  readonly heads: Collection<PipelineHeadHint>;
  readonly bindings: Collection<ModelBinding>;
  readonly audit: AuditLog;
  private readonly clock: () => Date;
  private readonly plugins: PluginNames;
  private readonly secretEnvAllow: SecretEnvAllow;
  // Content by hash and a name's head hint are written once and never removed, so each is written once per process (direct-mode starts apply on every start).
  private readonly written = new Set<string>();

  constructor(db: Db, options: PolicyStoreOptions = {}) {
    this.clock = options.clock ?? (() => new Date());
    this.secretEnvAllow = options.secretEnvAllow ?? NO_SECRETS;
    this.pipelines = db.collection('pipelines');
    this.revisions = db.collection('pipeline_revisions');
    this.heads = db.collection('pipeline_heads');
    this.bindings = db.collection('model_bindings');
    this.audit = new AuditLog(db, this.clock, options.auditSigner);
    this.plugins = {
      targets: [...REGISTERED_PLUGINS.targets, ...(options.extraPlugins?.targets ?? [])],
      healthSources: [...REGISTERED_PLUGINS.healthSources, ...(options.extraPlugins?.healthSources ?? [])],
      weightedTargets: [...REGISTERED_PLUGINS.weightedTargets, ...(options.extraPlugins?.weightedTargets ?? [])],
    };
  }

  /**
   * applyPipeline validates pipeline YAML (gates by the parser, targets and
   * health sources here) and makes it the named pipeline's next revision.
   * The same content as the current head changes nothing (`changed: false`).
   */
  async applyPipeline(source: string, file: string, actor: string): Promise<AppliedPipeline> {
    const by = checkActor(actor);
    if (typeof file !== 'string' || file === '' || file.length > 256) throw new InvalidInputError([{ field: 'file', reason: 'must name where the pipeline text came from (1-256 characters)' }]);
    const pipeline = parsePipeline(source, file);
    const issues = [...checkPluginNames(pipeline, file, this.plugins), ...checkPipelineSecrets(pipeline, file, this.secretEnvAllow)];
    if (issues.length > 0) throw new PipelineError(issues);
    const { name } = pipeline;
    const hash = pipelineHash(pipeline);
    // Content first: a revision never points at a hash that is not stored.
    await this.writeOnce(`content:${hash}`, () => insertIfAbsent(this.pipelines, { _id: hash, name, source, pipeline, firstSeenAt: this.clock() }));
    // Listed from the first apply on, even if this process dies before its revision lands.
    await this.writeOnce(`head:${name}`, () => insertIfAbsent(this.heads, { _id: name, revision: 0 }));
    for (let attempt = 0; attempt < MAX_APPLY_ATTEMPTS; attempt++) {
      const head = await this.head(name);
      if (head?.hash === hash) {
        // Finish what an apply that died between its revision and its audit event left undone.
        await this.auditApply(head, false);
        return { name, hash, revision: head.revision, changed: false };
      }
      const revision: PipelineRevision = {
        _id: revisionKey(name, (head?.revision ?? 0) + 1),
        name,
        revision: (head?.revision ?? 0) + 1,
        hash,
        previousHash: head?.hash ?? null,
        file,
        appliedBy: by,
        appliedAt: this.clock(),
      };
      try {
        await this.revisions.insertOne(revision);
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
        // Another apply took this number: re-read the head (it may even be our content) and take the next.
        continue;
      }
      await this.heads.updateOne({ _id: name }, { $max: { revision: revision.revision } }).catch((e: unknown) => {
        if (!isDuplicateKey(e)) throw e;
      });
      await this.auditApply(revision, true);
      return { name, hash, revision: revision.revision, changed: true };
    }
    throw new Error(`pipeline ${name}: ${MAX_APPLY_ATTEMPTS} concurrent applies in a row took the next revision; apply again`);
  }

  /** listPipelines lists every named pipeline with its current head, by name. */
  async listPipelines(): Promise<PipelineSummary[]> {
    const names = (await this.heads.find({}).toArray()).map((h) => h._id).sort();
    const heads = await Promise.all(names.map((name) => this.head(name)));
    return heads.filter((h): h is PipelineRevision => h !== null).map(summaryOf);
  }

  /** hasPipeline tells whether a named pipeline has been applied. */
  async hasPipeline(name: string): Promise<boolean> {
    return (await this.head(checkName(pipelineNameSchema, 'pipeline', name))) !== null;
  }

  /** showPipeline returns a named pipeline's head, or one revision of it, with its text; NotFoundError names the fix. */
  async showPipeline(name: string, revision?: number): Promise<PipelineView> {
    const n = checkName(pipelineNameSchema, 'pipeline', name);
    let doc: PipelineRevision | null;
    if (revision === undefined) {
      doc = await this.head(n);
      if (!doc) throw new NotFoundError('pipeline', n, 'apply it with `slipway pipeline apply <file.yaml>`; see `slipway pipeline list`');
    } else {
      if (!Number.isInteger(revision) || revision < 1) throw new InvalidInputError([{ field: 'revision', reason: `must be a whole number >= 1, got ${String(revision)}` }]);
      doc = await this.revisions.findOne({ _id: revisionKey(n, revision) });
      if (!doc) throw new NotFoundError('pipeline revision', `${n} revision ${revision}`, `see \`slipway pipeline show ${n}\` for the current revision`);
    }
    const content = await this.content(doc.hash);
    return { ...summaryOf(doc), source: content.source, pipeline: content.pipeline };
  }

  /** bindModel makes a model's releases follow a named pipeline (its head at each start); the pipeline must have been applied. */
  async bindModel(model: string, pipelineName: string, actor: string): Promise<{ binding: ModelBinding; changed: boolean }> {
    const m = checkName(modelNameSchema, 'model', model);
    const p = checkName(pipelineNameSchema, 'pipeline', pipelineName);
    const by = checkActor(actor);
    const head = await this.head(p);
    if (!head) {
      throw new InvalidInputError([{ field: 'pipeline', reason: `no pipeline named "${p}" on the server; apply it first with \`slipway pipeline apply <file.yaml>\` (see \`slipway pipeline list\`)` }]);
    }
    const current = await this.bindings.findOne({ _id: m });
    if (current?.pipeline === p) {
      await this.auditBind(current, head, false);
      return { binding: current, changed: false };
    }
    const boundAt = this.clock();
    const binding: ModelBinding = {
      _id: m,
      pipeline: p,
      previousPipeline: current?.pipeline ?? null,
      boundBy: by,
      boundAt,
      // Unique per bind: two binds of the same model are two events, a retry of one is not.
      auditKey: `bind:${m}:${boundAt.toISOString()}:${randomUUID()}`,
    };
    try {
      await this.bindings.replaceOne({ _id: m }, binding, { upsert: true });
    } catch (err) {
      // FerretDB reports two racing upserts of one _id as a duplicate key: the document exists now, so replace it.
      if (!isDuplicateKey(err)) throw err;
      await this.bindings.replaceOne({ _id: m }, binding);
    }
    await this.auditBind(binding, head, true);
    return { binding, changed: true };
  }

  /** binding returns the pipeline a model is bound to, or null. */
  async binding(model: string): Promise<ModelBinding | null> {
    return this.bindings.findOne({ _id: checkName(modelNameSchema, 'model', model) });
  }

  /** boundPipeline is the CURRENT head of the model's bound pipeline (what a release starting now follows), or null when the model is not bound. */
  async boundPipeline(model: string): Promise<BoundPipeline | null> {
    const binding = await this.binding(model);
    if (!binding) return null;
    const head = await this.head(binding.pipeline);
    // Pipelines are never deleted, so this means the database was edited by hand.
    if (!head) throw new NotFoundError('pipeline', binding.pipeline, `${binding._id} is bound to it; apply it again with \`slipway pipeline apply\``);
    const content = await this.content(head.hash);
    return { name: head.name, hash: head.hash, revision: head.revision, pipeline: content.pipeline, source: content.source };
  }

  // The newest revision: from the hint, probing forward by _id (a stale hint costs one lookup per revision it missed).
  private async head(name: string): Promise<PipelineRevision | null> {
    const hinted = (await this.heads.findOne({ _id: name }))?.revision ?? 0;
    let doc = hinted > 0 ? await this.revisions.findOne({ _id: revisionKey(name, hinted) }) : null;
    let revision = doc ? hinted : 0;
    for (;;) {
      const next = await this.revisions.findOne({ _id: revisionKey(name, revision + 1) });
      if (!next) return doc;
      doc = next;
      revision += 1;
    }
  }

  private async writeOnce(key: string, write: () => Promise<void>): Promise<void> {
    if (this.written.has(key)) return;
    await write();
    this.written.add(key);
  }

  private async content(hash: string): Promise<PipelineDoc> {
    const doc = await this.pipelines.findOne({ _id: hash });
    if (!doc) throw new Error(`pipeline content ${hash} is missing from the registry although a revision points at it`);
    return doc;
  }

  private async auditApply(revision: PipelineRevision, fresh: boolean): Promise<void> {
    await this.audit.append(
      {
        key: `pipeline:${revision._id}`,
        actor: revision.appliedBy,
        action: 'pipeline.applied',
        subject: { pipeline: revision.name },
        details: { hash: revision.hash, revision: revision.revision, previousHash: revision.previousHash, file: revision.file },
      },
      { fresh },
    );
  }

  private async auditBind(binding: ModelBinding, head: PipelineRevision, fresh: boolean): Promise<void> {
    await this.audit.append(
      {
        key: binding.auditKey,
        actor: binding.boundBy,
        action: 'model.bound',
        subject: { model: binding._id, pipeline: binding.pipeline },
        // The revision current at bind time, for the record; releases always take the head at their start.
        details: { pipeline: binding.pipeline, previousPipeline: binding.previousPipeline, revision: head.revision, hash: head.hash },
      },
      { fresh },
    );
  }
}

/**
 * checkPluginNames lists every stage naming a deploy target or health source no worker registers, a canary on a
 * target that cannot split traffic, or a health limit its source cannot judge, at its path.
 */
export function checkPluginNames(pipeline: Pipeline, file: string, known: PluginNames): PipelineIssue[] {
  const issues: PipelineIssue[] = [];
  pipeline.stages.forEach((stage, i) => {
    if (stage.target !== undefined && !known.targets.includes(stage.target)) {
      issues.push({ file, path: `stages[${i}].target`, reason: `unknown deploy target "${stage.target}"; known deploy targets: ${[...known.targets].sort().join(', ')}` });
    }
    if (stage.healthSource !== undefined && !known.healthSources.includes(stage.healthSource)) {
      issues.push({ file, path: `stages[${i}].healthSource`, reason: `unknown health source "${stage.healthSource}"; known health sources: ${[...known.healthSources].sort().join(', ')}` });
    }
    const target = stage.target ?? DEFAULT_TARGET;
    // A target without weights serves every step at 100%; a canary of [100] alone claims no split, so it may run anywhere.
    if ('canary' in stage.strategy && stage.strategy.canary.steps.some((step) => step < 100) && known.targets.includes(target) && !known.weightedTargets.includes(target)) {
      const splitting = [...known.weightedTargets].sort().join(', ');
      issues.push({
        file,
        path: `stages[${i}].strategy.canary`,
        reason: `the ${target} target cannot split traffic, so a canary would send 100% at once; set target to one that splits traffic (${splitting}), or use strategy: direct`,
      });
    }
    const source = stage.healthSource ?? 'registry';
    const judged = HEALTH_SOURCE_LIMITS[source];
    if (judged === undefined) return;
    const asked: Array<[string, Partial<Record<HealthLimit, unknown>> | undefined]> = [
      [`stages[${i}].healthChecks`, stage.healthChecks],
      [`stages[${i}].strategy.canary.analysis`, 'canary' in stage.strategy ? stage.strategy.canary.analysis : undefined],
    ];
    for (const [path, limits] of asked) {
      for (const limit of ['maxErrorRate', 'maxLatencyP99Ms', 'maxPredictionDrift', 'minReports'] as const) {
        if (limits?.[limit] === undefined || judged.includes(limit)) continue;
        const others = Object.entries(HEALTH_SOURCE_LIMITS).filter(([, l]) => l.includes(limit)).map(([name]) => name);
        issues.push({ file, path: `${path}.${limit}`, reason: `the ${source} health source cannot judge ${limit}; remove it, or set healthSource to one that can (${others.join(', ')})` });
      }
    }
  });
  return issues;
}

function revisionKey(name: string, revision: number): string {
  return `${name}:${revision}`;
}

function summaryOf(doc: PipelineRevision): PipelineSummary {
  return { name: doc.name, revision: doc.revision, hash: doc.hash, file: doc.file, appliedBy: doc.appliedBy, appliedAt: doc.appliedAt };
}

function checkActor(actor: string): string {
  if (typeof actor !== 'string' || actor.trim() === '' || actor.length > 256) {
    throw new InvalidInputError([{ field: 'actor', reason: 'must name who makes the change (1-256 characters): pass --as or set SLIPWAY_USER' }]);
  }
  return actor;
}

/**
 * The model registry's contract: the records it keeps and the operations
 * callers may use. Gates, targets and activities depend on `ModelRegistry`,
 * never on the collections behind it (the way MLflow's stores sit behind
 * `AbstractStore`).
 */
import type { ModelVersion } from '../domain/model-version';
import type { Pipeline } from '../domain/pipeline';

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
  /**
   * The deploy target that made the move (its registered name): a manual rollback undoes through it,
   * so the version that serves changes, not only the pointer. Absent on older moves: read as `registry`.
   */
  target?: string;
}

/** LivePointer is what is live for (model, env) now: the newest move. */
export type LivePointer = Deployment;

/** AliasDoc is one move of a named alias (champion, challenger); the newest is current. */
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
  /** The deploy target making the move, recorded so a rollback goes back through it. */
  target?: string;
}

/** ModelDescription is a model with its versions, what is live per environment, and its aliases. */
export interface ModelDescription {
  model: ModelDoc;
  versions: VersionDoc[];
  live: LivePointer[];
  aliases: AliasDoc[];
}

/** LiveAtMoment answers "what was live at T": per environment, the version and since when (null: nothing). */
export interface LiveAtMoment {
  model: string;
  at: string;
  environments: { env: string; version: string | null; since: Date | null }[];
}

/** AliasInput asks to point an alias at a version; a protected alias moves only with a releaseId. */
export interface AliasInput {
  model: string;
  alias: string;
  version: string;
  by: string;
  releaseId?: string;
  protect?: boolean;
  expectedRevision?: number;
}

/**
 * ModelRegistry is the system of record for models, versions and what is
 * live where. Failures are RegistryErrors (registry/errors.ts).
 */
export interface ModelRegistry {
  /** registerVersion stores an immutable version; the same content again is a no-op, different content a conflict. */
  registerVersion(raw: unknown, by: string): Promise<{ version: VersionDoc; created: boolean }>;
  /** getVersion returns a registered version or throws NotFoundError. */
  getVersion(model: string, version: string): Promise<VersionDoc>;
  /** findVersion returns a registered version or null; for names the registry itself handed out. */
  findVersion(model: string, version: string): Promise<VersionDoc | null>;
  /** listVersions lists a model's versions, newest first. */
  listVersions(model: string, limit?: number): Promise<VersionDoc[]>;
  /** describeModel gathers a model's versions, live pointers and aliases, or throws NotFoundError. */
  describeModel(model: string): Promise<ModelDescription>;

  /** getLive returns what is live for (model, env) now, or null if nothing ever was. */
  getLive(model: string, env: string): Promise<LivePointer | null>;
  /** moveLivePointer makes a version live; a retry with the same opKey changes nothing twice. */
  moveLivePointer(input: MoveLiveInput): Promise<{ pointer: LivePointer; applied: boolean }>;
  /** markDeploymentFailed flags the deployment a release rolled back, so it never counts as last known good. */
  markDeploymentFailed(opKey: string, by: string, reason: string): Promise<void>;
  /** findMove returns the move made with an opKey, if any. */
  findMove(opKey: string): Promise<Deployment | null>;
  /** lastKnownGood is the newest healthy deployment of a version other than `excludingVersion`, before move `beforeRevision`. */
  lastKnownGood(model: string, env: string, options?: { excludingVersion?: string; beforeRevision?: number }): Promise<Deployment | null>;
  /** liveAt answers "what was live in env at this moment"; null if nothing was. */
  liveAt(model: string, env: string, at: Date): Promise<Deployment | null>;
  /** whatWasLiveAt answers "what was live at T" in `env`, or in every environment the model was ever deployed to. */
  whatWasLiveAt(model: string, at: Date, env?: string): Promise<LiveAtMoment>;
  /** deploymentHistory lists deployments newest first, with end times, for one environment or all. */
  deploymentHistory(model: string, env?: string, limit?: number): Promise<Deployment[]>;
  /** liveInEnvironment lists what is live for every model in one environment. */
  liveInEnvironment(env: string): Promise<LivePointer[]>;

  /** getAlias returns the current target of an alias, or null. */
  getAlias(model: string, alias: string): Promise<AliasDoc | null>;
  /** setAlias points an alias at a version; a protected alias moves only with a releaseId. */
  setAlias(input: AliasInput): Promise<AliasDoc>;

  /** storePipeline keeps each distinct pipeline content once, by hash, and returns the hash. */
  storePipeline(pipeline: Pipeline, source: string): Promise<string>;
  /** getPipeline returns a pinned pipeline by hash. */
  getPipeline(hash: string): Promise<PipelineDoc | null>;
}

/**
 * PipelineRevision is one apply of a named pipeline that changed it. Its _id
 * `<name>:<revision>` is the commit point: of two applies racing for the same
 * number exactly one insert wins, and the loser takes the next number.
 */
export interface PipelineRevision {
  _id: string;
  name: string;
  revision: number;
  /** The content's key in `pipelines`. */
  hash: string;
  previousHash: string | null;
  /** Where the text came from (a file name, or what the API caller called it), for error messages and show. */
  file: string;
  appliedBy: string;
  appliedAt: Date;
}

/** PipelineHeadHint is a pipeline's newest known revision number; readers probe forward from it, so a stale hint costs a lookup, never a wrong answer. */
export interface PipelineHeadHint {
  _id: string;
  revision: number;
}

/** AppliedPipeline is what applying a pipeline answers; `changed` is false when the same content was already the head. */
export interface AppliedPipeline {
  name: string;
  hash: string;
  revision: number;
  changed: boolean;
}

/** PipelineView is one revision of a named pipeline with its text and who applied it when. */
export interface PipelineView {
  name: string;
  revision: number;
  hash: string;
  source: string;
  pipeline: Pipeline;
  file: string;
  appliedBy: string;
  appliedAt: Date;
}

/** PipelineSummary is one line of `pipeline list`: a name and its current head. */
export type PipelineSummary = Omit<PipelineView, 'source' | 'pipeline'>;

/** ModelBinding says which named pipeline a model's releases follow; the head of that pipeline is read at each start. */
export interface ModelBinding {
  /** The model name. */
  _id: string;
  pipeline: string;
  /** What the model followed before this binding (null: nothing), kept so the audit event can be rewritten the same if it went missing. */
  previousPipeline: string | null;
  boundBy: string;
  boundAt: Date;
  /** The audit key of the event that records this binding, so a bind that died before its event is finished by the next. */
  auditKey: string;
}

/** BoundPipeline is the current head of a model's bound pipeline, ready to pin on a release. */
export interface BoundPipeline {
  name: string;
  hash: string;
  revision: number;
  pipeline: Pipeline;
  source: string;
}

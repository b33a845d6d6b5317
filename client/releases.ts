/**
 * Release operations shared by the CLI and the HTTP API: start (running the
 * model's bound pipeline, pinned by hash), status, approve/reject, list,
 * rollback. Both front ends call these, so the rules (which pipeline, pinning,
 * idempotent start, identities) live in one place.
 */
import type { SecretEnvAllow } from '../domain/secret-env';
import { createHash } from 'node:crypto';
import { Client, WorkflowExecutionAlreadyStartedError, WorkflowFailedError, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { Db } from 'mongodb';
import { quarantineReason } from '../domain/line-controls';
import { EventPublisher } from './events';
import { LineControlService } from './line-controls';
import { PipelineError, pipelineNameSchema } from '../domain/pipeline';
import { versionSchema, modelNameSchema, envNameSchema } from '../domain/model-version';
import { InvalidInputError, NotFoundError } from '../registry/errors';
import { loadPipelinesFromDir } from '../config/pipelines';
import { PolicyStore, type PluginNames } from '../registry/policy';
import { rollbackRefusal } from '../registry/live';
import type { AuditSigner } from '../registry/audit';
import { Registry } from '../registry/registry';
import type { BoundPipeline } from '../registry/types';
import { ReleaseStore, type ReleaseRecord } from '../registry/releases';
import { isRetryRefusal, planRetry, retryableRefusal, type RetryOf, type RetryRequest } from '../domain/retry';
import { inSpan, slipwayAttributes } from '../observability/tracing';
import type { VerifiedIdentity } from '../domain/decisions';
import type { Signer } from '../lib/signing';
import type { releaseWorkflow } from '../workflows/release/workflow';
import type { rollbackWorkflow } from '../workflows/rollback';
import {
  SA_MODEL,
  SA_STATUS,
  SA_VERSION,
  approveUpdate,
  rejectSignal,
  releaseWorkflowId,
  rollbackWorkflowId,
  statusQuery,
  type ApproveUpdateResult,
  type ReleaseState,
  type RollbackResult,
} from '../workflows/release/api';

/** ReleaseServiceDeps are the connections the service uses. */
export interface ReleaseServiceDeps {
  temporal: Client;
  db: Db;
  taskQueue: string;
  pipelinesDir?: string;
  /**
   * Direct mode (the CLI without the API, `slipway dev`'s demo, tests): a
   * pipeline named from the folder, or the built-in `default`, is applied to
   * the server and the model bound to it before the release starts. False
   * behind a verified front end (the API): there only an admin changes
   * policy, and a release runs the model's binding as it stands.
   */
  bootstrapFromFolder: boolean;
  /** Targets or health sources a custom worker registers beyond the built-in ones, so pipelines naming them pass the check on apply. */
  extraPlugins?: Partial<PluginNames>;
  /**
   * The API's signing key: decisions made by a verified identity (start, approve, reject, rollback)
   * are signed with it, and workers count them as verified. The CLI's direct mode has none.
   */
  signer?: Signer;
  /** SLIPWAY_PUBLIC_URL: with it, stop on/off and quarantines made through this service are published as events. */
  publicUrl?: string;
  /** SLIPWAY_SECRET_ENV_ALLOW: direct mode applies folder pipelines, refused when they name other secret variables. */
  secretEnvAllow?: SecretEnvAllow;
}

/** Verified is who the API verified a request came from (absent in direct mode: the name is only claimed). */
export interface Verified {
  identity: VerifiedIdentity;
  /** The person behind an automated identity (the CI run's actor), recorded and barred from approving. */
  actor?: string;
}

/** StartedRelease is what `release start` answers. */
export interface StartedRelease {
  releaseId: string;
  workflowId: string;
  runId: string;
  pipeline: string;
  pipelineHash: string;
  /** true when a release of this version was already running and was returned instead. */
  alreadyRunning: boolean;
}

/** StartedRollback is a started rollback; its outcome is fetched only when read. */
export interface StartedRollback {
  workflowId: string;
  /** The rollback's result, fetched on first read. */
  readonly result: Promise<RollbackResult>;
  /** wait fetches the result; aborting the signal cancels the wait (not the rollback). */
  wait(signal?: AbortSignal): Promise<RollbackResult>;
}

/** ReleaseService runs release operations against Temporal and the registry. */
export class ReleaseService {
  readonly registry: Registry;
  readonly releases: ReleaseStore;
  readonly policy: PolicyStore;

  constructor(private readonly deps: ReleaseServiceDeps) {
    this.registry = new Registry(deps.db);
    this.releases = new ReleaseStore(deps.db);
    this.policy = new PolicyStore(deps.db, { extraPlugins: deps.extraPlugins, secretEnvAllow: deps.secretEnvAllow });
  }

  /** forVerifiedFrontEnd is the same service with bootstrapping off: the API uses it, so no caller of the API ever applies or binds by starting a release. */
  forVerifiedFrontEnd(): ReleaseService {
    return this.deps.bootstrapFromFolder ? new ReleaseService({ ...this.deps, bootstrapFromFolder: false }) : this;
  }

  /** lineControls stops and resumes the line and quarantines versions, waking the releases concerned through this service's Temporal client. */
  lineControls(auditSigner?: AuditSigner): LineControlService {
    const { db, temporal, taskQueue, publicUrl } = this.deps;
    return new LineControlService({ db, temporal, auditSigner, events: publicUrl ? new EventPublisher({ db, temporal, taskQueue, publicUrl }) : undefined });
  }

  /** onTaskQueue is the same service starting workflows on another task queue. */
  onTaskQueue(taskQueue: string): ReleaseService {
    return new ReleaseService({ ...this.deps, taskQueue });
  }

  /** withPipelines is the same service reading pipelines from another folder. */
  withPipelines(pipelinesDir: string): ReleaseService {
    return new ReleaseService({ ...this.deps, pipelinesDir });
  }

  /** start validates the version, takes the head of the model's bound pipeline (binding it first in direct mode), pins it by hash, and starts (or returns) the release. */
  async start(req: StartRequest): Promise<StartedRelease> {
    return inSpan('slipway.release.start', slipwayAttributes({ ...req }), (span) =>
      this.startTraced(req).then((started) => {
        span.setAttribute('slipway.release_id', started.releaseId);
        return started;
      }),
    );
  }

  private async startTraced(req: StartRequest): Promise<StartedRelease> {
    const model = parseOrThrow(modelNameSchema, 'model', req.model);
    const version = parseOrThrow(versionSchema, 'version', req.version);
    const requestedBy = parseOrThrow(modelNameSchema, 'requester (--as)', req.requestedBy);
    const asked = req.pipeline === undefined ? undefined : parseOrThrow(pipelineNameSchema, 'pipeline', req.pipeline);
    await this.registry.getVersion(model, version);
    await this.refuseQuarantined(model, version, requestedBy, req.verified);
    const bound = this.deps.bootstrapFromFolder ? await this.bindFromFolder(model, asked, requestedBy) : await this.boundOrRefuse(model, asked);
    return this.launch({ model, version, bound, requestedBy, verified: req.verified, ...(req.hotfix ? { hotfix: true } : {}) });
  }

  // Starts the release workflow (or finds the running one); a retry's request goes into the input and, behind the API, into the signed start decision.
  private async launch(req: { model: string; version: string; bound: BoundPipeline; requestedBy: string; verified?: Verified; hotfix?: boolean; retry?: RetryRequest }): Promise<StartedRelease> {
    const { model, version, bound, requestedBy } = req;
    const pipelineHash = bound.hash;
    const workflowId = releaseWorkflowId(model, version);
    const releaseId = workflowId;
    const retry = req.retry ? { retry: req.retry } : {};
    try {
      const handle = await this.deps.temporal.workflow.start<typeof releaseWorkflow>('releaseWorkflow', {
        workflowId,
        taskQueue: this.deps.taskQueue,
        args: [{ releaseId, model, version, pipelineName: bound.name, pipelineHash, requestedBy, requestedAt: new Date().toISOString(), ...(req.hotfix ? { hotfix: true } : {}), ...retry, ...this.signed(req.verified, (requester, issuedAt) => ({ startDecision: this.deps.signer!.signDecision({ kind: 'release.start', releaseId, model, version, requester, ...(req.verified?.actor ? { actor: req.verified.actor } : {}), ...(req.hotfix ? { hotfix: true as const } : {}), ...retry, issuedAt }) })) }],
        // A second start of the same version while one runs fails here and returns the running
        // release below: exact, and no describe call on every start as USE_EXISTING would need.
        workflowIdConflictPolicy: 'FAIL',
        typedSearchAttributes: [
          { key: SA_MODEL, value: model },
          { key: SA_VERSION, value: version },
          { key: SA_STATUS, value: 'running' },
        ],
        staticSummary: `${req.retry ? `Retry of run ${req.retry.runId}: release` : 'Release'} ${model}@${version} via pipeline ${bound.pipeline.name} (requested by ${requestedBy})`,
      });
      return { releaseId, workflowId, runId: handle.firstExecutionRunId, pipeline: bound.pipeline.name, pipelineHash, alreadyRunning: false };
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        const desc = await this.deps.temporal.workflow.getHandle(workflowId).describe();
        return { releaseId, workflowId, runId: desc.runId, pipeline: bound.pipeline.name, pipelineHash, alreadyRunning: true };
      }
      throw err;
    }
  }

  // The worker refuses too (loadReleasePolicy); refusing here answers the caller clearly and audits who asked.
  private async refuseQuarantined(model: string, version: string, requestedBy: string, verified: Verified | undefined): Promise<void> {
    const quarantine = await this.registry.lineControls.quarantineOf(model, version);
    if (!quarantine) return;
    const reason = quarantineReason(quarantine);
    await this.registry.audit.append({ key: `release.refused:${model}:${version}:${randomKey()}`, actor: verified ? verified.identity.user : `unverified:cli:${requestedBy}`, action: 'release.refused', subject: { model, version }, reason }, { fresh: true });
    throw new InvalidInputError([{ field: 'version', reason: `${reason}; release another version, or an admin lifts it with \`slipway model unquarantine ${model} ${version} --reason …\`` }]);
  }

  /**
   * retry starts a new run of a release that ended failed, rejected, approval_expired or cancelled. It
   * plans here what the worker will keep (to refuse a bad request before anything starts and to say what
   * changed), but sends only the run's id and `from`: the worker decides again from its own registry.
   */
  async retry(req: RetryReleaseRequest): Promise<StartedRetry> {
    checkReleaseId(req.releaseId);
    const from = req.from === undefined ? undefined : parseOrThrow(envNameSchema, 'from', req.from);
    const requestedBy = parseOrThrow(modelNameSchema, 'requester (--as)', req.requestedBy);
    // The workflow's own answer first: the registry's snapshot may lag a running release by a step.
    const record = await this.status(req.releaseId);
    const refusal = retryableRefusal(req.releaseId, record.status);
    if (refusal) throw new InvalidInputError([{ field: 'release-id', reason: refusal }]);
    if (!record.runId) {
      throw new InvalidInputError([{ field: 'release-id', reason: `${req.releaseId}'s last run was recorded before runs were named, so nothing of it can be kept: start it again with \`slipway release start ${record.model} ${record.version}\`` }]);
    }
    await this.refuseQuarantined(record.model, record.version, requestedBy, req.verified);
    const bound = await this.boundOrRefuse(record.model, undefined);
    const live: Record<string, { version: string | null; releaseId: string | null; health: 'ok' | 'failed' } | null> = {};
    for (const stage of bound.pipeline.stages) live[stage.env] = await this.registry.getLive(record.model, stage.env);
    const plan = planRetry({ ...record, runId: record.runId }, { releaseId: req.releaseId, version: record.version, pipelineHash: bound.hash, pipelineRevision: bound.revision, stages: bound.pipeline.stages.map((s) => s.env), live }, from);
    if (isRetryRefusal(plan)) throw new InvalidInputError([{ field: plan.field, reason: plan.reason }]);
    const retry: RetryRequest = { runId: record.runId, ...(from === undefined ? {} : { from }) };
    const started = await this.launch({ model: record.model, version: record.version, bound, requestedBy, verified: req.verified, retry });
    // Someone started it between our read and the start: that run is not ours to describe.
    if (started.alreadyRunning) throw new InvalidInputError([{ field: 'release-id', reason: `a run of ${req.releaseId} is already going (run ${started.runId}); follow it with \`slipway release status ${req.releaseId}\`` }]);
    const planned: StartedRetry = { ...started, retryOf: plan.retryOf, carriedOver: plan.carried.map((c) => c.env), decidedBy: 'client' };
    return this.workerRetryDecision(started, planned);
  }

  // The worker decides what is kept (it may refuse, e.g. an unsigned retry where it trusts the API): answer with that once it shows.
  private async workerRetryDecision(started: StartedRelease, planned: StartedRetry, waitMs = 5_000): Promise<StartedRetry> {
    const deadline = Date.now() + waitMs;
    while (Date.now() < deadline) {
      const state = await this.deps.temporal.workflow.getHandle(started.workflowId, started.runId).query(statusQuery).catch(() => undefined);
      const refused = state?.ignoredMessages.find((m) => m.input === 'retry')?.reason;
      if (state?.retryOf || refused) {
        // Refused outright, the run keeps nothing and starts at its first stage, whatever was planned here.
        const retryOf = state!.retryOf ?? { ...planned.retryOf, startFrom: state!.stages[0]?.env ?? null, reason: 'the worker refused the retry request', changes: [] };
        return { ...planned, retryOf, carriedOver: state!.stages.filter((s) => s.carriedOver).map((s) => s.env), decidedBy: 'worker', ...(refused ? { refused } : {}) };
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return planned; // no worker answered yet: the plan as seen here; `release status` shows the worker's decision
  }

  // Verified front end: the binding decides; a named pipeline must agree with it.
  private async boundOrRefuse(model: string, asked: string | undefined): Promise<BoundPipeline> {
    const bound = await this.policy.boundPipeline(model);
    if (!bound) {
      throw new InvalidInputError([{ field: 'pipeline', reason: `${model} is bound to no pipeline; an admin binds it with \`slipway model bind ${model} --pipeline <name>\` (or PUT /models/${model}/binding)` }]);
    }
    if (asked !== undefined && asked !== bound.name) {
      throw new InvalidInputError([{ field: 'pipeline', reason: `${model} is bound to ${bound.name}; an admin rebinds with \`slipway model bind ${model} --pipeline ${asked}\`` }]);
    }
    return bound;
  }

  // Direct mode: whoever runs this has the database anyway, so the pipeline it names is applied and bound, as an unverified actor.
  private async bindFromFolder(model: string, asked: string | undefined, requestedBy: string): Promise<BoundPipeline> {
    if (asked === undefined) {
      // No name: keep the model's binding; a model never bound follows the built-in default, as before bindings existed.
      const bound = await this.policy.boundPipeline(model);
      if (bound) return bound;
    }
    const name = asked ?? 'default';
    const actor = `unverified:cli:${requestedBy}`;
    const pipelines = await loadPipelinesFromDir(this.deps.pipelinesDir);
    const entry = pipelines.get(name);
    if (entry) {
      await this.policy.applyPipeline(entry.source, entry.file, actor);
    } else if (!(await this.policy.hasPipeline(name))) {
      throw new InvalidInputError([
        { field: 'pipeline', reason: `no pipeline named "${name}"; known: ${[...pipelines.keys()].sort().join(', ')} (the folder), and those \`slipway pipeline list\` shows` },
      ]);
    }
    await this.policy.bindModel(model, name, actor);
    const bound = await this.policy.boundPipeline(model);
    if (!bound) throw new Error(`${model} was bound to ${name} but reads back unbound`);
    return bound;
  }

  /** status queries a running release, or reads the registry snapshot of one that ended long ago. */
  async status(releaseId: string): Promise<ReleaseState> {
    checkReleaseId(releaseId);
    try {
      return await this.deps.temporal.workflow.getHandle(releaseId).query(statusQuery);
    } catch (err) {
      const stored = await this.releases.get(releaseId);
      if (stored) return fromRecord(stored);
      if (err instanceof WorkflowNotFoundError) throw new NotFoundError('release', releaseId, 'see `slipway release list`');
      throw err;
    }
  }

  /** result waits for the release to end and returns its final state. */
  async result(releaseId: string): Promise<ReleaseState> {
    checkReleaseId(releaseId);
    try {
      return (await this.deps.temporal.workflow.getHandle(releaseId).result()) as ReleaseState;
    } catch (err) {
      // A cancelled release ends Canceled in Temporal; its final state is in the registry.
      if (err instanceof WorkflowFailedError) return this.status(releaseId);
      throw err;
    }
  }

  /** approve sends the validated approval Update; identity comes from the caller, never from a body. */
  async approve(req: DecisionRequest): Promise<ApproveUpdateResult> {
    checkReleaseId(req.releaseId);
    return inSpan('slipway.release.approve', { 'slipway.release_id': req.releaseId, 'slipway.env': req.stage }, () => this.approveTraced(req));
  }

  private async approveTraced(req: DecisionRequest): Promise<ApproveUpdateResult> {
    if (req.breakGlass && (!req.verified || !this.deps.signer)) {
      throw new InvalidInputError([{ field: 'breakGlass', reason: 'a break-glass approval counts only signed by the API: approve through POST /releases/:id/approvals (or the CLI with SLIPWAY_API_URL and a token)' }]);
    }
    const claim = { stage: req.stage, approver: req.approver, ...(req.comment ? { comment: req.comment } : {}) };
    const arg = this.signed(req.verified, (approver, issuedAt) => ({
      decision: this.deps.signer!.signDecision({ kind: 'release.approve', releaseId: req.releaseId, stage: req.stage, approver, ...(req.comment ? { comment: req.comment } : {}), ...(req.breakGlass ? { breakGlass: true as const } : {}), issuedAt }),
    })) ?? claim;
    try {
      return await this.deps.temporal.workflow.getHandle(req.releaseId).executeUpdate(approveUpdate, { args: [arg] });
    } catch (err) {
      // The workflow's validator refused the message: bad input, named by the validator.
      if (err instanceof WorkflowUpdateFailedError) {
        const reason = err.cause?.message ?? err.message;
        throw new InvalidInputError([{ field: /^(\w+)/.exec(reason)?.[1] ?? 'approval', reason }]);
      }
      if (err instanceof WorkflowNotFoundError) throw new NotFoundError('release', req.releaseId, 'it may have ended; see `slipway release status`');
      throw err;
    }
  }

  /** reject sends the reject Signal, which ends the release `rejected` if the rejecter is an approver. */
  async reject(req: Omit<DecisionRequest, 'comment'> & { reason: string }): Promise<void> {
    checkReleaseId(req.releaseId);
    const arg = this.signed(req.verified, (approver, issuedAt) => ({
      decision: this.deps.signer!.signDecision({ kind: 'release.reject', releaseId: req.releaseId, stage: req.stage, approver, comment: req.reason, issuedAt }),
    })) ?? { stage: req.stage, approver: req.approver, comment: req.reason };
    try {
      await this.deps.temporal.workflow.getHandle(req.releaseId).signal(rejectSignal, arg);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new NotFoundError('release', req.releaseId, 'it may have ended; see `slipway release status`');
      throw err;
    }
  }

  // A decision is signed only when the API verified who made it and holds the key; otherwise it goes out as a claim.
  private signed<T>(verified: Verified | undefined, make: (identity: VerifiedIdentity, issuedAt: string) => T): T | undefined {
    if (!verified || !this.deps.signer) return undefined;
    return make(verified.identity, new Date().toISOString());
  }

  /** list returns recorded releases, newest first. */
  async list(filter: { model?: string; status?: string; limit?: number; skip?: number }): Promise<ReleaseRecord[]> {
    if (filter.model !== undefined) parseOrThrow(modelNameSchema, 'model', filter.model);
    return this.releases.list(filter);
  }

  /** rollback restores (model, env) to its last known good version, or `toVersion`, through the same lock and target. */
  async rollback(req: { model: string; env: string; toVersion?: string; requestedBy: string; reason?: string; requestKey?: string; verified?: Verified }): Promise<StartedRollback> {
    const model = parseOrThrow(modelNameSchema, 'model', req.model);
    const env = parseOrThrow(envNameSchema, 'env', req.env);
    if (req.toVersion !== undefined) {
      parseOrThrow(versionSchema, 'to', req.toVersion);
      await this.registry.getVersion(model, req.toVersion);
      const quarantine = await this.registry.lineControls.quarantineOf(model, req.toVersion);
      if (quarantine) {
        const reason = `${quarantineReason(quarantine)} nor rolled back to`;
        await this.registry.audit.append({ key: `rollback.refused:${model}:${env}:${randomKey()}`, actor: req.verified ? req.verified.identity.user : `unverified:cli:${req.requestedBy}`, action: 'rollback.refused', subject: { model, env, version: req.toVersion }, reason }, { fresh: true });
        throw new InvalidInputError([{ field: 'to', reason }]);
      }
      // Only a version that was live here before, and not marked failed, is known good; the worker checks again.
      const refusal = rollbackRefusal(model, env, req.toVersion, await this.registry.lastDeploymentOf(model, env, req.toVersion));
      if (refusal) throw new InvalidInputError([{ field: 'to', reason: refusal }]);
    } else {
      // Refuse up front what the workflow could only fail on: an unknown model, or nothing earlier to restore.
      const live = await this.registry.getLive(model, env);
      const good = await this.registry.lastKnownGood(model, env, { excludingVersion: live?.version ?? undefined });
      if (!good) {
        await this.registry.describeModel(model); // NotFoundError for an unknown model
        throw new InvalidInputError([{ field: 'to', reason: `${model} has no earlier good version in ${env} to roll back to; name one with --to` }]);
      }
    }
    const requestKey = req.requestKey ?? randomKey();
    const workflowId = rollbackWorkflowId(model, env, requestKey);
    const reason = req.reason ?? `rollback requested by ${req.requestedBy}`;
    const handle = await this.deps.temporal.workflow.start<typeof rollbackWorkflow>('rollbackWorkflow', {
      workflowId,
      taskQueue: this.deps.taskQueue,
      args: [{ rollbackId: workflowId, model, env, toVersion: req.toVersion, requestedBy: req.requestedBy, reason, ...this.signed(req.verified, (requester, issuedAt) => ({ requestDecision: this.deps.signer!.signDecision({ kind: 'rollback.request', rollbackId: workflowId, model, env, ...(req.toVersion ? { toVersion: req.toVersion } : {}), requester, reason, issuedAt }) })) }],
      workflowIdConflictPolicy: 'USE_EXISTING',
      staticSummary: `Rollback ${model} in ${env}${req.toVersion ? ` to ${req.toVersion}` : ' to last known good'} (by ${req.requestedBy})`,
    });
    // Nothing waits until asked: an eager result() long-poll would keep a caller that does not
    // wait (`slipway rollback` without --wait) alive until the server answers it, ~20 s later.
    const wait = (signal?: AbortSignal) => (signal ? this.deps.temporal.withAbortSignal(signal, () => handle.result()) : handle.result());
    let result: Promise<RollbackResult> | undefined;
    return {
      workflowId,
      wait,
      get result() {
        return (result ??= wait());
      },
    };
  }
}

/** StartRequest asks for a release; `verified` is set only by the API, from the caller's token. */
export interface StartRequest {
  model: string;
  version: string;
  pipeline?: string;
  requestedBy: string;
  verified?: Verified;
  /** A hotfix may pass a stopped line with a break-glass approval; it counts only when the API signs the start. */
  hotfix?: boolean;
}

/** RetryReleaseRequest asks to retry a release; `verified` is set only by the API, from the caller's token. */
export interface RetryReleaseRequest {
  releaseId: string;
  /** Start at this stage (at or before the first stage that must run again). */
  from?: string;
  requestedBy: string;
  verified?: Verified;
}

/** StartedRetry is a started retry with the plan as the client saw it; the worker's own decision is in the release state (`retryOf`, stages' `carriedOver`). */
export interface StartedRetry extends StartedRelease {
  retryOf: RetryOf;
  carriedOver: string[];
  /** `worker` once the worker's own decision was read back; `client` when none answered within 5 s (the plan as the client saw it; well inside the API's request timeout). */
  decidedBy: 'worker' | 'client';
  /** Why the worker did not honour the request (then nothing, or less, is kept). */
  refused?: string;
}

/** DecisionRequest is an approval or rejection; `verified` is set only by the API, from the caller's token. */
export interface DecisionRequest {
  releaseId: string;
  stage: string;
  approver: string;
  comment?: string;
  verified?: Verified;
  /** A break-glass approval (lets a hotfix pass a stopped line at this stage); only the API can sign one. */
  breakGlass?: boolean;
}

/** isPipelineError re-exports the pipeline error check for front ends. */
export function isPipelineError(err: unknown): err is PipelineError {
  return err instanceof PipelineError;
}

function randomKey(): string {
  return createHash('sha256').update(`${Date.now()}:${Math.random()}`).digest('hex').slice(0, 12);
}

function checkReleaseId(releaseId: string): void {
  if (typeof releaseId !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._+@-]{0,200}$/.test(releaseId)) {
    throw new InvalidInputError([{ field: 'release-id', reason: 'must look like release-<model>-<version> (see `slipway release list`)' }]);
  }
}

function parseOrThrow(schema: { safeParse(v: unknown): { success: true; data: string } | { success: false; error: { issues: { message: string }[] } } }, field: string, value: unknown): string {
  const r = schema.safeParse(value);
  if (!r.success) throw new InvalidInputError([{ field, reason: r.error.issues[0]?.message ?? 'invalid' }]);
  return r.data;
}

function fromRecord(record: ReleaseRecord): ReleaseState {
  const { _id, revision: _r, recordedAt: _a, ...rest } = record;
  return { releaseId: _id, ...rest } as ReleaseState;
}

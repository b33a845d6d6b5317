/**
 * Release operations shared by the CLI and the HTTP API: start (pinning the
 * pipeline), status, approve/reject, list, rollback. Both front ends call
 * these, so the rules (pipeline pinning, idempotent start, identities) live
 * in one place.
 */
import { createHash } from 'node:crypto';
import { Client, WorkflowExecutionAlreadyStartedError, WorkflowFailedError, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { Db } from 'mongodb';
import { PipelineError } from '../domain/pipeline';
import { versionSchema, modelNameSchema, envNameSchema } from '../domain/model-version';
import { InvalidInputError, NotFoundError } from '../registry/errors';
import { loadPipelinesFromDir } from '../config/pipelines';
import { rollbackRefusal } from '../registry/live';
import { Registry } from '../registry/registry';
import { ReleaseStore, type ReleaseRecord } from '../registry/releases';
import { inSpan, slipwayAttributes } from '../observability/tracing';
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

  constructor(private readonly deps: ReleaseServiceDeps) {
    this.registry = new Registry(deps.db);
    this.releases = new ReleaseStore(deps.db);
  }

  /** onTaskQueue is the same service starting workflows on another task queue. */
  onTaskQueue(taskQueue: string): ReleaseService {
    return new ReleaseService({ ...this.deps, taskQueue });
  }

  /** withPipelines is the same service reading pipelines from another folder. */
  withPipelines(pipelinesDir: string): ReleaseService {
    return new ReleaseService({ ...this.deps, pipelinesDir });
  }

  /** start validates the version and pipeline, pins the pipeline by hash, and starts (or returns) the release. */
  async start(req: { model: string; version: string; pipeline?: string; requestedBy: string }): Promise<StartedRelease> {
    return inSpan('slipway.release.start', slipwayAttributes(req), (span) =>
      this.startTraced(req).then((started) => {
        span.setAttribute('slipway.release_id', started.releaseId);
        return started;
      }),
    );
  }

  private async startTraced(req: { model: string; version: string; pipeline?: string; requestedBy: string }): Promise<StartedRelease> {
    const model = parseOrThrow(modelNameSchema, 'model', req.model);
    const version = parseOrThrow(versionSchema, 'version', req.version);
    const requestedBy = parseOrThrow(modelNameSchema, 'requester (--as)', req.requestedBy);
    await this.registry.getVersion(model, version);
    const pipelines = await loadPipelinesFromDir(this.deps.pipelinesDir);
    const name = req.pipeline ?? 'default';
    const entry = pipelines.get(name);
    if (!entry) {
      throw new InvalidInputError([{ field: 'pipeline', reason: `no pipeline named "${name}"; known: ${[...pipelines.keys()].sort().join(', ')}` }]);
    }
    const pipelineHash = await this.registry.storePipeline(entry.pipeline, entry.source);
    const workflowId = releaseWorkflowId(model, version);
    const releaseId = workflowId;
    try {
      const handle = await this.deps.temporal.workflow.start<typeof releaseWorkflow>('releaseWorkflow', {
        workflowId,
        taskQueue: this.deps.taskQueue,
        args: [{ releaseId, model, version, pipeline: entry.pipeline, pipelineHash, requestedBy, requestedAt: new Date().toISOString() }],
        // A second start of the same version while one runs fails here and returns the running
        // release below: exact, and no describe call on every start as USE_EXISTING would need.
        workflowIdConflictPolicy: 'FAIL',
        typedSearchAttributes: [
          { key: SA_MODEL, value: model },
          { key: SA_VERSION, value: version },
          { key: SA_STATUS, value: 'running' },
        ],
        staticSummary: `Release ${model}@${version} via pipeline ${entry.pipeline.name} (requested by ${requestedBy})`,
      });
      return { releaseId, workflowId, runId: handle.firstExecutionRunId, pipeline: entry.pipeline.name, pipelineHash, alreadyRunning: false };
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        const desc = await this.deps.temporal.workflow.getHandle(workflowId).describe();
        return { releaseId, workflowId, runId: desc.runId, pipeline: entry.pipeline.name, pipelineHash, alreadyRunning: true };
      }
      throw err;
    }
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
  async approve(req: { releaseId: string; stage: string; approver: string; comment?: string; channel: 'api' | 'cli' }): Promise<ApproveUpdateResult> {
    checkReleaseId(req.releaseId);
    return inSpan('slipway.release.approve', { 'slipway.release_id': req.releaseId, 'slipway.env': req.stage }, () => this.approveTraced(req));
  }

  private async approveTraced(req: { releaseId: string; stage: string; approver: string; comment?: string; channel: 'api' | 'cli' }): Promise<ApproveUpdateResult> {
    try {
      return await this.deps.temporal.workflow.getHandle(req.releaseId).executeUpdate(approveUpdate, {
        args: [{ stage: req.stage, approver: req.approver, ...(req.comment ? { comment: req.comment } : {}), channel: req.channel }],
      });
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
  async reject(req: { releaseId: string; stage: string; approver: string; reason: string }): Promise<void> {
    checkReleaseId(req.releaseId);
    try {
      await this.deps.temporal.workflow.getHandle(req.releaseId).signal(rejectSignal, { stage: req.stage, approver: req.approver, comment: req.reason });
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new NotFoundError('release', req.releaseId, 'it may have ended; see `slipway release status`');
      throw err;
    }
  }

  /** list returns recorded releases, newest first. */
  async list(filter: { model?: string; status?: string; limit?: number; skip?: number }): Promise<ReleaseRecord[]> {
    if (filter.model !== undefined) parseOrThrow(modelNameSchema, 'model', filter.model);
    return this.releases.list(filter);
  }

  /** rollback restores (model, env) to its last known good version, or `toVersion`, through the same lock and target. */
  async rollback(req: { model: string; env: string; toVersion?: string; requestedBy: string; reason?: string; requestKey?: string }): Promise<StartedRollback> {
    const model = parseOrThrow(modelNameSchema, 'model', req.model);
    const env = parseOrThrow(envNameSchema, 'env', req.env);
    if (req.toVersion !== undefined) {
      parseOrThrow(versionSchema, 'to', req.toVersion);
      await this.registry.getVersion(model, req.toVersion);
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
    const requestKey = req.requestKey ?? createHash('sha256').update(`${Date.now()}:${Math.random()}`).digest('hex').slice(0, 12);
    const workflowId = rollbackWorkflowId(model, env, requestKey);
    const handle = await this.deps.temporal.workflow.start<typeof rollbackWorkflow>('rollbackWorkflow', {
      workflowId,
      taskQueue: this.deps.taskQueue,
      args: [{ rollbackId: workflowId, model, env, toVersion: req.toVersion, requestedBy: req.requestedBy, reason: req.reason ?? `rollback requested by ${req.requestedBy}` }],
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

/** isPipelineError re-exports the pipeline error check for front ends. */
export function isPipelineError(err: unknown): err is PipelineError {
  return err instanceof PipelineError;
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

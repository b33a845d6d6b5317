/**
 * Activity factory: every side effect workflows need, with its dependencies
 * passed in so tests hand in real or fake parts without module mocking.
 */
import { ROOT_CONTEXT, context } from '@opentelemetry/api';
import { ApplicationFailure, Context, log } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Db } from 'mongodb';
import { RegistryError } from '../registry/errors';
import { Registry, insertIfAbsent, versionKey } from '../registry/registry';
import { ReleaseStore } from '../registry/releases';
import type { SlipwayMetrics } from '../observability/metrics';
import { EnvLeases, type LeaseAttempt } from '../registry/env-leases';
import { envLockWorkflow } from '../workflows/env-lock';
import { acquireSignal, envQueueWorkflowId, lockWorkflowId, releaseSignal, type EnvLockRef, type LockRequest } from '../workflows/env-lock.api';
import { envQueueWorkflow } from '../workflows/env-queue';
import type { GateResult, ReleaseState } from '../workflows/release.api';
import { defaultGates, type GateRegistry } from '../gates';
import type { HealthQuery, HealthSource, HealthVerdict } from '../health/types';
import type { DeployRequest, DeployTarget, UndoRequest } from '../targets/types';

/** ActivityDeps are the parts activities talk to. */
export interface ActivityDeps {
  db: Db;
  /** Temporal client: queue workflows of environment locks, and liveness of lease holders. */
  temporal?: Client;
  taskQueue?: string;
  clock?: () => Date;
  gates?: GateRegistry;
  /** Deploy targets (the worker builds targets/index.ts's); a later one replaces an earlier one of the same name. */
  targets?: DeployTarget[];
  /** Health sources (the worker builds health/index.ts's), by name likewise. */
  healthSources?: HealthSource[];
  /** Prometheus instruments; releases are counted when their final snapshot is stored. */
  metrics?: SlipwayMetrics;
}

/** StackCheckRecord is what the stack check writes and reads back. */
export interface StackCheckRecord {
  checkId: string;
  writtenAt: string;
  readBack: boolean;
}

/** createActivities builds the activities object registered on the worker. */
export function createActivities(deps: ActivityDeps) {
  const clock = deps.clock ?? (() => new Date());
  const registry = new Registry(deps.db, clock);
  const releases = new ReleaseStore(deps.db, clock);
  const leases = new EnvLeases(deps.db, clock);
  const gates = deps.gates ?? defaultGates();
  const targets = new Map<string, DeployTarget>((deps.targets ?? []).map((t) => [t.name, t]));
  const healthSources = new Map<string, HealthSource>((deps.healthSources ?? []).map((h) => [h.name, h]));

  const target = (name: string): DeployTarget => {
    const t = targets.get(name);
    if (!t) throw ApplicationFailure.nonRetryable(`unknown deploy target "${name}"; known: ${[...targets.keys()].join(', ')}`, 'UnknownTarget');
    return t;
  };

  const temporalFor = (what: string) => {
    if (!deps.temporal || !deps.taskQueue) throw ApplicationFailure.nonRetryable(`worker has no Temporal client for ${what}`, 'Misconfigured');
    return { temporal: deps.temporal, taskQueue: deps.taskQueue };
  };

  /** Joins a lock's waiting line, starting its workflow if needed; the line outlives any one release, so it stays out of the requester's trace. */
  const joinLine = async (workflow: typeof envQueueWorkflow, workflowId: string, model: string, env: string, request: LockRequest): Promise<void> => {
    const { temporal, taskQueue } = temporalFor('locks');
    await context.with(ROOT_CONTEXT, () =>
      temporal.workflow.signalWithStart(workflow, { workflowId, taskQueue, args: [{ model, env }], signal: acquireSignal, signalArgs: [request] }),
    );
  };

  /** Gives leases back, then tells each queue so its next waiter gets a turn. */
  const releaseLocks = async (locks: EnvLockRef[]): Promise<void> => {
    if (locks.length === 0) return;
    const { temporal } = temporalFor('locks');
    for (const lock of locks) {
      const held = await leases.giveBack(lock.model, lock.env, lock.holderId);
      // A holder wakes the queue only if it has waiters: the marker is written before every claim,
      // so a claim that found this lease taken left it. A requester still queued (not holding) must withdraw.
      if (held && !(await leases.anyWaiting(lock.model, lock.env))) continue;
      try {
        await context.with(ROOT_CONTEXT, () => temporal.workflow.getHandle(envQueueWorkflowId(lock.model, lock.env)).signal(releaseSignal, { holderId: lock.holderId }));
      } catch (err) {
        // No queue running means nobody is waiting.
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      }
    }
  };

  return {
    /** writeAndReadStackCheck upserts a document keyed by checkId and reads it back. */
    async writeAndReadStackCheck(checkId: string): Promise<StackCheckRecord> {
      const checks = deps.db.collection<{ _id: string; writtenAt: Date }>('stack_checks');
      // Upsert keyed by the id: a retried activity writes nothing twice.
      await insertIfAbsent(checks, { _id: checkId, writtenAt: clock() });
      const doc = await checks.findOne({ _id: checkId });
      return { checkId, writtenAt: doc?.writtenAt.toISOString() ?? '', readBack: doc !== null };
    },

    /**
     * acquireEnvLock takes the (model, env) lease if it is free and nobody is
     * queued; otherwise it joins the queue workflow, which signals the grant.
     */
    async acquireEnvLock(req: LockRequest & { model: string; env: string }): Promise<{ granted: boolean }> {
      const { model, env, ...request } = req;
      temporalFor('locks'); // before taking a lease: a worker that cannot queue must not hold one
      if ((await leases.takeIfNoneWaiting(model, env, request.holderId)).granted) return { granted: true };
      await joinLine(envQueueWorkflow, envQueueWorkflowId(model, env), model, env, request);
      return { granted: false };
    },

    /**
     * claimEnvLease is the queue workflow's attempt to take the lease for the
     * head of its queue. A lease whose holder's workflow has ended (terminated
     * before it could give the lease back) is taken from it.
     */
    async claimEnvLease(req: EnvLockRef & { othersWaiting: boolean }): Promise<LeaseAttempt> {
      const { temporal } = temporalFor('locks');
      await leases.markWaiting(req.model, req.env);
      let attempt = await leases.take(req.model, req.env, req.holderId);
      if (!attempt.granted && attempt.holder !== null && !(await isRunning(temporal, attempt.holder))) {
        log.warn('taking back an environment lease from a workflow that has ended', { model: req.model, env: req.env, holder: attempt.holder });
        await leases.giveBack(req.model, req.env, attempt.holder);
        attempt = await leases.take(req.model, req.env, req.holderId);
      }
      if (attempt.granted && !req.othersWaiting) await leases.clearWaiting(req.model, req.env);
      return attempt;
    },

    /** releaseEnvLocks gives leases back (or withdraws queued requests) and wakes their queues. */
    async releaseEnvLocks(locks: EnvLockRef[]): Promise<void> {
      await releaseLocks(locks);
    },

    /** clearEnvLeaseWaiting removes the waiting marker when a queue empties without a grant. */
    async clearEnvLeaseWaiting(req: { model: string; env: string }): Promise<void> {
      await leases.clearWaiting(req.model, req.env);
    },

    /** requestEnvLock enqueues a request with the pre-lease lock workflow; only releases recorded before leases call it. */
    async requestEnvLock(req: LockRequest & { model: string; env: string }): Promise<void> {
      const { model, env, ...request } = req;
      await joinLine(envLockWorkflow, lockWorkflowId(model, env), model, env, request);
    },

    /**
     * runGate runs one gate. An unknown type or a bad config is a failed verdict (asking again cannot help);
     * a gate that could not ask throws a retryable GateUnavailable, and the gate activity's retry policy asks again.
     */
    async runGate(req: { releaseId: string; env: string; model: string; version: string; gate: { type: string } & Record<string, unknown> }): Promise<GateResult> {
      const gate = gates.get(req.gate.type);
      const name = typeof req.gate.name === 'string' ? req.gate.name : req.gate.type;
      if (!gate) return { type: req.gate.type, name, passed: false, checks: [], error: `unknown gate type "${req.gate.type}"; known: ${[...gates.keys()].join(', ')}` };
      const config = gate.configSchema.safeParse(req.gate);
      if (!config.success) return { type: gate.type, name, passed: false, checks: [], error: `bad gate config: ${config.error.message}` };
      const candidate = await wrap(() => registry.getVersion(req.model, req.version));
      const live = await registry.getLive(req.model, req.env);
      const liveVersion = live?.version ? await registry.versions.findOne({ _id: versionKey(req.model, live.version) }) : null;
      const result = await gate.run({ releaseId: req.releaseId, env: req.env, candidate, live: liveVersion, registry }, config.data);
      log.info('gate evaluated', { model: req.model, version: req.version, env: req.env, gate: result.name, passed: result.passed });
      return result;
    },

    /** deploy serves the version through a target; idempotent by opKey. */
    async deploy(req: DeployRequest & { target: string }): Promise<{ previousVersion: string | null }> {
      const { target: name, ...rest } = req;
      // Heartbeat while the target works, so a slow deploy is not mistaken for a dead worker.
      const ctx = Context.current();
      ctx.heartbeat();
      const ticker = setInterval(() => ctx.heartbeat(), 2_000);
      let result: { previousVersion: string | null };
      try {
        result = await wrap(() => target(name).deploy(rest));
      } finally {
        clearInterval(ticker);
      }
      log.info('deployed', { model: req.model, version: req.version, env: req.env, target: name, weight: req.weight ?? 100, previousVersion: result.previousVersion });
      return result;
    },

    /** undoDeploy restores the last known good version in the environment of a failed deploy. */
    async undoDeploy(req: UndoRequest & { target: string }): Promise<{ restoredTo: string | null; skipped?: string }> {
      const { target: name, ...rest } = req;
      const result = await wrap(() => target(name).undo(rest));
      log.warn('deploy undone', { model: req.model, env: req.env, failedVersion: req.failedVersion, restoredTo: result.restoredTo, skipped: result.skipped, reason: req.reason });
      return result;
    },

    /** checkHealth asks a health source how the deployed version is doing. */
    async checkHealth(req: HealthQuery & { source: string }): Promise<HealthVerdict> {
      const source = healthSources.get(req.source);
      if (!source) throw ApplicationFailure.nonRetryable(`unknown health source "${req.source}"`, 'UnknownHealthSource');
      return source.check(req);
    },

    /** recordRelease gives back the leases a stage is done with, then stores the release snapshot; never moves it backwards. */
    async recordRelease(state: ReleaseState, revision: number, release: EnvLockRef[] = []): Promise<void> {
      await releaseLocks(release);
      const stored = await releases.record(state, revision);
      // 'stored' happens once per revision, so a retried final write is not counted twice.
      if (stored === 'stored' && state.endedAt !== null && deps.metrics) {
        const version = await registry.versions.findOne({ _id: versionKey(state.model, state.version) });
        deps.metrics.observeFinishedRelease(state, version?.codeCommittedAt);
      }
    },

    /** lastKnownGood finds the version a rollback should restore. */
    async findRollbackTarget(req: { model: string; env: string; toVersion?: string }): Promise<{ from: string | null; fromOpKey: string | null; to: string | null }> {
      const live = await wrap(() => registry.getLive(req.model, req.env));
      const from = { from: live?.version ?? null, fromOpKey: live?.opKey ?? null };
      if (req.toVersion) {
        await wrap(() => registry.getVersion(req.model, req.toVersion!));
        return { ...from, to: req.toVersion };
      }
      const good = await registry.lastKnownGood(req.model, req.env, { excludingVersion: live?.version ?? undefined });
      return { ...from, to: good?.version ?? null };
    },

    /** markDeploymentFailed flags a deployment a rollback replaced, so it never counts as last known good (and DORA sees the failure). */
    async markDeploymentFailed(req: { opKey: string; by: string; reason: string }): Promise<void> {
      await registry.markDeploymentFailed(req.opKey, req.by, req.reason);
    },
  };
}

/** isRunning says whether a workflow's latest run is still open; an unknown workflow is not. */
async function isRunning(temporal: Client, workflowId: string): Promise<boolean> {
  try {
    return (await temporal.workflow.getHandle(workflowId).describe()).status.name === 'RUNNING';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

/** SlipwayActivities is the activity interface workflows proxy. */
export type SlipwayActivities = ReturnType<typeof createActivities>;

// Registry errors that retrying cannot fix become non-retryable typed failures.
async function wrap<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof RegistryError && err.code !== 'concurrent_update') {
      const type = { invalid_input: 'InvalidInput', conflict: 'VersionConflict', not_found: 'ModelVersionNotFound', protected_alias: 'ProtectedAlias' }[err.code];
      throw ApplicationFailure.nonRetryable(err.message, type);
    }
    throw err;
  }
}

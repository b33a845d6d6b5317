/**
 * The environment lock's activities: take a lease or join the waiting line,
 * claim for the head of the line, give leases back. Workflows are started and
 * signalled by name, with type-only imports, so no workflow code is loaded here.
 */
import { ROOT_CONTEXT, context } from '@opentelemetry/api';
import { ApplicationFailure, log } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Db } from 'mongodb';
import { FailureType } from '../domain/failures';
import { acquireSignal, envQueueWorkflowId, giveBackSignal, lockWorkflowId, type EnvLockRef, type LockRequest } from './api';
import { EnvLeases, type LeaseAttempt } from './leases';
import type { envLockWorkflow } from './legacy-lock.workflow';
import type { envQueueWorkflow } from './queue.workflow';

/** LockActivityDeps are the parts the lock activities talk to. */
export interface LockActivityDeps {
  db: Db;
  /** Temporal client: queue workflows of environment locks, and liveness of lease holders. */
  temporal?: Client;
  taskQueue?: string;
  clock?: () => Date;
}

/**
 * createLockActivities builds the lock activities (their names are recorded in
 * histories, so they stay) and giveBackLeases, which recordRelease also calls.
 */
export function createLockActivities(deps: LockActivityDeps) {
  const leases = new EnvLeases(deps.db, deps.clock ?? (() => new Date()));

  const temporalFor = (what: string) => {
    if (!deps.temporal || !deps.taskQueue) throw ApplicationFailure.nonRetryable(`worker has no Temporal client for ${what}`, FailureType.Misconfigured);
    return { temporal: deps.temporal, taskQueue: deps.taskQueue };
  };

  /** Joins a lock's waiting line, starting its workflow if needed; the line outlives any one release, so it stays out of the requester's trace. */
  const joinLine = async (workflowType: 'envQueueWorkflow' | 'envLockWorkflow', workflowId: string, model: string, env: string, request: LockRequest): Promise<void> => {
    const { temporal, taskQueue } = temporalFor('locks');
    await context.with(ROOT_CONTEXT, () =>
      temporal.workflow.signalWithStart<typeof envQueueWorkflow | typeof envLockWorkflow, [LockRequest]>(workflowType, {
        workflowId,
        taskQueue,
        args: [{ model, env }],
        signal: acquireSignal,
        signalArgs: [request],
      }),
    );
  };

  /** Gives leases back, then tells each queue so its next waiter gets a turn. */
  const giveBackLeases = async (locks: EnvLockRef[]): Promise<void> => {
    if (locks.length === 0) return;
    const { temporal } = temporalFor('locks');
    for (const lock of locks) {
      const held = await leases.giveBack(lock.model, lock.env, lock.holderId);
      // A holder wakes the queue only if it has waiters: the marker is written before every claim,
      // so a claim that found this lease taken left it. A requester still queued (not holding) must withdraw.
      if (held && !(await leases.anyWaiting(lock.model, lock.env))) continue;
      try {
        await context.with(ROOT_CONTEXT, () => temporal.workflow.getHandle(envQueueWorkflowId(lock.model, lock.env)).signal(giveBackSignal, { holderId: lock.holderId }));
      } catch (err) {
        // No queue running means nobody is waiting.
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      }
    }
  };

  const activities = {
    /**
     * acquireEnvLock takes the (model, env) lease if it is free and nobody is
     * queued; otherwise it joins the queue workflow, which signals the grant.
     */
    async acquireEnvLock(req: LockRequest & { model: string; env: string }): Promise<{ granted: boolean }> {
      const { model, env, ...request } = req;
      temporalFor('locks'); // before taking a lease: a worker that cannot queue must not hold one
      if ((await leases.takeIfNoneWaiting(model, env, request.holderId)).granted) return { granted: true };
      await joinLine('envQueueWorkflow', envQueueWorkflowId(model, env), model, env, request);
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

    /**
     * confirmEnvLease tells a release whether the registry lease on (model, env) is really
     * held by holderId: a lock grant Signal can be sent by anyone with Temporal access.
     */
    async confirmEnvLease(req: EnvLockRef): Promise<{ held: boolean; holder: string | null }> {
      const holder = await leases.holderOf(req.model, req.env);
      return { held: holder === req.holderId, holder };
    },

    /** releaseEnvLocks gives leases back (or withdraws queued requests) and wakes their queues; the name is on the wire. */
    async releaseEnvLocks(locks: EnvLockRef[]): Promise<void> {
      await giveBackLeases(locks);
    },

    /** clearEnvLeaseWaiting removes the waiting marker when a queue empties without a grant. */
    async clearEnvLeaseWaiting(req: { model: string; env: string }): Promise<void> {
      await leases.clearWaiting(req.model, req.env);
    },

    /** requestEnvLock enqueues a request with the pre-lease lock workflow; only releases recorded before leases call it. */
    async requestEnvLock(req: LockRequest & { model: string; env: string }): Promise<void> {
      const { model, env, ...request } = req;
      await joinLine('envLockWorkflow', lockWorkflowId(model, env), model, env, request);
    },
  };

  return { activities, giveBackLeases };
}

/** LockActivities is the activity interface the lock workflows proxy. */
export type LockActivities = ReturnType<typeof createLockActivities>['activities'];

/** isRunning says whether a workflow's latest run is still open; an unknown workflow is not. */
async function isRunning(temporal: Client, workflowId: string): Promise<boolean> {
  try {
    return (await temporal.workflow.getHandle(workflowId).describe()).status.name === 'RUNNING';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

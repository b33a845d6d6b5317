/**
 * The environment lock's contract: its requests, signals, query and workflow
 * ids, shared by the lock workflows, the release and rollback workflows, and
 * the lock activities.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';

/** LockRequest asks for the lock on behalf of a release or rollback workflow. */
export interface LockRequest {
  /** Workflow id of the requester; the grant is signalled back to it. */
  holderId: string;
  /** `supersede`: newer requests push out older ones still waiting; `queue`: first come, first served. */
  mode: 'supersede' | 'queue';
  /** Rollbacks jump the queue and are never superseded. */
  priority: 'normal' | 'rollback';
}

/** LockGrant tells a requester it now holds (model, env). */
export interface LockGrant {
  lockId: string;
  env: string;
}

/** SupersedeNotice tells an older release that a newer one wants its stage. */
export interface SupersedeNotice {
  env: string;
  by: string;
}

/** LockState is the lock's queryable state. */
export interface LockState {
  holder: string | null;
  queue: LockRequest[];
  grants: number;
}

/** acquireSignal enqueues a LockRequest (sent with signalWithStart). */
export const acquireSignal = defineSignal<[LockRequest]>('acquire');
/** giveBackSignal gives the lock back or withdraws a queued request; its wire name stays 'release' so recorded histories replay. */
export const giveBackSignal = defineSignal<[{ holderId: string }]>('release');
/** lockGrantedSignal is sent by the lock to the requester. */
export const lockGrantedSignal = defineSignal<[LockGrant]>('lockGranted');
/** supersededSignal is sent by the lock to an older requester a newer one replaces. */
export const supersededSignal = defineSignal<[SupersedeNotice]>('superseded');
/** lockStateQuery returns the holder and the queue. */
export const lockStateQuery = defineQuery<LockState>('lockState');

/** EnvLockRef names a lease on (model, env) held, or asked for, by holderId. */
export interface EnvLockRef {
  model: string;
  env: string;
  holderId: string;
}

/** envQueueWorkflowId is the deterministic id of the queue of requesters waiting for the (model, env) lease. */
export function envQueueWorkflowId(model: string, env: string): string {
  return `envq-${model}-${env}`;
}

/** lockWorkflowId is the deterministic id of the pre-lease lock workflow for (model, env); releases recorded before leases use it. */
export function lockWorkflowId(model: string, env: string): string {
  return `lock-${model}-${env}`;
}

/**
 * The waiting line both lock workflows keep (envQueueWorkflow, and the
 * pre-lease envLockWorkflow): who is queued in what order, and who a new
 * request pushes out. Pure state changes, plus the quiet signal both send.
 */
import { getExternalWorkflowHandle, log } from '@temporalio/workflow';
import type { LockRequest, LockState } from './api';

/** Enqueued says what a request did to the queue. */
export interface Enqueued {
  /** False for a malformed request or one already holding or queued. */
  accepted: boolean;
  /** Waiting requesters this superseding request pushed out of the queue. */
  displaced: string[];
  /** True when the holder should be asked to stand down (it decides). */
  supersedesHolder: boolean;
}

/** enqueue adds a request: rollbacks go before every normal request, supersede mode displaces older normal ones. */
export function enqueue(state: LockState, request: LockRequest): Enqueued {
  const refused = { accepted: false, displaced: [], supersedesHolder: false };
  if (!request || typeof request.holderId !== 'string' || request.holderId.length === 0) {
    log.warn('ignoring malformed lock request', { request });
    return refused;
  }
  if (state.holder === request.holderId || state.queue.some((q) => q.holderId === request.holderId)) return refused;
  let displaced: string[] = [];
  const supersedes = request.mode === 'supersede' && request.priority !== 'rollback';
  if (supersedes) {
    // Older normal requests still waiting give way to this one.
    displaced = state.queue.filter((q) => q.priority !== 'rollback').map((q) => q.holderId);
    state.queue = state.queue.filter((q) => q.priority === 'rollback');
  }
  if (request.priority === 'rollback') {
    const firstNormal = state.queue.findIndex((q) => q.priority !== 'rollback');
    state.queue.splice(firstNormal === -1 ? state.queue.length : firstNormal, 0, request);
  } else {
    state.queue.push(request);
  }
  return { accepted: true, displaced, supersedesHolder: supersedes };
}

/** signalQuietly sends a signal to a requester; false when it has ended (a gone requester is not an error). */
export async function signalQuietly(workflowId: string, send: (h: ReturnType<typeof getExternalWorkflowHandle>) => Promise<void>): Promise<boolean> {
  try {
    await send(getExternalWorkflowHandle(workflowId));
    return true;
  } catch (err) {
    log.warn('could not signal lock requester (it has ended)', { workflowId, error: String(err) });
    return false;
  }
}

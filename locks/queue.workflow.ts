/**
 * envQueueWorkflow: the waiting line for one (model, environment) lease.
 *
 * The lease itself lives in the registry (leases.ts): a release
 * that finds it free takes it with one insert and never starts this workflow.
 * A requester that finds it taken signals-with-start this workflow, which
 * claims the lease for the head of its queue whenever a holder gives it back
 * (every give-back signals `release` here), and signals the grant.
 *
 * In `supersede` mode a new request pushes out older requests still queued,
 * and asks the current holder to stand down if it is only waiting (approval,
 * freeze); a holder that is deploying or baking finishes first. Rollbacks
 * jump the queue. The workflow ends as soon as nobody is waiting.
 */
import { allHandlersFinished, condition, continueAsNew, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { LockActivities } from './activities';
import { acquireSignal, giveBackSignal, lockGrantedSignal, lockStateQuery, supersededSignal, type LockRequest, type LockState } from './api';
import { enqueue, signalQuietly } from './waiting-line';

/** QueueInput carries the queue across continue-as-new. */
export interface QueueInput {
  model: string;
  env: string;
  state?: LockState;
}

const acts = proxyActivities<LockActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '500 milliseconds', maximumInterval: '10 seconds' },
});

// A give-back always signals, so this only matters when a signal is lost or a holder was terminated.
const RECHECK = '2 minutes';

/** envQueueWorkflow grants the (model, env) lease to waiting requesters one at a time. */
export async function envQueueWorkflow(input: QueueInput): Promise<void> {
  const { model, env } = input;
  const state: LockState = input.state ?? { holder: null, queue: [], grants: 0 };
  const queueId = workflowInfo().workflowId;
  const notices: { to: string; by: string }[] = [];
  let freed = 0; // bumped by every give-back: the lease may be free now
  let claimedAt = -1; // `freed` as it was when the last claim found the lease taken
  let supersedeBy: string | null = null; // a superseding request whose holder notice is still to be sent
  let markerSet = state.queue.length > 0; // a queue carried over may have left the waiting marker

  setHandler(lockStateQuery, () => state);
  setHandler(acquireSignal, (request: LockRequest) => {
    const { displaced, supersedesHolder } = enqueue(state, request);
    for (const to of displaced) notices.push({ to, by: request.holderId });
    // The holder decides whether to stand down; the next claim says who it is.
    if (supersedesHolder) supersedeBy = request.holderId;
  });
  setHandler(giveBackSignal, ({ holderId }) => {
    if (state.holder === holderId) state.holder = null;
    state.queue = state.queue.filter((q) => q.holderId !== holderId);
    freed += 1;
  });

  const claimDue = () => state.queue.length > 0 && (claimedAt !== freed || supersedeBy !== null);

  for (;;) {
    const woke = await condition(() => notices.length > 0 || claimDue(), state.queue.length > 0 ? RECHECK : '1 minute');
    while (notices.length > 0) {
      const notice = notices.shift()!;
      await signalQuietly(notice.to, async (h) => h.signal(supersededSignal, { env, by: notice.by }));
    }
    if (state.queue.length > 0 && (claimDue() || !woke)) {
      const head = state.queue[0]!;
      const seen = freed;
      const othersWaiting = state.queue.length > 1;
      const attempt = await acts.claimEnvLease({ model, env, holderId: head.holderId, othersWaiting });
      markerSet = !(attempt.granted && !othersWaiting);
      if (!attempt.granted) {
        claimedAt = seen;
        state.holder = attempt.holder;
        if (supersedeBy !== null && attempt.holder !== null && attempt.holder !== supersedeBy) notices.push({ to: attempt.holder, by: supersedeBy });
        supersedeBy = null;
      } else if (!state.queue.some((q) => q.holderId === head.holderId)) {
        // It withdrew while we claimed for it.
        await acts.releaseEnvLocks([{ model, env, holderId: head.holderId }]);
      } else {
        state.queue = state.queue.filter((q) => q.holderId !== head.holderId);
        if (supersedeBy === head.holderId) supersedeBy = null;
        state.holder = head.holderId;
        state.grants += 1;
        // Claim again for the next in line: that sets the waiting marker and learns the holder.
        claimedAt = -1;
        const delivered = await signalQuietly(head.holderId, async (h) => h.signal(lockGrantedSignal, { lockId: queueId, env }));
        // A requester that is gone cannot give the lease back: do it for it.
        if (!delivered) await acts.releaseEnvLocks([{ model, env, holderId: head.holderId }]);
      }
    }
    if (state.queue.length === 0 && notices.length === 0) {
      if (markerSet) {
        await acts.clearEnvLeaseWaiting({ model, env });
        markerSet = false;
      }
      await condition(allHandlersFinished);
      // A request that arrived meanwhile keeps the queue open.
      if (state.queue.length === 0 && notices.length === 0) return;
    }
    if (workflowInfo().continueAsNewSuggested && notices.length === 0) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof envQueueWorkflow>({ model, env, state });
    }
  }
}

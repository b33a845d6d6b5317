/**
 * LEGACY: kept ONLY so lock, release and rollback runs recorded before
 * environment leases replay (test/replay/histories/pre-lease/). New code must
 * not use it: only the pre-lease branches (`patched('env-lease-lock')` false)
 * and the requestEnvLock activity reach it. New releases take a lease
 * (leases.ts) and queue in envQueueWorkflow (queue.workflow.ts).
 *
 * envLockWorkflow: one promotion at a time per (model, environment). A durable
 * mutex: requests arrive by signalWithStart, grants go back by signal, and the
 * state survives worker crashes because it is workflow state.
 *
 * In `supersede` mode a new request pushes out older requests still queued,
 * and asks the current holder to stand down if it is only waiting (approval,
 * freeze); a holder that is deploying or baking finishes first.
 */
import {
  condition,
  continueAsNew,
  setHandler,
  workflowInfo,
  allHandlersFinished,
} from '@temporalio/workflow';
import {
  acquireSignal,
  giveBackSignal,
  lockGrantedSignal,
  lockStateQuery,
  supersededSignal,
  type LockRequest,
  type LockState,
} from './api';
import { enqueue, signalQuietly } from './waiting-line';

/** LockInput carries state across continue-as-new. */
export interface LockInput {
  model: string;
  env: string;
  state?: LockState;
}

const IDLE_TIMEOUT = '1 hour';

/** envLockWorkflow grants the (model, env) lock to one requester at a time; legacy, for replay of pre-lease histories only. */
export async function envLockWorkflow(input: LockInput): Promise<void> {
  const state: LockState = input.state ?? { holder: null, queue: [], grants: 0 };
  const lockId = workflowInfo().workflowId;
  const notices: { to: string; by: string }[] = [];

  setHandler(lockStateQuery, () => state);
  setHandler(acquireSignal, (request: LockRequest) => {
    const { displaced, supersedesHolder } = enqueue(state, request);
    for (const to of displaced) notices.push({ to, by: request.holderId });
    // The holder decides: it stands down only if it is waiting, not deploying.
    if (supersedesHolder && state.holder) notices.push({ to: state.holder, by: request.holderId });
  });
  setHandler(giveBackSignal, ({ holderId }) => {
    if (state.holder === holderId) state.holder = null;
    else state.queue = state.queue.filter((q) => q.holderId !== holderId);
  });

  for (;;) {
    const woke = await condition(() => notices.length > 0 || (state.holder === null && state.queue.length > 0), IDLE_TIMEOUT);
    while (notices.length > 0) {
      const notice = notices.shift()!;
      await signalQuietly(notice.to, async (h) => h.signal(supersededSignal, { env: input.env, by: notice.by }));
    }
    if (state.holder === null && state.queue.length > 0) {
      const next = state.queue.shift()!;
      state.holder = next.holderId;
      state.grants += 1;
      const delivered = await signalQuietly(next.holderId, async (h) => h.signal(lockGrantedSignal, { lockId, env: input.env }));
      // A requester that is gone cannot give the lock back: free it for the next.
      if (!delivered) state.holder = null;
    }
    if (!woke && state.holder === null && state.queue.length === 0 && notices.length === 0) {
      await condition(allHandlersFinished);
      return; // idle: a new request starts a fresh run via signalWithStart
    }
    if (workflowInfo().continueAsNewSuggested && notices.length === 0) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof envLockWorkflow>({ model: input.model, env: input.env, state });
    }
  }
}

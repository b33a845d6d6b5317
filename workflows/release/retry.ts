/**
 * A retried release (patch `retry-from-stage`): before its stage loop, the run
 * asks the worker's planRetry activity which stages of the run it retries it
 * keeps, puts their recorded state in its own (marked `carriedOver`), and
 * starts the loop at the first stage it runs. The input only names the run;
 * a refused request is recorded, and the release runs from its first stage.
 */
import { upsertMemo, workflowInfo } from '@temporalio/workflow';
import { retryingUntilDone } from './proxies';
import type { ReleaseRun } from './run';

/** RETRY_PATCH guards the planRetry activity and the memo upsert of a retried release; releases recorded before never ask. */
export const RETRY_PATCH = 'retry-from-stage';

/** carryOver applies the worker's retry plan to the run and returns the index of the first stage to run. */
export async function carryOver(run: ReleaseRun): Promise<number> {
  const { input, state } = run;
  const info = workflowInfo();
  const decision = await retryingUntilDone.planRetry({
    releaseId: input.releaseId,
    model: input.model,
    version: input.version,
    runId: info.firstExecutionRunId,
    runStartedAt: info.runStartTime.toISOString(),
    pipelineHash: state.pipelineHash,
    pipelineRevision: state.pipelineRevision ?? null,
    stages: run.stages.map((s) => s.env),
    request: input.retry,
    ...(input.startDecision === undefined ? {} : { startDecision: input.startDecision }),
  });
  if (decision.refused) state.ignoredMessages.push({ at: state.startedAt, kind: 'start', channel: input.startDecision ? 'api' : 'cli', input: 'retry', reason: decision.refused });
  if (!decision.retryOf) return 0;
  const fromRunId = decision.retryOf.runId;
  state.retryOf = decision.retryOf;
  for (const [i, kept] of decision.carried.entries()) {
    state.stages[i] = { ...kept.state, carriedOver: { fromRunId, reason: kept.reason } };
    // The earlier run's deploy is this release's too: a failure of this run undoes it as it would its own.
    state.compensations.push({ env: kept.env, kind: 'restore_live', deployOpKey: kept.liveOpKey, version: input.version, status: 'pending', attempts: 0, restoredTo: null, error: null });
  }
  // The Web UI shows the memo: which run this one retries, from where.
  upsertMemo({ retryOf: fromRunId, startFrom: decision.retryOf.startFrom ?? '(all kept)', carriedOver: decision.carried.map((c) => c.env).join(', ') || '(none)' });
  const kept = decision.carried.map((c) => c.env);
  state.summary = `retrying run ${fromRunId}${kept.length ? `: kept ${kept.join(', ')}` : ''}${decision.retryOf.startFrom ? `, starting at ${decision.retryOf.startFrom}` : ''}${decision.retryOf.changes.length ? ` (${decision.retryOf.changes.join('; ')})` : ''}`;
  return decision.startIndex;
}

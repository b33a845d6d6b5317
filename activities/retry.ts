/**
 * The worker's side of a release retry: which stages of the run being retried
 * are kept. Everything that decides comes from the worker's own registry (the
 * earlier run's record, the live pointers) and keys; the workflow input only
 * names the run and the stage asked for, and counts only as the API signed it
 * when the worker trusts API keys.
 */
import { log } from '@temporalio/activity';
import type { Db } from 'mongodb';
import { DECISION_MAX_AGE_MS, verifyDecision, type TrustedKeys } from '../domain/decisions';
import { envNameSchema } from '../domain/model-version';
import type { StageState } from '../domain/release';
import { isRetryRefusal, planRetry, type RetryOf, type RetryRequest } from '../domain/retry';
import type { Registry } from '../registry/registry';
import { ReleaseStore } from '../registry/releases';

/** RetryPlanRequest is what the workflow asks: its own identity and pinned pipeline, and the input's retry claim as it came. */
export interface RetryPlanRequest {
  releaseId: string;
  model: string;
  version: string;
  /** This run (first execution id): never a candidate for being retried. */
  runId: string;
  runStartedAt: string;
  pipelineHash: string;
  pipelineRevision: number | null;
  stages: string[];
  /** Untrusted: the input's retry field and start decision, checked here. */
  request: unknown;
  startDecision?: unknown;
}

/** RetryDecision is what the worker decided: the run retried, the stages kept (with the move that put each live), where to start, and any refusal. */
export interface RetryDecision {
  retryOf: RetryOf | null;
  carried: Array<{ env: string; reason: string; state: StageState; liveOpKey: string }>;
  startIndex: number;
  /** Why the retry request was not honoured (whole or its `from`): recorded and audited as a refused start. */
  refused: string | null;
}

const RUN_ID = /^[A-Za-z0-9-]{1,100}$/;

/** createRetryActivities builds the planRetry activity. */
export function createRetryActivities(deps: { db: Db; registry: Registry; trustedKeys?: TrustedKeys; clock: () => Date }) {
  const releases = new ReleaseStore(deps.db, deps.clock);
  const activities = {
    /** planRetry decides which stages of the retried run this run keeps; nothing is carried over unless every check passes. */
    async planRetry(req: RetryPlanRequest): Promise<RetryDecision> {
      const nothing = (refused: string | null, retryOf: RetryOf | null = null): RetryDecision => ({ retryOf, carried: [], startIndex: 0, refused });
      const request = parseRetryRequest(req.request);
      if (typeof request === 'string') return nothing(`retry request refused: ${request}; nothing carried over`);
      const keys = deps.trustedKeys ?? {};
      // A worker that trusts the API takes a retry only as the API signed it; one that trusts no API (a local stack) takes the claim, and still checks everything below.
      if (Object.keys(keys).length > 0) {
        const unsigned = signedRefusal(req, request, keys);
        if (unsigned) return nothing(`retry request refused: ${unsigned}; nothing carried over, every stage runs`);
      }
      const earlier = (await releases.runs(req.releaseId)).filter((r) => r.runId !== req.runId);
      const prev = earlier[0];
      if (!prev || prev.runId !== request.runId) {
        return nothing(`retry request refused: run ${request.runId} is not the latest earlier run of ${req.releaseId} in the registry (latest: ${prev?.runId ?? 'none'}); nothing carried over`);
      }
      const live: Record<string, { version: string | null; releaseId: string | null; health: 'ok' | 'failed'; opKey: string } | null> = {};
      for (const env of req.stages) {
        const pointer = await deps.registry.getLive(req.model, env);
        live[env] = pointer ? { version: pointer.version, releaseId: pointer.releaseId, health: pointer.health, opKey: pointer.opKey } : null;
      }
      const target = { releaseId: req.releaseId, version: req.version, pipelineHash: req.pipelineHash, pipelineRevision: req.pipelineRevision, stages: req.stages, live };
      let plan = planRetry(prev, target, request.from);
      let refused: string | null = null;
      if (isRetryRefusal(plan) && plan.field === 'from') {
        // Only an edge the client skipped gets here: start from the first stage rather than guess.
        refused = `retry from ${request.from} refused: ${plan.reason}; nothing carried over`;
        plan = planRetry(prev, target, req.stages[0]);
      }
      if (isRetryRefusal(plan)) return nothing(`retry request refused: ${plan.reason}; nothing carried over`);
      const carried = plan.carried.map((c, i) => ({ ...c, state: prev.stages[i]!, liveOpKey: live[c.env]!.opKey }));
      log.info('retry planned', { releaseId: req.releaseId, retryOf: prev.runId, carried: carried.map((c) => c.env), startFrom: plan.retryOf.startFrom, changes: plan.retryOf.changes });
      return { retryOf: plan.retryOf, carried, startIndex: plan.startIndex, refused };
    },
  };
  return { activities };
}

/** parseRetryRequest shape-checks the input's retry field; a string says what is wrong. */
export function parseRetryRequest(raw: unknown): RetryRequest | string {
  if (raw === null || typeof raw !== 'object') return 'retry must be {"runId": …, "from"?: …}';
  const { runId, from } = raw as Record<string, unknown>;
  if (typeof runId !== 'string' || !RUN_ID.test(runId)) return 'retry.runId must be a Temporal run id';
  if (from !== undefined && !envNameSchema.safeParse(from).success) return 'retry.from must be an environment name';
  return from === undefined ? { runId } : { runId, from: from as string };
}

// Why the retry is not the one the API signed for this release, or null when it is.
function signedRefusal(req: RetryPlanRequest, request: RetryRequest, keys: TrustedKeys): string | null {
  if (req.startDecision === undefined) return 'it was not signed by the Slipway API (start it with `slipway release retry` through the API, or POST /releases/:id/retry)';
  const checked = verifyDecision(req.startDecision, 'release.start', keys, { now: req.runStartedAt, maxAgeMs: DECISION_MAX_AGE_MS });
  if (!checked.ok) return `its start decision does not verify: ${checked.reason}`;
  const p = checked.payload;
  if (p.releaseId !== req.releaseId || p.model !== req.model || p.version !== req.version) return `its start decision was signed for ${p.releaseId}, not this release`;
  if (!p.retry || p.retry.runId !== request.runId || p.retry.from !== request.from) {
    return `the API signed ${p.retry ? `a retry of run ${p.retry.runId}${p.retry.from ? ` from ${p.retry.from}` : ''}` : 'no retry'}, not this one`;
  }
  return null;
}

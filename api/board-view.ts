/**
 * The release board's views, pure: the model × environment matrix from live
 * pointers and release snapshots, and the approvals inbox of one caller
 * (the quorum rule itself, domain/quorum.ts, decides whether their approval
 * would count).
 */
import { decideApproval, type QuorumState } from '../domain/quorum';
import { ALL_SCOPE, stopFor, type LineStop, type LineWait, type Quarantine } from '../domain/line-controls';
import type { Pipeline } from '../domain/pipeline';
import type { ReleaseStatus } from '../domain/outcome';
import type { StageStatus } from '../domain/release';
import type { Deployment } from '../registry/types';
import { canApprove, type Principal } from './auth';

/** BoardRelease is the slice of a release snapshot the board needs. */
export interface BoardRelease {
  _id: string;
  model: string;
  version: string;
  status: ReleaseStatus;
  currentStage: string | null;
  summary: string;
  requestedBy: string;
  requester?: { user: string; actor?: string };
  pipelineHash: string;
  startedAt: string;
  updatedAt: string;
  stages: { env: string; status: StageStatus; quorum: QuorumState | null; canaryWeight: number | null; approvalDeadline: string | null }[];
  hotfix?: boolean;
  waitingFor?: LineWait | null;
}

/** QuarantineMark is why a version may not be released or rolled back to, as a cell shows it. */
export interface QuarantineMark {
  reason: string;
  by: string;
  since: string;
}

/** BoardCell is one (model, env): what is live there and the release working on it. */
export interface BoardCell {
  env: string;
  live: { version: string | null; since: string; health: 'ok' | 'failed'; releaseId: string | null; by: string; reason: string; quarantined: QuarantineMark | null } | null;
  release: {
    releaseId: string;
    version: string;
    status: StageStatus;
    canaryWeight: number | null;
    approvals: { approved: number; required: number } | null;
    hotfix: boolean;
    /** The stop holding this release before its deploy here, when it is the one it waits for. */
    waitingFor: LineWait | null;
    quarantined: QuarantineMark | null;
  } | null;
  /** The stop in force for this environment (its own, else `all`), or null. */
  stopped: LineStop | null;
}

/** BoardRow is one model across the environments. */
export interface BoardRow {
  model: string;
  cells: BoardCell[];
  inFlight: { releaseId: string; version: string; status: ReleaseStatus; currentStage: string | null; summary: string; startedAt: string; hotfix: boolean; waitingFor: LineWait | null }[];
}

/** Board is the whole matrix; `environments` is the column order. */
export interface Board {
  generatedAt: string;
  environments: string[];
  rows: BoardRow[];
  /** Every stop in force, `all` first. */
  stops: LineStop[];
  /** Stages waiting for approvals, all callers alike (the inbox narrows it to the caller). */
  approvalsWaiting: number;
}

// Columns in the usual promotion order first, then any other environment by name.
const ENV_ORDER = ['dev', 'test', 'qa', 'staging', 'canary', 'prod', 'production'];

/** sortEnvironments puts environments in promotion order (dev … prod), the rest alphabetically after. */
export function sortEnvironments(envs: Iterable<string>): string[] {
  const rank = (e: string) => {
    const i = ENV_ORDER.indexOf(e);
    return i === -1 ? ENV_ORDER.length : i;
  };
  return [...new Set(envs)].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/** buildBoard joins live pointers and in-flight releases into the matrix; a model shows when it has either, or is listed in `models`. */
export function buildBoard(input: { live: Deployment[]; inFlight: BoardRelease[]; models: string[]; stops?: LineStop[]; quarantines?: Quarantine[]; now: Date }): Board {
  const stops = input.stops ?? [];
  const quarantined = new Map((input.quarantines ?? []).map((q) => [`${q.model}\u0000${q.version}`, { reason: q.reason, by: q.by, since: q.since }]));
  const markOf = (model: string, version: string | null) => (version === null ? null : (quarantined.get(`${model}\u0000${version}`) ?? null));
  // A stopped environment shows as a column even before anything ran there (an `all` stop adds none).
  const envs = sortEnvironments([...input.live.map((d) => d.env), ...input.inFlight.flatMap((r) => r.stages.map((s) => s.env)), ...stops.filter((s) => s.scope !== ALL_SCOPE).map((s) => s.scope)]);
  const names = [...new Set([...input.models, ...input.live.map((d) => d.model), ...input.inFlight.map((r) => r.model)])].sort();
  const liveByKey = new Map(input.live.map((d) => [`${d.model}\u0000${d.env}`, d]));
  const releasesByModel = new Map<string, BoardRelease[]>();
  for (const r of input.inFlight) releasesByModel.set(r.model, [...(releasesByModel.get(r.model) ?? []), r]);
  let approvalsWaiting = 0;
  const rows = names.map((model): BoardRow => {
    const releases = releasesByModel.get(model) ?? [];
    const cells = envs.map((env): BoardCell => {
      const d = liveByKey.get(`${model}\u0000${env}`);
      // The newest release whose stage for this env has started and not finished is the one "on" the cell.
      const working = releases.find((r) => r.stages.some((s) => s.env === env && s.status !== 'pending' && s.status !== 'succeeded'));
      const stage = working?.stages.find((s) => s.env === env);
      if (stage?.status === 'awaiting_approval') approvalsWaiting += 1;
      return {
        env,
        live: d ? { version: d.version, since: new Date(d.startedAt).toISOString(), health: d.health, releaseId: d.releaseId, by: d.by, reason: d.reason, quarantined: markOf(model, d.version) } : null,
        release:
          working && stage
            ? {
                releaseId: working._id,
                version: working.version,
                status: stage.status,
                canaryWeight: stage.canaryWeight,
                approvals: stage.quorum ? { approved: stage.quorum.approvedBy.length, required: stage.quorum.required } : null,
                hotfix: working.hotfix === true,
                waitingFor: working.waitingFor?.env === env ? working.waitingFor : null,
                quarantined: markOf(model, working.version),
              }
            : null,
        stopped: stopFor(stops, env),
      };
    });
    return {
      model,
      cells,
      inFlight: releases.map((r) => ({ releaseId: r._id, version: r.version, status: r.status, currentStage: r.currentStage, summary: r.summary, startedAt: r.startedAt, hotfix: r.hotfix === true, waitingFor: r.waitingFor ?? null })),
    };
  });
  return { generatedAt: input.now.toISOString(), environments: envs, rows, stops, approvalsWaiting };
}

/** InboxItem is a stage waiting for the caller's approval. */
export interface InboxItem {
  releaseId: string;
  model: string;
  version: string;
  stage: string;
  requestedBy: string;
  approved: number;
  required: number;
  approvedBy: string[];
  approvalDeadline: string | null;
  startedAt: string;
}

/**
 * inboxFor lists the stages awaiting approval where the caller's approval,
 * sent through the API, would count: the token may approve the environment
 * and the stage's quorum rule (approvers, self-approval, channels, not yet
 * counted) accepts them. A release whose pipeline is unknown lists nothing.
 */
export function inboxFor(principal: Principal, releases: BoardRelease[], pipelines: Map<string, Pipeline>, now: Date): InboxItem[] {
  const items: InboxItem[] = [];
  for (const r of releases) {
    const pipeline = pipelines.get(r.pipelineHash);
    for (const stage of r.stages) {
      if (stage.status !== 'awaiting_approval' || !stage.quorum || stage.quorum.met) continue;
      if (!canApprove(principal, stage.env)) continue;
      const policy = pipeline?.stages.find((s) => s.env === stage.env)?.approval;
      if (!policy) continue;
      const requesters = [r.requester?.user ?? r.requestedBy, ...(r.requester?.actor ? [r.requester.actor] : [])];
      const dryRun = decideApproval(policy, stage.quorum, { stage: stage.env, approver: principal.user, channel: 'api', verified: true, at: now.toISOString() }, requesters);
      if (dryRun.outcome !== 'counted') continue;
      items.push({
        releaseId: r._id,
        model: r.model,
        version: r.version,
        stage: stage.env,
        requestedBy: requesters[0]!,
        approved: stage.quorum.approvedBy.length,
        required: stage.quorum.required,
        approvedBy: [...stage.quorum.approvedBy],
        approvalDeadline: stage.approvalDeadline,
        startedAt: r.startedAt,
      });
    }
  }
  return items;
}

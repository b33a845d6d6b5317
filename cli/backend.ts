/**
 * What the CLI verbs act through: Temporal and MongoDB directly (`slipway dev`,
 * local and unverified) or the HTTP API as a token's verified identity. Both
 * answer with the same documents, so a verb prints the same either way.
 *
 * Adding a verb's API mode: one method here, its direct body (usually the code
 * the verb had) in DirectBackend, and one `this.api.get/post` in HttpBackend.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { scopeOf, type ScopeChoice } from '../client/line-controls';
import type { ReleaseService, StartedRelease, StartedRetry } from '../client/releases';
import { ALL_SCOPE, type LineStop, type Quarantine } from '../domain/line-controls';
import { doraPeriod, type DoraReport } from '../domain/dora';
import type { ApproveUpdateResult, ReleaseState, RollbackResult } from '../domain/release';
import type { Registry } from '../registry/registry';
import { readDora } from '../registry/dora';
import type { ReleaseRecord } from '../registry/releases';
import type { Deployment, LiveAtMoment, ModelDescription, VersionDoc } from '../registry/types';
import { REGISTRY_DATE_KEYS, type ApiClient } from './api-client';

/** ReleaseListItem is one row of `release list`: the stored snapshot with its id as `releaseId`. */
export type ReleaseListItem = Omit<ReleaseRecord, '_id'> & { releaseId: string };

/** RollbackStarted is a started rollback that can be waited for. */
export interface RollbackStarted {
  workflowId: string;
  /** wait resolves with the outcome, rejects when the rollback failed; aborting stops waiting (not the rollback). */
  wait(signal: AbortSignal): Promise<RollbackResult>;
}

/** RollbackProgress is the answer of GET /rollbacks/:workflowId. */
export interface RollbackProgress {
  workflowId: string;
  state: 'running' | 'completed' | 'failed';
  result?: RollbackResult;
  error?: string;
}

/**
 * SlipwayBackend is everything the verbs do. `by` arguments are the requester
 * in direct mode; in API mode they are undefined and the server uses the token's identity.
 */
export interface SlipwayBackend {
  readonly mode: 'direct' | 'api';
  registerVersion(model: string, input: Record<string, unknown>, by: string | undefined): Promise<{ version: VersionDoc; created: boolean }>;
  describeModel(model: string): Promise<ModelDescription>;
  deployments(model: string, query: { env?: string; limit: number }): Promise<{ model: string; live: ModelDescription['live']; history: Deployment[] }>;
  liveAt(model: string, at: Date, env?: string): Promise<LiveAtMoment>;
  dora(query: { model?: string; env?: string; since: string; allEnvs: boolean }): Promise<DoraReport>;
  startRelease(req: { model: string; version: string; pipeline?: string; hotfix?: boolean; by: string | undefined }): Promise<StartedRelease>;
  /** retryRelease starts a new run of a release that ended badly, keeping what passed. */
  retryRelease(req: { releaseId: string; from?: string; by: string | undefined }): Promise<StartedRetry>;
  releaseStatus(releaseId: string): Promise<ReleaseState>;
  listReleases(query: { model?: string; status?: string; limit: number }): Promise<ReleaseListItem[]>;
  approve(req: { releaseId: string; stage: string; comment?: string; breakGlass?: boolean; by: string | undefined }): Promise<ApproveUpdateResult>;
  /** reject answers who rejected (in API mode, the token's user). */
  reject(req: { releaseId: string; stage: string; reason: string; by: string | undefined }): Promise<{ rejectedBy: string }>;
  rollback(req: { model: string; env: string; toVersion?: string; reason?: string; by: string | undefined }): Promise<RollbackStarted>;
  /** stopLine stops the line for one environment or all (scopeOf); `changed` is false when it was already stopped. */
  stopLine(req: { scope: ScopeChoice; reason: string; by: string | undefined }): Promise<{ stop: LineStop; changed: boolean }>;
  resumeLine(req: { scope: ScopeChoice; reason?: string; by: string | undefined }): Promise<{ resumed: LineStop; woken: number }>;
  lineStops(): Promise<LineStop[]>;
  quarantine(req: { model: string; version: string; reason: string; by: string | undefined }): Promise<{ quarantine: Quarantine; changed: boolean }>;
  unquarantine(req: { model: string; version: string; reason: string; by: string | undefined }): Promise<{ lifted: Quarantine }>;
}

/** DirectConnections are what DirectBackend opens lazily (CliContext provides them). */
export interface DirectConnections {
  registry(): Promise<Registry>;
  releases(): Promise<ReleaseService>;
}

/** DirectBackend talks to Temporal and the registry database itself, trusting the requester it is given. */
export class DirectBackend implements SlipwayBackend {
  readonly mode = 'direct' as const;

  constructor(private readonly open: DirectConnections) {}

  async registerVersion(model: string, input: Record<string, unknown>, by: string | undefined) {
    const registry = await this.open.registry();
    await registry.ensureIndexes();
    return registry.registerVersion({ ...input, model }, requester(by));
  }

  async describeModel(model: string) {
    return (await this.open.registry()).describeModel(model);
  }

  async deployments(model: string, query: { env?: string; limit: number }) {
    const registry = await this.open.registry();
    const described = await registry.describeModel(model);
    const history = await registry.deploymentHistory(model, query.env, query.limit);
    const live = query.env ? described.live.filter((p) => p.env === query.env) : described.live;
    return { model, live, history };
  }

  async liveAt(model: string, at: Date, env?: string) {
    const registry = await this.open.registry();
    await registry.describeModel(model); // NotFoundError (exit 3) for an unknown model, as the API answers 404
    return registry.whatWasLiveAt(model, at, env);
  }

  async dora(query: { model?: string; env?: string; since: string; allEnvs: boolean }) {
    const registry = await this.open.registry();
    return readDora(registry.db, { model: query.model, env: query.env, ...doraPeriod(new Date(), query.since), allEnvironments: query.allEnvs });
  }

  async startRelease(req: { model: string; version: string; pipeline?: string; hotfix?: boolean; by: string | undefined }) {
    // Direct mode signs nothing: a hotfix flag here is a claim the worker records and does not count.
    return (await this.open.releases()).start({ model: req.model, version: req.version, pipeline: req.pipeline, requestedBy: requester(req.by), ...(req.hotfix ? { hotfix: true } : {}) });
  }

  async retryRelease(req: { releaseId: string; from?: string; by: string | undefined }) {
    return (await this.open.releases()).retry({ releaseId: req.releaseId, from: req.from, requestedBy: requester(req.by) });
  }

  async releaseStatus(releaseId: string) {
    return (await this.open.releases()).status(releaseId);
  }

  async listReleases(query: { model?: string; status?: string; limit: number }) {
    const releases = await (await this.open.releases()).list(query);
    return releases.map(({ _id, ...r }) => ({ releaseId: _id, ...r }));
  }

  async approve(req: { releaseId: string; stage: string; comment?: string; breakGlass?: boolean; by: string | undefined }) {
    return (await this.open.releases()).approve({ releaseId: req.releaseId, stage: req.stage, approver: requester(req.by), comment: req.comment, ...(req.breakGlass ? { breakGlass: true } : {}) });
  }

  async reject(req: { releaseId: string; stage: string; reason: string; by: string | undefined }) {
    await (await this.open.releases()).reject({ releaseId: req.releaseId, stage: req.stage, approver: requester(req.by), reason: req.reason });
    return { rejectedBy: requester(req.by) };
  }

  async rollback(req: { model: string; env: string; toVersion?: string; reason?: string; by: string | undefined }) {
    const started = await (await this.open.releases()).rollback({ model: req.model, env: req.env, toVersion: req.toVersion, reason: req.reason, requestedBy: requester(req.by) });
    return { workflowId: started.workflowId, wait: (signal: AbortSignal) => started.wait(signal) };
  }

  // Direct mode acts as an unverified claim, and says so in the audit chain.
  async stopLine(req: { scope: ScopeChoice; reason: string; by: string | undefined }) {
    const scope = scopeOf(req.scope);
    return (await this.open.releases()).lineControls().stop({ scope, reason: req.reason, by: unverified(req.by) });
  }

  async resumeLine(req: { scope: ScopeChoice; reason?: string; by: string | undefined }) {
    return (await this.open.releases()).lineControls().resume({ scope: scopeOf(req.scope), ...(req.reason === undefined ? {} : { reason: req.reason }), by: unverified(req.by) });
  }

  async lineStops() {
    return (await (await this.open.releases()).lineControls().status()).stops;
  }

  async quarantine(req: { model: string; version: string; reason: string; by: string | undefined }) {
    return (await this.open.releases()).lineControls().quarantine({ model: req.model, version: req.version, reason: req.reason, by: unverified(req.by) });
  }

  async unquarantine(req: { model: string; version: string; reason: string; by: string | undefined }) {
    return (await this.open.releases()).lineControls().unquarantine({ model: req.model, version: req.version, reason: req.reason, by: unverified(req.by) });
  }
}

/** HttpBackend goes through the Slipway API; the server takes the identity from the token, never from here. */
export class HttpBackend implements SlipwayBackend {
  readonly mode = 'api' as const;

  constructor(
    private readonly api: ApiClient,
    /** How often `rollback --wait` asks for the outcome. */
    private readonly pollMs = 1_000,
  ) {}

  registerVersion(model: string, input: Record<string, unknown>) {
    return this.api.post<{ version: VersionDoc; created: boolean }>(`/models/${enc(model)}/versions`, input, { dateKeys: REGISTRY_DATE_KEYS });
  }

  describeModel(model: string) {
    return this.api.get<ModelDescription>(`/models/${enc(model)}`, { dateKeys: REGISTRY_DATE_KEYS });
  }

  async deployments(model: string, query: { env?: string; limit: number }) {
    // The API caps a page at 500 entries (the CLI allows 1000 directly); the live list is filtered here as direct mode does.
    const answer = await this.api.get<{ model: string; live: ModelDescription['live']; history: Deployment[] }>(`/models/${enc(model)}/deployments`, {
      query: { env: query.env, limit: Math.min(query.limit, 500) },
      dateKeys: REGISTRY_DATE_KEYS,
    });
    return { model, live: query.env ? answer.live.filter((p) => p.env === query.env) : answer.live, history: answer.history };
  }

  liveAt(model: string, at: Date, env?: string) {
    return this.api.get<LiveAtMoment>(`/models/${enc(model)}/deployments`, { query: { at: at.toISOString(), env }, dateKeys: REGISTRY_DATE_KEYS });
  }

  async dora(query: { model?: string; env?: string; since: string; allEnvs: boolean }) {
    const { since: _echo, ...report } = await this.api.get<DoraReport & { since: string }>('/dora', { query: { ...query, allEnvs: String(query.allEnvs) } });
    return report;
  }

  startRelease(req: { model: string; version: string; pipeline?: string; hotfix?: boolean }) {
    return this.api.post<StartedRelease>('/releases', { model: req.model, version: req.version, ...(req.pipeline ? { pipeline: req.pipeline } : {}), ...(req.hotfix ? { hotfix: true } : {}) });
  }

  retryRelease(req: { releaseId: string; from?: string }) {
    return this.api.post<StartedRetry>(`/releases/${enc(req.releaseId)}/retry`, req.from ? { from: req.from } : {});
  }

  releaseStatus(releaseId: string) {
    return this.api.get<ReleaseState>(`/releases/${enc(releaseId)}`);
  }

  async listReleases(query: { model?: string; status?: string; limit: number }) {
    return (await this.api.get<{ items: ReleaseListItem[] }>('/releases', { query })).items;
  }

  approve(req: { releaseId: string; stage: string; comment?: string; breakGlass?: boolean }) {
    return this.api.post<ApproveUpdateResult>(`/releases/${enc(req.releaseId)}/approvals`, { stage: req.stage, decision: 'approve', ...(req.comment ? { comment: req.comment } : {}), ...(req.breakGlass ? { breakGlass: true } : {}) });
  }

  async reject(req: { releaseId: string; stage: string; reason: string }) {
    const answer = await this.api.post<{ by: string }>(`/releases/${enc(req.releaseId)}/approvals`, { stage: req.stage, decision: 'reject', comment: req.reason });
    return { rejectedBy: answer.by };
  }

  async rollback(req: { model: string; env: string; toVersion?: string; reason?: string }) {
    const { workflowId } = await this.api.post<{ workflowId: string }>('/rollbacks', {
      model: req.model,
      env: req.env,
      ...(req.toVersion ? { toVersion: req.toVersion } : {}),
      ...(req.reason ? { reason: req.reason } : {}),
    });
    const wait = async (signal: AbortSignal): Promise<RollbackResult> => {
      for (;;) {
        signal.throwIfAborted();
        const progress = await this.api.get<RollbackProgress>(`/rollbacks/${enc(workflowId)}`);
        if (progress.state === 'completed' && progress.result) return progress.result;
        if (progress.state === 'failed') throw new Error(progress.error ?? 'the rollback failed');
        await sleep(this.pollMs, undefined, { signal });
      }
    };
    return { workflowId, wait };
  }

  stopLine(req: { scope: ScopeChoice; reason: string }) {
    const scope = scopeOf(req.scope);
    return this.api.post<{ stop: LineStop; changed: boolean }>('/stops', { ...(scope === ALL_SCOPE ? { all: true } : { env: scope }), reason: req.reason });
  }

  resumeLine(req: { scope: ScopeChoice; reason?: string }) {
    return this.api.post<{ resumed: LineStop; woken: number }>(`/stops/${enc(scopeOf(req.scope))}/resume`, req.reason === undefined ? {} : { reason: req.reason });
  }

  async lineStops() {
    return (await this.api.get<{ stops: LineStop[] }>('/stops')).stops;
  }

  quarantine(req: { model: string; version: string; reason: string }) {
    return this.api.post<{ quarantine: Quarantine; changed: boolean }>(`/models/${enc(req.model)}/versions/${enc(req.version)}/quarantine`, { reason: req.reason });
  }

  unquarantine(req: { model: string; version: string; reason: string }) {
    return this.api.post<{ lifted: Quarantine }>(`/models/${enc(req.model)}/versions/${enc(req.version)}/unquarantine`, { reason: req.reason });
  }
}

function requester(by: string | undefined): string {
  // CliContext.requester always names one in direct mode; an empty name here is a wiring bug.
  if (!by) throw new Error('direct mode needs a requester (--as, SLIPWAY_USER or the OS user)');
  return by;
}

function unverified(by: string | undefined): string {
  return `unverified:cli:${requester(by)}`;
}

function enc(segment: string): string {
  return encodeURIComponent(segment);
}

/**
 * Activity factory: every side effect workflows need, with its dependencies
 * passed in so tests hand in real or fake parts without module mocking.
 */
import { createHash } from 'node:crypto';
import { ApplicationFailure, Context, log } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { Db } from 'mongodb';
import { FailureType, REGISTRY_FAILURES } from '../domain/failures';
import { RegistryError } from '../registry/errors';
import type { AuditSigner } from '../registry/audit';
import { rollbackRefusal } from '../registry/live';
import { Registry } from '../registry/registry';
import { ReleaseStore } from '../registry/releases';
import { StackChecks } from '../registry/stack-checks';
import type { SlipwayMetrics } from '../observability/metrics';
import { DECISION_MAX_AGE_MS, verifyDecision, type SignedDecision, type TrustedKeys } from '../domain/decisions';
import { quarantineReason, type LineCheck } from '../domain/line-controls';
import type { Pipeline } from '../domain/pipeline';
import type { ReleasePolicy } from '../domain/release';
import type { EnvLockRef } from '../locks/api';
import { createLockActivities } from '../locks/activities';
import type { PluginSettings } from '../lib/plugins';
import { ROLLBACK_ID_PREFIX, manualRollbackEvent } from '../domain/events';
import { createEventActivities } from './events';
import { createRetryActivities } from './retry';
import type { GateResult, ReleaseState } from '../workflows/release/api';
import { defaultGates, type GateRegistry } from '../gates';
import { checkPipelineSecrets } from '../domain/pipeline-secrets';
import { createSandbox, isSandboxRefusal, type Sandbox } from '../lib/sandbox';
import { failedVerdict } from '../gates/verdicts';
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
  /** What pipelines may reach: allowed secrets, file roots, outbound calls (default: nothing secret, the repository's models/ and examples/, https). */
  sandbox?: Sandbox;
  /** Deploy targets (the worker builds targets/index.ts's); a later one replaces an earlier one of the same name. */
  targets?: DeployTarget[];
  /** Health sources (the worker builds health/index.ts's), by name likewise. */
  healthSources?: HealthSource[];
  /** Prometheus instruments; releases are counted when their final snapshot is stored. */
  metrics?: SlipwayMetrics;
  /** Signs audit checkpoints after each append (SLIPWAY_AUDIT_SIGNING_KEY); none when absent. */
  auditSigner?: AuditSigner;
  /** Where the worker finds each model's bound pipeline (the registry's policy store). */
  policy?: PolicySource;
  /** The API's public keys (SLIPWAY_API_PUBLIC_KEYS): only decisions they verify count as verified. */
  trustedKeys?: TrustedKeys;
  /** How long a release held by a stopped line waits before asking again (SLIPWAY_LINE_RECHECK_INTERVAL; default 30 s). */
  lineRecheckMs?: number;
  /** The worker's SLIPWAY_* settings: event subscriptions' signing secrets are read from here (allowlisted names only). */
  settings?: PluginSettings;
  /** SLIPWAY_PUBLIC_URL: the base of links into the release board in events. */
  publicUrl?: string;
}

/** DEFAULT_LINE_RECHECK_MS is how often a held release asks again whether the line still stands stopped. */
export const DEFAULT_LINE_RECHECK_MS = 30_000;

/** PolicySource answers which pipeline a model is bound to, as admins applied it. */
export interface PolicySource {
  boundPipeline(model: string): Promise<{ name: string; hash: string; revision: number | null; pipeline: Pipeline } | null>;
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
  const registry = new Registry(deps.db, clock, { auditSigner: deps.auditSigner });
  const releases = new ReleaseStore(deps.db, clock);
  const locks = createLockActivities({ db: deps.db, temporal: deps.temporal, taskQueue: deps.taskQueue, clock });
  const stackChecks = new StackChecks(deps.db, clock);
  const events = createEventActivities({ db: deps.db, temporal: deps.temporal, taskQueue: deps.taskQueue, clock, settings: deps.settings ?? {}, publicUrl: deps.publicUrl ?? DEFAULT_PUBLIC_URL });
  const gates = deps.gates ?? defaultGates();
  const sandbox = deps.sandbox ?? createSandbox({ settings: {} });
  const targets = new Map<string, DeployTarget>((deps.targets ?? []).map((t) => [t.name, t]));
  const healthSources = new Map<string, HealthSource>((deps.healthSources ?? []).map((h) => [h.name, h]));

  // The one health check both checkHealth and bakeWatch make.
  const checkHealthOnce = async (req: HealthQuery & { source: string }): Promise<HealthVerdict> => {
    const source = healthSources.get(req.source);
    if (!source) throw ApplicationFailure.nonRetryable(`unknown health source "${req.source}"`, FailureType.UnknownHealthSource);
    return source.check(req);
  };

  const target = (name: string): DeployTarget => {
    const t = targets.get(name);
    if (!t) throw ApplicationFailure.nonRetryable(`unknown deploy target "${name}"; known: ${[...targets.keys()].join(', ')}`, FailureType.UnknownTarget);
    return t;
  };

  return {
    /** writeAndReadStackCheck upserts a document keyed by checkId and reads it back. */
    async writeAndReadStackCheck(checkId: string): Promise<StackCheckRecord> {
      const doc = await stackChecks.writeAndRead(checkId);
      return { checkId, writtenAt: doc?.writtenAt.toISOString() ?? '', readBack: doc !== null };
    },

    // The environment lock's activities, under the names histories record.
    ...locks.activities,

    // Event delivery and approval reminders (workflows/events/).
    ...events.activities,
    // planRetry: what a retried release keeps from its earlier run (activities/retry.ts).
    ...createRetryActivities({ db: deps.db, registry, trustedKeys: deps.trustedKeys, clock }).activities,

    /**
     * runGate runs one gate. An unknown type or a bad config is a failed verdict (asking again cannot help);
     * a gate that could not ask throws a retryable GateUnavailable, and the gate activity's retry policy asks again.
     */
    async runGate(req: { releaseId: string; env: string; model: string; version: string; gate: { type: string } & Record<string, unknown> }): Promise<GateResult> {
      const gate = gates.get(req.gate.type);
      const name = typeof req.gate.name === 'string' ? req.gate.name : req.gate.type;
      if (!gate) return failedVerdict(req.gate.type, name, `unknown gate type "${req.gate.type}"; known: ${[...gates.keys()].join(', ')}`);
      const config = gate.configSchema.safeParse(req.gate);
      if (!config.success) return failedVerdict(gate.type, name, `bad gate config: ${config.error.message}`);
      const candidate = await wrap(() => registry.getVersion(req.model, req.version));
      const live = await registry.getLive(req.model, req.env);
      const liveVersion = live?.version ? await registry.findVersion(req.model, live.version) : null;
      let result: GateResult;
      try {
        result = await gate.run({ releaseId: req.releaseId, env: req.env, candidate, live: liveVersion, registry, sandbox }, config.data);
      } catch (err) {
        if (!isSandboxRefusal(err)) throw err;
        // The worker's allowlists refused what the pipeline named: a failed verdict (asking again cannot help), on the record.
        await registry.audit.append({
          key: `sandbox.refused:${req.releaseId}:${req.env}:${name}`,
          actor: 'worker',
          action: 'gate.refused',
          subject: { model: req.model, version: req.version, env: req.env, releaseId: req.releaseId },
          reason: err.message,
          details: { gate: name, type: gate.type, refusal: err.name },
        });
        log.warn('gate refused by the worker sandbox', { model: req.model, version: req.version, env: req.env, gate: name, reason: err.message });
        return failedVerdict(gate.type, name, `refused by the worker: ${err.message}`);
      }
      log.info('gate evaluated', { model: req.model, version: req.version, env: req.env, gate: result.name, passed: result.passed });
      return result;
    },

    /** deploy serves the version through a target; idempotent by opKey. */
    async deploy(req: DeployRequest & { target: string }): Promise<{ previousVersion: string | null }> {
      const name = req.target;
      // Heartbeat while the target works, so a slow deploy is not mistaken for a dead worker.
      const ctx = Context.current();
      ctx.heartbeat();
      const ticker = setInterval(() => ctx.heartbeat(), 2_000);
      let result: { previousVersion: string | null };
      try {
        // The target gets its own name too: a pointer move records it, and a manual rollback goes back through it.
        result = await wrap(() => target(name).deploy(req));
      } finally {
        clearInterval(ticker);
      }
      log.info('deployed', { model: req.model, version: req.version, env: req.env, target: name, weight: req.weight ?? 100, previousVersion: result.previousVersion });
      // A rollback's deploy (workflows/rollback.ts: opKey `<rollback id>:deploy`) is the moment it restored a version.
      if (req.releaseId.startsWith(ROLLBACK_ID_PREFIX) && req.opKey === `${req.releaseId}:deploy`) {
        await events.publish([manualRollbackEvent({ rollbackId: req.releaseId, model: req.model, env: req.env, restoredTo: req.version, replaced: result.previousVersion, requestedBy: req.by, at: clock().toISOString() })]);
      }
      return result;
    },

    /** undoDeploy restores the last known good version in the environment of a failed deploy. */
    async undoDeploy(req: UndoRequest & { target: string }): Promise<{ restoredTo: string | null; skipped?: string }> {
      const result = await wrap(() => target(req.target).undo(req));
      log.warn('deploy undone', { model: req.model, env: req.env, failedVersion: req.failedVersion, restoredTo: result.restoredTo, skipped: result.skipped, reason: req.reason });
      return result;
    },

    /** checkHealth asks a health source how the deployed version is doing. */
    async checkHealth(req: HealthQuery & { source: string }): Promise<HealthVerdict> {
      return checkHealthOnce(req);
    },

    /**
     * bakeWatch runs a whole bake in one activity: a check every intervalMs until endsAt (or, waitingForReports,
     * until a check is no longer short of reports). A loop of workflow timers and
     * checkHealth activities costs ~11 history events per check; this costs a constant few. Progress rides
     * on heartbeats, so a retried attempt resumes where the last one stopped, and a cancelled release stops it.
     */
    async bakeWatch(req: BakeWatchRequest): Promise<BakeOutcome> {
      const ctx = Context.current();
      const resumed = ctx.info.heartbeatDetails as BakeProgress | undefined;
      const progress: BakeProgress = resumed ?? { checksDone: 0, recent: [] };
      const beat = () => ctx.heartbeat({ ...progress, recent: [...progress.recent] });
      beat();
      // Heartbeats on a short tick, not per check: a dead worker or a cancel is noticed within seconds at any interval.
      const ticker = setInterval(beat, 5_000);
      const endsAt = Date.parse(req.endsAt);
      const now = () => clock().getTime();
      const check = async (label: string): Promise<HealthVerdict> => {
        for (let delay = 1_000; ; delay = Math.min(delay * 2, 10_000)) {
          try {
            const verdict = await checkHealthOnce(req.query);
            progress.checksDone += 1;
            progress.recent.push({ at: clock().toISOString(), healthy: verdict.healthy, detail: label ? `${label}: ${verdict.detail}` : verdict.detail });
            progress.recent = progress.recent.slice(-BAKE_RECENT_CHECKS);
            beat();
            return verdict;
          } catch (err) {
            // An unknown source cannot get better; an unreachable one is asked again, as checkHealth's retry policy did.
            if (err instanceof ApplicationFailure && err.nonRetryable) throw err;
            log.warn('bake health check failed, asking again', { model: req.query.model, env: req.query.env, error: String(err) });
            await ctx.sleep(delay);
          }
        }
      };
      try {
        if (req.waitingForReports) {
          // After a bake short of reports (onMissing: wait): check until one is not short, or until endsAt.
          let last: HealthVerdict = { healthy: false, missing: true, detail: 'no health report yet' };
          while (last.missing === true) {
            const wait = Math.min(req.intervalMs, endsAt - now());
            if (wait <= 0) break;
            await ctx.sleep(wait);
            last = await check('bake (waiting for reports)');
          }
          return { outcome: verdictOutcome(last), detail: last.detail, ...summary(progress) };
        }
        // At least one check, even if the bake ended before this attempt started.
        do {
          const wait = Math.min(req.intervalMs, endsAt - now());
          if (wait > 0) await ctx.sleep(wait);
          const verdict = await check('');
          // Short of reports is judged when the bake ends: reports may still arrive before then.
          if (verdict.missing === true && now() < endsAt) continue;
          if (!verdict.healthy) return { outcome: verdictOutcome(verdict), detail: verdict.detail, ...summary(progress) };
        } while (now() < endsAt);
        return { outcome: 'passed', detail: 'healthy for the whole bake', ...summary(progress) };
      } finally {
        clearInterval(ticker);
      }
    },

    /** recordRelease gives back the leases a stage is done with, then stores the release snapshot; never moves it backwards. */
    async recordRelease(state: ReleaseState, revision: number, giveBack: EnvLockRef[] = []): Promise<void> {
      await locks.giveBackLeases(giveBack);
      const stored = await releases.record(state, revision);
      if (stored === 'stored') {
        await auditDecisions(registry, state);
        await auditRefusals(registry, state);
      }
      // 'stored' happens once per revision, so a retried final write is not counted twice.
      if (stored === 'stored' && state.endedAt !== null && deps.metrics) {
        const version = await registry.findVersion(state.model, state.version);
        deps.metrics.observeFinishedRelease(state, version?.codeCommittedAt);
      }
      // Stale too: a retry after a failed publish finds its snapshot already stored, and must still publish (ids de-duplicate).
      await events.publishRelease(state);
    },

    /**
     * loadReleasePolicy is what a release may trust, from the worker's side of the boundary: the
     * pipeline its model is bound to (never one from the workflow input) and the API's public keys.
     */
    async loadReleasePolicy(req: { releaseId: string; model: string; version: string }): Promise<ReleasePolicy> {
      // Checked here too, not only by the API: anyone with Temporal access can start a release.
      const quarantine = await registry.lineControls.quarantineOf(req.model, req.version);
      if (quarantine) {
        const reason = quarantineReason(quarantine);
        await registry.audit.append({ key: `release.refused:${req.releaseId}:${quarantine.since}`, actor: 'worker', action: 'release.refused', subject: { model: req.model, version: req.version, releaseId: req.releaseId }, reason, details: { quarantinedBy: quarantine.by } });
        return { ok: false, reason };
      }
      const bound = deps.policy ? await deps.policy.boundPipeline(req.model) : null;
      if (!bound) {
        return { ok: false, reason: `${req.model} is not bound to a pipeline on this server: an admin applies one (\`slipway pipeline apply <file>\`) and binds the model (\`slipway model bind ${req.model} --pipeline <name>\`)` };
      }
      // The worker's own allowlist decides, whatever the API that applied the pipeline allowed.
      const refused = checkPipelineSecrets(bound.pipeline, `pipeline ${bound.name}`, sandbox.secretEnvAllow);
      if (refused.length > 0) {
        const reason = `pipeline ${bound.name} (revision ${bound.revision ?? '?'}) names secrets this worker may not read: ${refused.map((i) => `${i.path}: ${i.reason}`).join('; ')}`;
        await registry.audit.append({
          key: `policy.refused:${req.releaseId}:${bound.hash}`,
          actor: 'worker',
          action: 'release.policy_refused',
          subject: { model: req.model, version: req.version, releaseId: req.releaseId, pipeline: bound.name },
          reason,
          details: { hash: bound.hash, revision: bound.revision, paths: refused.map((i) => i.path) },
        });
        return { ok: false, reason };
      }
      log.info('release policy loaded', { releaseId: req.releaseId, model: req.model, pipeline: bound.name, hash: bound.hash, revision: bound.revision });
      return { ok: true, pipeline: bound.pipeline, pipelineHash: bound.hash, pipelineRevision: bound.revision, trustedKeys: deps.trustedKeys ?? {} };
    },

    /** checkLine is what a release learns before a deploy: the stop in force for env, and its version's quarantine. */
    async checkLine(req: { releaseId: string; model: string; version: string; env: string }): Promise<LineCheck> {
      const [stop, quarantine] = await Promise.all([registry.lineControls.stopFor(req.env), registry.lineControls.quarantineOf(req.model, req.version)]);
      if (stop) log.info('line stopped: release held', { releaseId: req.releaseId, env: req.env, scope: stop.scope });
      return { stop, quarantine, recheckMs: deps.lineRecheckMs ?? DEFAULT_LINE_RECHECK_MS };
    },

    /**
     * findRollbackTarget finds the version a rollback should restore, and the target to deploy it through:
     * the one that made the live move (`registry` for moves recorded before moves named their target).
     */
    async findRollbackTarget(req: { model: string; env: string; toVersion?: string; rollbackId?: string; requestedBy?: string; requestDecision?: SignedDecision }): Promise<{ from: string | null; fromOpKey: string | null; to: string | null; target: string }> {
      const live = await wrap(() => registry.getLive(req.model, req.env));
      // Undoing through the registry alone would move the pointer while the bad version keeps serving.
      const from = { from: live?.version ?? null, fromOpKey: live?.opKey ?? null, target: live?.target ?? 'registry' };
      // Who asked, as the worker can tell: the API's signed request, else the input's claim.
      const actor = rollbackRequester(req, deps.trustedKeys ?? {}, clock());
      const auditRequest = (action: 'rollback.requested' | 'rollback.refused', reason: string) =>
        req.rollbackId
          ? registry.audit.append({ key: `${action}:${req.rollbackId}`, actor, action, subject: { model: req.model, env: req.env, ...(req.toVersion ? { version: req.toVersion } : {}) }, reason, details: { rollbackId: req.rollbackId, from: from.from } })
          : Promise.resolve();
      if (req.toVersion) {
        await wrap(() => registry.getVersion(req.model, req.toVersion!));
        const quarantine = await registry.lineControls.quarantineOf(req.model, req.toVersion);
        if (quarantine) {
          const refusal = `${quarantineReason(quarantine)} nor rolled back to`;
          await auditRequest('rollback.refused', refusal);
          throw ApplicationFailure.nonRetryable(refusal, FailureType.RollbackTargetNotGood);
        }
        // Checked here too, not only in the client: anyone with Temporal access can start this workflow.
        const refusal = rollbackRefusal(req.model, req.env, req.toVersion, await registry.lastDeploymentOf(req.model, req.env, req.toVersion));
        if (refusal) {
          await auditRequest('rollback.refused', refusal);
          throw ApplicationFailure.nonRetryable(refusal, FailureType.RollbackTargetNotGood);
        }
        await auditRequest('rollback.requested', `to ${req.toVersion}`);
        return { ...from, to: req.toVersion };
      }
      const good = await registry.lastKnownGood(req.model, req.env, { excludingVersion: live?.version ?? undefined });
      await auditRequest(good ? 'rollback.requested' : 'rollback.refused', good ? `to last known good ${good.version}` : 'no earlier good version');
      return { ...from, to: good?.version ?? null };
    },

    /** markDeploymentFailed flags a deployment a rollback replaced, so it never counts as last known good (and DORA sees the failure). */
    async markDeploymentFailed(req: { opKey: string; by: string; reason: string }): Promise<void> {
      await registry.markDeploymentFailed(req.opKey, req.by, req.reason);
    },
  };
}

/** DEFAULT_PUBLIC_URL is the link base when the worker is given none: the API on its default port. */
export const DEFAULT_PUBLIC_URL = 'http://127.0.0.1:8787';

/** BAKE_RECENT_CHECKS bounds the checks a bake hands back for the release state (a 7-day bake at 1 s makes 604,800). */
export const BAKE_RECENT_CHECKS = 20;

/** BakeWatchRequest is one whole bake: what to check, how often, until when, and what to do when short of reports. */
export interface BakeWatchRequest {
  query: HealthQuery & { source: string };
  /** ISO time the bake ends, fixed by the workflow, so a retried attempt does not bake longer. */
  endsAt: string;
  intervalMs: number;
  /** False for the bake itself; true for the checks after a bake short of reports (onMissing: wait), until endsAt. */
  waitingForReports: boolean;
}

/** BakeProgress is what bakeWatch heartbeats, and resumes from. */
export interface BakeProgress {
  checksDone: number;
  recent: { at: string; healthy: boolean; detail: string }[];
}

/** BakeOutcome is how a bake ended, with the last BAKE_RECENT_CHECKS checks. */
export interface BakeOutcome {
  outcome: 'passed' | 'failed' | 'missing';
  detail: string;
  checksDone: number;
  recent: BakeProgress['recent'];
}

function verdictOutcome(verdict: HealthVerdict): BakeOutcome['outcome'] {
  if (verdict.missing === true) return 'missing';
  return verdict.healthy ? 'passed' : 'failed';
}

function summary(progress: BakeProgress): Pick<BakeOutcome, 'checksDone' | 'recent'> {
  return { checksDone: progress.checksDone, recent: progress.recent };
}

/** SlipwayActivities is the activity interface workflows proxy. */
export type SlipwayActivities = ReturnType<typeof createActivities>;

// Registry errors that retrying cannot fix become non-retryable typed failures; the rest are rethrown as they are.
async function wrap<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof RegistryError) {
      const { failureType, retryable } = REGISTRY_FAILURES[err.code];
      if (!retryable) throw ApplicationFailure.nonRetryable(err.message, failureType);
    }
    throw err;
  }
}

// A rollback's requester as an audit actor: verified only when the API's signed request matches this rollback.
function rollbackRequester(req: { rollbackId?: string; model: string; env: string; requestedBy?: string; requestDecision?: SignedDecision }, keys: TrustedKeys, now: Date): string {
  const claimed = `unverified:claimed:${req.requestedBy ?? 'unknown'}`;
  if (!req.requestDecision) return claimed;
  const checked = verifyDecision(req.requestDecision, 'rollback.request', keys, { now: now.toISOString(), maxAgeMs: DECISION_MAX_AGE_MS });
  if (!checked.ok) return claimed;
  const p = checked.payload;
  return p.rollbackId === req.rollbackId && p.model === req.model && p.env === req.env ? p.requester.user : claimed;
}

/**
 * auditDecisions puts who started the release (verified how) and every counted approval and rejection into
 * the model's audit chain, once each: keyed by what they are, so later snapshots append nothing.
 * Releases recorded before server-side policy carry no requester and no approval records.
 */
async function auditDecisions(registry: Registry, state: ReleaseState): Promise<void> {
  const subject = { model: state.model, version: state.version, releaseId: state.releaseId };
  const who = (user: string, verified: boolean, channel?: string | null) => (verified ? user : `unverified:${channel ?? 'claimed'}:${user}`);
  if (state.requester) {
    const r = state.requester;
    await registry.audit.append({
      key: `started:${state.releaseId}:${state.startedAt}`,
      actor: who(r.user, r.verified),
      action: 'release.started',
      subject: { ...subject, pipeline: state.pipeline },
      details: { verified: r.verified, via: r.via ?? null, issuer: r.issuer ?? null, actor: r.actor ?? null, pipelineHash: state.pipelineHash, pipelineRevision: state.pipelineRevision ?? null },
    });
  }
  if (state.retryOf) {
    const r = state.retryOf;
    await registry.audit.append({
      key: `retried:${state.releaseId}:${state.startedAt}`,
      actor: state.requester ? who(state.requester.user, state.requester.verified) : `unverified:claimed:${state.requestedBy}`,
      action: 'release.retried',
      subject,
      reason: r.changes.join('; ') || 'nothing changed since the retried run',
      details: { retryOf: r.runId, retriedStatus: r.status, startFrom: r.startFrom, carriedOver: state.stages.filter((s) => s.carriedOver).map((s) => s.env) },
    });
  }
  for (const stage of state.stages) {
    // A carried-over stage's approvals were audited by the run that collected them.
    if (stage.carriedOver) continue;
    for (const a of stage.quorum?.approvals ?? []) {
      await registry.audit.append({
        key: `approved:${state.releaseId}:${state.startedAt}:${stage.env}:${a.approver}`,
        actor: who(a.approver, a.verified, a.channel),
        action: 'release.approved',
        subject: { ...subject, env: stage.env },
        ...(a.comment ? { reason: a.comment } : {}),
        details: { channel: a.channel, verified: a.verified, at: a.at },
      });
    }
    const rejected = stage.rejectedBy;
    const glass = state.breakGlass?.find((b) => b.stage === stage.env);
    if (glass) {
      // Counted only from a decision the API signed (messages.ts), so the approver is verified.
      await registry.audit.append({
        key: `break-glass:${state.releaseId}:${state.startedAt}:${stage.env}`,
        actor: glass.approver,
        action: 'release.break_glass_approved',
        subject: { ...subject, env: stage.env },
        ...(glass.comment ? { reason: glass.comment } : {}),
        details: { at: glass.at, hotfix: state.hotfix === true },
      });
      if (glass.passedStop) {
        await registry.audit.append({
          key: `break-glass-used:${state.releaseId}:${state.startedAt}:${stage.env}`,
          actor: glass.approver,
          action: 'release.passed_line_stop',
          subject: { ...subject, env: stage.env },
          reason: `hotfix passed a stopped line: ${glass.passedStop}`,
          details: { at: glass.usedAt ?? null },
        });
      }
    }
    if (rejected && rejected.verified !== undefined) {
      await registry.audit.append({
        key: `rejected:${state.releaseId}:${state.startedAt}:${stage.env}`,
        actor: who(rejected.approver, rejected.verified, rejected.channel),
        action: 'release.rejected',
        subject: { ...subject, env: stage.env },
        reason: rejected.reason,
        details: { channel: rejected.channel ?? null, verified: rejected.verified, at: rejected.at },
      });
    }
  }
}

/**
 * auditRefusals puts every message the release refused (a Signal or Update from anyone with
 * Temporal access) into the model's audit chain. Keyed by the message, so the snapshots that
 * carry it again append nothing; the claimed approver is recorded as unverified.
 */
async function auditRefusals(registry: Registry, state: ReleaseState): Promise<void> {
  for (const m of state.ignoredMessages) {
    const digest = createHash('sha256').update(`${m.at}\n${m.kind}\n${m.channel}\n${m.input}\n${m.reason}`).digest('hex').slice(0, 32);
    await registry.audit.append({
      key: `refused:${state.releaseId}:${digest}`,
      actor: `unverified:${m.channel}`,
      action: `release.${m.kind}_refused`,
      subject: { model: state.model, version: state.version, releaseId: state.releaseId },
      reason: m.reason,
      details: { input: m.input, at: m.at },
    });
  }
}

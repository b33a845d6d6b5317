/**
 * DORA software-delivery metrics from the registry's deployment history, per
 * (model, environment) and period, each placed in a DORA performance band.
 *
 * Bands: see dora-bands.ts (DORA 2023 clusters and the exact boundaries used).
 *
 * What is counted (the registry's `deployments` collection holds one *move*
 * of a (model, env) live pointer per document):
 * - a **deployment** is a move that ships a change: a release's deploy, or a
 *   direct move. A **restore** is a move that undoes a failure — a release's
 *   compensation, a `slipway rollback`, or a move that leaves nothing live
 *   (see `deploymentKind`). Restores are reported apart and are not
 *   deployments: they ship nothing new, and counting them would inflate both
 *   the frequency and the denominator of the failure rate.
 * - a deployment belongs to the period when it started in [from, to).
 * - **deployment frequency** = deployments / days in the period.
 * - **lead time for changes** = the version's `codeCommittedAt` → the
 *   deployment's `startedAt`, for deployments that went live and were not
 *   rolled back (DORA: "committed to successfully running in production").
 *   Deployments whose version has no commit time are counted in
 *   `withoutCommitTime`; a commit time after the deployment (clock skew, bad
 *   data) in `commitAfterDeploy`; neither gives a sample. The `prod` row is the
 *   DORA measure; other rows measure "commit → live in that environment".
 * - **change failure rate** = failed deployments / deployments, where failed
 *   means `health: 'failed'` (its release rolled it back).
 * - **failed-deployment recovery time** = from a failed deployment's start
 *   (when the bad version went live) to the start of the next healthy move in
 *   the same (model, env) — a rollback or a fix rolled forward — i.e. when
 *   service was restored. Measured for failed deployments that started in the
 *   period, even when service came back after the period ended; ones not
 *   restored yet are counted in `unrecovered`.
 * - durations are summarised by the median (mean of the two middle values for
 *   an even count) and p90 (nearest rank); bands use the median.
 *
 * Pure: no I/O, safe to import from workflow code.
 */
import { parseDuration } from './duration';
import { DORA_BAND_RULES, DORA_SOURCE, changeFailureRateBand, deploymentFrequencyBand, leadTimeBand, recoveryTimeBand, type DoraBand } from './dora-bands';

export * from './dora-bands';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** ALL_ENVIRONMENTS is the `env` of a model's row pooled over every environment (no environment name can be `*`). */
export const ALL_ENVIRONMENTS = '*';

/** UNDO_OPKEY_SUFFIX ends the opKey of a release's compensating move (targets/registry/registry-target.ts). */
export const UNDO_OPKEY_SUFFIX = ':undo';
/** ROLLBACK_OPKEY_PREFIX starts the opKey of a `slipway rollback` move (rollbackWorkflowId in workflows/release/api.ts). */
export const ROLLBACK_OPKEY_PREFIX = 'rollback-';

/** MoveKind tells a deployment that ships a change from a restore that undoes a failure. */
export type MoveKind = 'change' | 'restore';

/** DoraMove is one move of a (model, env) live pointer, as the DORA math needs it. */
export interface DoraMove {
  model: string;
  env: string;
  /** Orders moves within (model, env); clocks can tie or skew, revisions cannot. */
  revision: number;
  version: string | null;
  startedAt: Date;
  health: 'ok' | 'failed';
  kind: MoveKind;
}

/** DoraVersion is the part of a model version the lead time needs. */
export interface DoraVersion {
  model: string;
  version: string;
  /** ISO-8601 (as registered) or a Date; absent when the version was registered without one. */
  codeCommittedAt?: string | Date | null;
}

/** DoraInput is everything computeDora reads. */
export interface DoraInput {
  /**
   * Moves of the (model, env) pairs in scope: at least those started in the
   * period, plus any later ones that restored a failure from the period.
   * Moves outside the period are used only to find recoveries.
   */
  moves: readonly DoraMove[];
  versions: readonly DoraVersion[];
  /** Half-open: from inclusive, to exclusive. */
  period: { from: Date; to: Date };
  /** Pairs to report even with no deployment in the period (e.g. every pair that ever had one). */
  environments?: readonly { model: string; env: string }[];
  /** Add one row per model pooled over all its environments (`env` = ALL_ENVIRONMENTS). */
  allEnvironments?: boolean;
}

/** DurationSummary is the median and p90 of a set of durations, null when there are none. */
export interface DurationSummary {
  samples: number;
  medianMs: number | null;
  p90Ms: number | null;
}

/** DoraMetrics are the four keys for one (model, env), or one model over all environments. */
export interface DoraMetrics {
  model: string;
  env: string;
  /** Deployments (changes) started in the period. */
  deployments: number;
  /** Restores (rollbacks, compensations) started in the period; not deployments. */
  restores: number;
  deploymentFrequency: { perDay: number; band: DoraBand };
  leadTime: DurationSummary & { withoutCommitTime: number; commitAfterDeploy: number; band: DoraBand | null };
  changeFailureRate: { failed: number; rate: number | null; band: DoraBand | null };
  recoveryTime: DurationSummary & { unrecovered: number; band: DoraBand | null };
}

/** DoraReport is the result of computeDora: the period, the bands' source and rules, and one row per (model, env). */
export interface DoraReport {
  period: { from: string; to: string; days: number };
  source: typeof DORA_SOURCE;
  bandRules: typeof DORA_BAND_RULES;
  metrics: DoraMetrics[];
}

/** DEFAULT_DORA_SINCE is the look-back the CLI and the API use when none is given. */
export const DEFAULT_DORA_SINCE = '30d';
/** MAX_DORA_SINCE_MS bounds the look-back (3660 days, about ten years) so a typo cannot ask for all of time. */
export const MAX_DORA_SINCE_MS = 3660 * DAY_MS;

/** doraPeriod turns a moment and a look-back such as "30d" into the period [now - since, now); throws naming the problem. */
export function doraPeriod(now: Date, since: string): { from: Date; to: Date } {
  const ms = parseDuration(since);
  if (ms <= 0) throw new RangeError(`since must be longer than zero, got "${since}"`);
  if (ms > MAX_DORA_SINCE_MS) throw new RangeError(`since may be at most 3660d, got "${since}"`);
  return { from: new Date(now.getTime() - ms), to: new Date(now.getTime()) };
}

/** deploymentKind classifies a registry move: compensations, rollbacks and "nothing live" are restores, everything else a change. */
export function deploymentKind(move: { opKey: string; version: string | null }): MoveKind {
  if (move.version === null) return 'restore';
  if (move.opKey.endsWith(UNDO_OPKEY_SUFFIX) || move.opKey.startsWith(ROLLBACK_OPKEY_PREFIX)) return 'restore';
  return 'change';
}

/** summarizeDurations gives the count, median and nearest-rank p90 of durations in milliseconds. */
export function summarizeDurations(durationsMs: readonly number[]): DurationSummary {
  const sorted = [...durationsMs].sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return { samples: 0, medianMs: null, p90Ms: null };
  const mid = Math.floor(n / 2);
  const medianMs = n % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  const p90Ms = sorted[Math.ceil(0.9 * n) - 1]!;
  return { samples: n, medianMs, p90Ms };
}

// What one (model, env) contributes, before summarising; pooled for ALL_ENVIRONMENTS.
interface Tally {
  deployments: number;
  restores: number;
  failed: number;
  leadTimes: number[];
  withoutCommitTime: number;
  commitAfterDeploy: number;
  recoveries: number[];
  unrecovered: number;
}

/** computeDora computes the four keys per (model, env) for a period, with bands; throws RangeError on a bad period. */
export function computeDora(input: DoraInput): DoraReport {
  const { from, to } = input.period;
  if (!isValidDate(from) || !isValidDate(to)) throw new RangeError('DORA period: from and to must be valid dates');
  if (to.getTime() <= from.getTime()) throw new RangeError(`DORA period: to (${to.toISOString()}) must be after from (${from.toISOString()})`);
  const periodMs = to.getTime() - from.getTime();
  const inPeriod = (d: Date) => d.getTime() >= from.getTime() && d.getTime() < to.getTime();

  const commitTimes = new Map<string, number | null>();
  for (const v of input.versions) commitTimes.set(versionId(v.model, v.version), parseTime(v.codeCommittedAt));

  const byPair = new Map<string, { model: string; env: string; moves: DoraMove[] }>();
  const pair = (model: string, env: string) => {
    const key = `${model}\u0000${env}`;
    let entry = byPair.get(key);
    if (!entry) byPair.set(key, (entry = { model, env, moves: [] }));
    return entry;
  };
  for (const e of input.environments ?? []) pair(e.model, e.env);
  for (const m of input.moves) pair(m.model, m.env).moves.push(m);

  const rows: { model: string; env: string; tally: Tally }[] = [];
  for (const { model, env, moves } of byPair.values()) {
    const ordered = [...moves].sort((a, b) => a.revision - b.revision);
    const tally = emptyTally();
    ordered.forEach((move, i) => {
      if (!inPeriod(move.startedAt)) return;
      if (move.kind === 'restore') {
        tally.restores += 1;
        return;
      }
      tally.deployments += 1;
      if (move.health === 'failed') {
        tally.failed += 1;
        const restored = ordered.slice(i + 1).find((later) => later.health === 'ok');
        if (restored) tally.recoveries.push(Math.max(0, restored.startedAt.getTime() - move.startedAt.getTime()));
        else tally.unrecovered += 1;
        return;
      }
      const committedAt = move.version === null ? null : (commitTimes.get(versionId(model, move.version)) ?? null);
      if (committedAt === null) tally.withoutCommitTime += 1;
      else if (committedAt > move.startedAt.getTime()) tally.commitAfterDeploy += 1;
      else tally.leadTimes.push(move.startedAt.getTime() - committedAt);
    });
    rows.push({ model, env, tally });
  }

  if (input.allEnvironments) {
    const perModel = new Map<string, Tally>();
    for (const { model, tally } of rows) perModel.set(model, addTally(perModel.get(model) ?? emptyTally(), tally));
    for (const [model, tally] of perModel) rows.push({ model, env: ALL_ENVIRONMENTS, tally });
  }

  rows.sort((a, b) => (a.model < b.model ? -1 : a.model > b.model ? 1 : envOrder(a.env, b.env)));
  return {
    period: { from: from.toISOString(), to: to.toISOString(), days: periodMs / DAY_MS },
    source: DORA_SOURCE,
    bandRules: DORA_BAND_RULES,
    metrics: rows.map(({ model, env, tally }) => summarize(model, env, tally, periodMs)),
  };
}

function summarize(model: string, env: string, t: Tally, periodMs: number): DoraMetrics {
  const lead = summarizeDurations(t.leadTimes);
  const recovery = summarizeDurations(t.recoveries);
  return {
    model,
    env,
    deployments: t.deployments,
    restores: t.restores,
    deploymentFrequency: { perDay: t.deployments / (periodMs / DAY_MS), band: deploymentFrequencyBand(t.deployments, periodMs) },
    leadTime: {
      ...lead,
      withoutCommitTime: t.withoutCommitTime,
      commitAfterDeploy: t.commitAfterDeploy,
      band: lead.medianMs === null ? null : leadTimeBand(lead.medianMs),
    },
    changeFailureRate: {
      failed: t.failed,
      rate: t.deployments === 0 ? null : t.failed / t.deployments,
      band: t.deployments === 0 ? null : changeFailureRateBand(t.failed, t.deployments),
    },
    recoveryTime: { ...recovery, unrecovered: t.unrecovered, band: recovery.medianMs === null ? null : recoveryTimeBand(recovery.medianMs) },
  };
}

function emptyTally(): Tally {
  return { deployments: 0, restores: 0, failed: 0, leadTimes: [], withoutCommitTime: 0, commitAfterDeploy: 0, recoveries: [], unrecovered: 0 };
}

function addTally(a: Tally, b: Tally): Tally {
  return {
    deployments: a.deployments + b.deployments,
    restores: a.restores + b.restores,
    failed: a.failed + b.failed,
    leadTimes: [...a.leadTimes, ...b.leadTimes],
    withoutCommitTime: a.withoutCommitTime + b.withoutCommitTime,
    commitAfterDeploy: a.commitAfterDeploy + b.commitAfterDeploy,
    recoveries: [...a.recoveries, ...b.recoveries],
    unrecovered: a.unrecovered + b.unrecovered,
  };
}

// The pipeline order DESIGN.md names, then any other environment by name, then the pooled row.
const PIPELINE_ORDER = ['dev', 'test', 'staging', 'prod'];
function envOrder(a: string, b: string): number {
  const rank = (env: string) => (env === ALL_ENVIRONMENTS ? 2 : PIPELINE_ORDER.includes(env) ? 0 : 1);
  const byRank = rank(a) - rank(b);
  if (byRank !== 0) return byRank;
  if (rank(a) === 0) return PIPELINE_ORDER.indexOf(a) - PIPELINE_ORDER.indexOf(b);
  return a < b ? -1 : a > b ? 1 : 0;
}

function versionId(model: string, version: string): string {
  return `${model}@${version}`;
}

function parseTime(value: string | Date | null | undefined): number | null {
  if (value === null || value === undefined) return null;
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}

function isValidDate(value: unknown): value is Date {
  return value instanceof Date && !Number.isNaN(value.getTime());
}

/**
 * DORA metrics from the registry: reads the moves of the live pointers
 * (`deployments`) and the versions' commit times (`model_versions`) for a
 * model (or every model), an environment (or every one) and a period, and
 * hands them to the pure math in domain/dora.ts.
 *
 * FerretDB-safe: only find and distinct; every sum, median and band is
 * computed in code.
 */
import type { Db, Filter } from 'mongodb';
import type { z } from 'zod';
import { computeDora, deploymentKind, type DoraMove, type DoraReport, type DoraVersion } from '../domain/dora';
import { envNameSchema, modelNameSchema } from '../domain/model-version';
import { InvalidInputError, NotFoundError } from './errors';
import { Registry, versionKey } from './registry';
import type { Deployment } from './types';

/** DoraQuery selects what to measure: a model or all, an environment or all, over [from, to). */
export interface DoraQuery {
  model?: string;
  env?: string;
  from: Date;
  to: Date;
  /** Add one row per model pooled over all its environments. */
  allEnvironments?: boolean;
}

// Fields the math needs; the rest of a move (who, why) stays in the database.
const MOVE_FIELDS = { _id: 0, model: 1, env: 1, revision: 1, version: 1, startedAt: 1, health: 1, opKey: 1 } as const;
// `$in` lists are sent in slices of this many keys, to keep each query small.
const IN_BATCH = 500;

type MoveFields = Pick<Deployment, 'model' | 'env' | 'revision' | 'version' | 'startedAt' | 'health' | 'opKey'>;

/** readDora computes DORA metrics from the registry; throws InvalidInputError naming the field, NotFoundError for an unknown model. */
export async function readDora(db: Db, query: DoraQuery): Promise<DoraReport> {
  const model = query.model === undefined ? undefined : checkName(modelNameSchema, 'model', query.model);
  const env = query.env === undefined ? undefined : checkName(envNameSchema, 'env', query.env);
  const { from, to } = checkPeriod(query.from, query.to);
  const registry = new Registry(db);

  if (model !== undefined && !(await registry.models.findOne({ _id: model }))) {
    throw new NotFoundError('model', model, 'register a version first with `slipway model register`');
  }

  // Every (model, env) that ever had a move is reported, so "no deployment this period" shows as a row of zeros.
  const scope: Filter<Deployment> = {};
  if (model !== undefined) scope.model = model;
  if (env !== undefined) scope.env = env;
  const models = model !== undefined ? [model] : ((await registry.deployments.distinct('model', scope)) as string[]).sort();
  const environments = (
    await Promise.all(
      models.map(async (m) => ((await registry.deployments.distinct('env', { ...scope, model: m })) as string[]).map((e) => ({ model: m, env: e }))),
    )
  ).flat();

  const moves: MoveFields[] = await registry.deployments.find({ ...scope, startedAt: { $gte: from, $lt: to } }, { projection: MOVE_FIELDS }).toArray();
  const restoring = await findRestoringMoves(registry, moves);
  const all = [...moves, ...restoring];

  const changed = new Set(moves.filter((m) => m.version !== null && deploymentKind(m) === 'change').map((m) => versionKey(m.model, m.version!)));
  const versions = await readCommitTimes(registry, [...changed]);

  return computeDora({
    moves: all.map(toDoraMove),
    versions,
    period: { from, to },
    environments,
    allEnvironments: query.allEnvironments ?? false,
  });
}

/**
 * A failed deployment near the end of the period may have been restored
 * after it: for each (model, env) whose newest failure in the period has no
 * healthy move after it in the period, fetch the next healthy move.
 */
async function findRestoringMoves(registry: Registry, moves: MoveFields[]): Promise<MoveFields[]> {
  const byPair = new Map<string, MoveFields[]>();
  for (const m of moves) {
    const key = `${m.model}\u0000${m.env}`;
    byPair.set(key, [...(byPair.get(key) ?? []), m]);
  }
  const found = await Promise.all(
    [...byPair.values()].map(async (pairMoves) => {
      const lastFailed = pairMoves.filter((m) => m.health === 'failed').reduce<MoveFields | null>((a, m) => (a === null || m.revision > a.revision ? m : a), null);
      if (lastFailed === null) return null;
      if (pairMoves.some((m) => m.revision > lastFailed.revision && m.health === 'ok')) return null;
      const next: MoveFields | null = await registry.deployments.findOne(
        { model: lastFailed.model, env: lastFailed.env, revision: { $gt: lastFailed.revision }, health: 'ok' },
        { sort: { revision: 1 }, projection: MOVE_FIELDS },
      );
      return next;
    }),
  );
  return found.filter((m): m is MoveFields => m !== null);
}

async function readCommitTimes(registry: Registry, keys: string[]): Promise<DoraVersion[]> {
  const versions: DoraVersion[] = [];
  for (let i = 0; i < keys.length; i += IN_BATCH) {
    const docs = await registry.versions
      .find({ _id: { $in: keys.slice(i, i + IN_BATCH) } }, { projection: { _id: 0, model: 1, version: 1, codeCommittedAt: 1 } })
      .toArray();
    for (const d of docs) versions.push({ model: d.model, version: d.version, codeCommittedAt: d.codeCommittedAt ?? null });
  }
  return versions;
}

function toDoraMove(m: MoveFields): DoraMove {
  return { model: m.model, env: m.env, revision: m.revision, version: m.version, startedAt: m.startedAt, health: m.health, kind: deploymentKind(m) };
}

function checkPeriod(from: unknown, to: unknown): { from: Date; to: Date } {
  const problems: { field: string; reason: string }[] = [];
  const valid = (d: unknown): d is Date => d instanceof Date && !Number.isNaN(d.getTime());
  if (!valid(from)) problems.push({ field: 'from', reason: 'must be a valid date-time' });
  if (!valid(to)) problems.push({ field: 'to', reason: 'must be a valid date-time' });
  if (valid(from) && valid(to) && to.getTime() <= from.getTime()) problems.push({ field: 'to', reason: `must be after from (${from.toISOString()})` });
  if (problems.length > 0) throw new InvalidInputError(problems);
  return { from: from as Date, to: to as Date };
}

// Same check as the registry's own: no object or `$`-string ever reaches a query.
function checkName(schema: z.ZodType<string>, field: string, value: unknown): string {
  const result = schema.safeParse(value);
  if (!result.success) {
    const shown = typeof value === 'string' ? `"${value.slice(0, 80)}"` : `a value of type ${typeof value}`;
    throw new InvalidInputError([{ field, reason: `${shown} is not allowed: ${result.error.issues[0]?.message ?? 'invalid'}` }]);
  }
  return result.data;
}

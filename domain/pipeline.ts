/**
 * Pipelines: the YAML policy a release follows (stages, gates, bake, health
 * checks, approvals, rollout strategy, freeze windows), parsed and validated
 * at the edge so that a typo such as `aprovals` or `">= 0,9"` is reported with
 * file, path and reason before any release starts.
 *
 * Pure: no Node built-ins and no I/O, so workflow code may import it. Each
 * gate's config schema comes from its registration in gates/index.ts (one
 * folder per gate type), which is pure too: a gate's implementation is loaded
 * only when it first runs, so parsing a pipeline never loads what gates call.
 * Over 350 lines: the pipeline schema and the hostile-input checks around it
 * are one contract, read together.
 */
import { z } from 'zod';
import YAML from 'yaml';
import { GATES } from '../gates';
import { canonicalJson } from './canonical-json';

export { canonicalJson };
import { parseDuration } from './duration';
import { validateFreezeWindow } from './freeze';
import {
  DAY_MS,
  SECOND_MS,
  SHORT_NAME_PATTERN,
  describeType,
  durationSchema,
  errorMessage,
  isPlainObject,
  rateSchema,
  strictObject,
  truncate,
} from './fields';

/** PipelineIssue is one problem in a pipeline definition: where it is and what is wrong. */
export interface PipelineIssue {
  file: string;
  // Dotted path such as `stages[2].approval.required`, `<root>`, or `line 3, column 5` for YAML syntax.
  path: string;
  reason: string;
}

/** ROOT_PATH is the path reported for a problem with the whole document. */
export const ROOT_PATH = '<root>';

/** BUILT_IN_FILE is the file name reported for the built-in default pipeline. */
export const BUILT_IN_FILE = '<built-in>';

/** MAX_PIPELINE_SOURCE_LENGTH bounds pipeline text (1 MiB); real pipelines are a few KiB. */
export const MAX_PIPELINE_SOURCE_LENGTH = 1024 * 1024;

// Issues listed in an error message; the rest are counted so a hostile file cannot flood logs.
const MAX_LISTED_ISSUES = 50;

/** PipelineError lists every problem found in one or more pipeline definitions, as `file: path: reason` lines. */
export class PipelineError extends Error {
  readonly issues: PipelineIssue[];

  constructor(issues: PipelineIssue[]) {
    super(formatIssues(issues));
    this.name = 'PipelineError';
    this.issues = issues;
  }
}

function formatIssues(issues: PipelineIssue[]): string {
  if (issues.length === 0) return 'invalid pipeline';
  const lines = issues.slice(0, MAX_LISTED_ISSUES).map((i) => (i.path === '' ? `${i.file}: ${i.reason}` : `${i.file}: ${i.path}: ${i.reason}`));
  if (issues.length > MAX_LISTED_ISSUES) lines.push(`... and ${issues.length - MAX_LISTED_ISSUES} more problems`);
  return lines.join('\n');
}

// ---------------------------------------------------------------------------
// Building blocks

const PIPELINE_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]*$/i;
const ENV_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;
// Same rule as approver names in approvals (domain/quorum.ts), so every listed approver can actually approve.
const APPROVER_PATTERN = /^[A-Za-z0-9._@-]{1,128}$/;

const MAX_BAKE_MS = 7 * DAY_MS;

/** APPROVAL_CHANNELS are the ways an approval may arrive; a stage accepts all of them unless it says otherwise. */
export const APPROVAL_CHANNELS = ['api', 'cli', 'ui'] as const;

const latencyMsSchema = z.number().positive('must be a number of milliseconds greater than 0');

// ---------------------------------------------------------------------------
// Gates

/** GATE_CONFIG_SCHEMAS maps each gate `type` to the schema of its config, as registered in gates/index.ts. */
export const GATE_CONFIG_SCHEMAS: Readonly<Record<string, z.ZodType>> = Object.fromEntries(GATES.map((gate) => [gate.type, gate.configSchema]));

/** GateType is a registered gate type name. */
export type GateType = (typeof GATES)[number]['type'];

/** GateConfig is one gate of a stage, as validated by its type's schema. */
export type GateConfig = z.output<(typeof GATES)[number]['configSchema']>;

/** knownGateTypes lists the registered gate types, sorted, for error messages and help. */
export function knownGateTypes(): string[] {
  return Object.keys(GATE_CONFIG_SCHEMAS).sort();
}

// Picks the schema by `type` and reports its issues under this gate's path.
const gateSchema = z.unknown().transform((value, ctx): GateConfig => {
  const known = knownGateTypes().join(', ');
  if (!isPlainObject(value)) {
    ctx.addIssue({ code: 'custom', message: `must be a mapping with a "type" (one of: ${known}); got ${describeType(value)}` });
    return z.NEVER;
  }
  const type = value['type'];
  if (type === undefined) {
    ctx.addIssue({ code: 'custom', path: ['type'], message: `is missing: set it to one of the known gate types: ${known}` });
    return z.NEVER;
  }
  if (typeof type !== 'string' || !Object.hasOwn(GATE_CONFIG_SCHEMAS, type)) {
    const shown = typeof type === 'string' ? `"${truncate(type)}"` : describeType(type);
    ctx.addIssue({ code: 'custom', path: ['type'], message: `unknown gate type ${shown}; known gate types: ${known}` });
    return z.NEVER;
  }
  const schema = GATE_CONFIG_SCHEMAS[type] as z.ZodType;
  const result = schema.safeParse(value);
  if (result.success) return result.data as GateConfig;
  for (const issue of result.error.issues) {
    for (const part of zodIssueParts(issue)) ctx.addIssue({ code: 'custom', path: part.path, message: part.reason });
  }
  return z.NEVER;
});

// ---------------------------------------------------------------------------
// Stages

const approvalSchema = strictObject({
  required: z.number({ error: 'must be a whole number >= 1' }).int('must be a whole number >= 1').min(1, 'must be at least 1'),
  approvers: z
    .array(z.string().regex(APPROVER_PATTERN, "must be 1-128 letters, digits, '.', '_', '@' or '-'"), { error: 'must be a list of approver names' })
    .min(1, 'must list at least one approver')
    .max(100, 'lists more than 100 approvers'),
  // The release's requester may approve it only when true: four eyes by default.
  selfApproval: z.boolean({ error: 'must be true or false' }).default(false),
  timeout: durationSchema({ min: SECOND_MS }).default('72h'),
  // How long before the deadline approvers are reminded (event `approval.expiring`); absent: approvalReminderLeadMs's default.
  // No zod default, so pipelines applied before this field keep their hash.
  remindBefore: durationSchema({ min: SECOND_MS }).optional(),
  channels: z
    .array(z.enum(APPROVAL_CHANNELS, { error: `must be one of ${APPROVAL_CHANNELS.join(', ')}` }), { error: 'must be a list of channels' })
    .min(1, `must list at least one channel (${APPROVAL_CHANNELS.join(', ')})`)
    .default(() => [...APPROVAL_CHANNELS]),
  // Approvals normally count only once the stage asks for them (its gates passed); true lets them arrive earlier.
  preApproval: z.boolean({ error: 'must be true or false' }).optional(),
}).superRefine(
  (approval, ctx) => {
    const approvers: unknown[] = Array.isArray(approval.approvers) ? approval.approvers : [];
    // Case-insensitive: "Alice" and "alice" are one person who must not count twice.
    reportDuplicates(approvers, (a) => (typeof a === 'string' ? a.toLowerCase() : undefined), ['approvers'], 'is listed twice', ctx);
    if (Array.isArray(approval.channels)) reportDuplicates(approval.channels, (c) => (typeof c === 'string' ? c : undefined), ['channels'], 'is listed twice', ctx);
    if (typeof approval.remindBefore === 'string' && typeof approval.timeout === 'string') {
      const lead = safeDuration(approval.remindBefore);
      const timeout = safeDuration(approval.timeout);
      if (lead !== null && timeout !== null && lead >= timeout) {
        ctx.addIssue({ code: 'custom', path: ['remindBefore'], message: `must be shorter than timeout (${approval.timeout}): the reminder goes out that long before the approval expires` });
      }
    }
    const required = approval.required;
    if (typeof required === 'number' && Number.isInteger(required) && approvers.length > 0 && required > approvers.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['required'],
        message: `asks for ${required} approvals but only ${approvers.length} approver${approvers.length === 1 ? ' is' : 's are'} listed: lower required or add approvers`,
      });
    }
  },
  { when: (payload) => isPlainObject(payload.value) },
);

// A duration in ms, or null when it does not parse (its own field reports that).
function safeDuration(text: string): number | null {
  try {
    return parseDuration(text);
  } catch {
    return null;
  }
}

// Largest allowed gap between the mean prediction of the version under watch and the stable baseline's.
const driftSchema = z.number({ error: 'must be a number from 0 to 1 (largest allowed gap in mean prediction)' }).min(0, 'must be at least 0').max(1, 'must be at most 1');

// How much evidence a bake or canary analysis needs, and what happens without it (shared by healthChecks and analysis).
const evidenceShape = {
  // Fewer health reports than this (the registry source) or requests (the local source) is not a pass.
  minReports: z
    .number({ error: 'must be a whole number of health reports, e.g. 3 (0 lets a bake without reports pass)' })
    .int('must be a whole number of health reports, e.g. 3')
    .min(0, 'must be at least 0')
    .max(100, 'must be at most 100 (the registry source reads the newest 100 reports)'),
  // Short of minReports at the end: fail the stage, or keep checking up to waitLimit and then fail.
  onMissing: z.enum(['fail', 'wait'], { error: 'must be "fail" (the default) or "wait" (with waitLimit)' }),
  waitLimit: durationSchema({ min: SECOND_MS, max: MAX_BAKE_MS }),
};

const refineEvidence = (
  evidence: { onMissing?: unknown; waitLimit?: unknown },
  ctx: z.core.$RefinementCtx,
) => {
  if (evidence.waitLimit !== undefined && evidence.onMissing !== 'wait') {
    ctx.addIssue({ code: 'custom', path: ['waitLimit'], message: 'applies only with onMissing: wait; add `onMissing: wait` or remove waitLimit' });
  }
};

// The same limits and evidence rule judge a canary step and a bake.
const healthLimitFields = {
  maxErrorRate: rateSchema.optional(),
  maxLatencyP99Ms: latencyMsSchema.optional(),
  maxPredictionDrift: driftSchema.optional(),
  minReports: evidenceShape.minReports.optional(),
  onMissing: evidenceShape.onMissing.optional(),
  waitLimit: evidenceShape.waitLimit.optional(),
};

const analysisSchema = strictObject(healthLimitFields).superRefine(refineEvidence, { when: (payload) => isPlainObject(payload.value) });

const canarySchema = strictObject({
  // Percent of traffic at each step, e.g. [10, 50, 100].
  steps: z
    .array(z.number({ error: 'must be a percentage from 1 to 100' }).min(1, 'must be at least 1 (percent)').max(100, 'must be at most 100 (percent)'), {
      error: 'must be a list of percentages ending at 100, e.g. [10, 50, 100]',
    })
    .min(1, 'must list at least one step, ending at 100')
    .max(20, 'must have at most 20 steps'),
  // How long each step runs (and is analysed) before the next.
  interval: durationSchema({ min: SECOND_MS }),
  analysis: analysisSchema.optional(),
}).superRefine(
  (canary, ctx) => {
    if (!Array.isArray(canary.steps) || canary.steps.length === 0) return;
    const steps: unknown[] = canary.steps;
    for (let i = 1; i < steps.length; i++) {
      const before = steps[i - 1];
      const step = steps[i];
      if (typeof before === 'number' && typeof step === 'number' && step <= before) {
        ctx.addIssue({ code: 'custom', path: ['steps', i], message: `must be greater than the step before it (${before}): steps strictly increase` });
      }
    }
    const last = steps[steps.length - 1];
    if (typeof last === 'number' && last !== 100) {
      ctx.addIssue({ code: 'custom', path: ['steps', steps.length - 1], message: `the last step must be 100 so the rollout completes (got ${last})` });
    }
  },
  { when: (payload) => isPlainObject(payload.value) },
);

const STRATEGY_HELP = 'give exactly one of { direct: {} } or { canary: { steps: [10, 50, 100], interval: 1m } }';

/** CanaryConfig is a stepwise rollout: traffic percentages, the time per step, and the analysis that may abort it. */
export type CanaryConfig = z.output<typeof canarySchema>;

/** StrategyConfig is how a stage rolls out: all at once, or as a canary. */
export type StrategyConfig = { direct: Record<string, never> } | { canary: CanaryConfig };

const strategySchema = strictObject({
  direct: strictObject({}).optional(),
  canary: canarySchema.optional(),
})
  .superRefine((strategy, ctx) => {
    const chosen = (strategy.direct === undefined ? 0 : 1) + (strategy.canary === undefined ? 0 : 1);
    if (chosen !== 1) ctx.addIssue({ code: 'custom', message: `${chosen === 0 ? 'names no strategy' : 'names two strategies'}: ${STRATEGY_HELP}` });
  })
  .transform((strategy): StrategyConfig => (strategy.canary === undefined ? { direct: {} } : { canary: strategy.canary }));

const healthChecksSchema = strictObject({
  interval: durationSchema({ min: SECOND_MS }).default('10s'),
  ...healthLimitFields,
}).superRefine(refineEvidence, { when: (payload) => isPlainObject(payload.value) });

const CRON_HELP = '5 fields (minute hour day-of-month month day-of-week), e.g. "0 16 * * FRI"';

const freezeSchema = strictObject({
  // Opens a window at each fire time, read in `timezone`.
  cron: z
    .string({ error: `must be a cron expression of ${CRON_HELP}` })
    .max(200, `is too long for a cron expression of ${CRON_HELP}`)
    .superRefine((cron, ctx) => {
      const fields = cron.trim().split(/\s+/).filter((f) => f !== '');
      if (fields.length !== 5) {
        ctx.addIssue({ code: 'custom', message: `must have ${CRON_HELP}; got ${fields.length} field${fields.length === 1 ? '' : 's'}` });
        return;
      }
      // Only the cron is checked here: duration and timezone have their own fields and paths.
      const problem = validateFreezeWindow({ cron, duration: '1h', timezone: 'UTC' });
      if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
    }),
  // How long each window stays closed to deploys.
  duration: durationSchema({ min: SECOND_MS }),
  timezone: z
    .string({ error: 'must be an IANA time zone name such as "UTC" or "Europe/Berlin"' })
    .max(64, 'is too long for a time zone name')
    .refine(isTimeZone, 'is not a known IANA time zone: use a name such as "UTC" or "Europe/Berlin"')
    .default('UTC'),
});

const pluginNameSchema = (what: string) =>
  z.string({ error: `must be the name of a ${what}, such as "registry"` }).regex(SHORT_NAME_PATTERN, `must be the name of a ${what}: 1-64 letters, digits, '_' or '-'`);

const stageSchema = strictObject({
  env: z
    .string({ error: 'must be an environment name such as "staging"' })
    .regex(ENV_PATTERN, "must be 1-63 lowercase letters, digits, '_' or '-', starting with a letter or digit"),
  gates: z.array(gateSchema, { error: 'must be a list of gates' }).max(20, 'must have at most 20 gates').optional(),
  // Health is watched this long after deploying before the stage counts as done.
  bake: durationSchema({ max: MAX_BAKE_MS }).optional(),
  healthChecks: healthChecksSchema.optional(),
  approval: approvalSchema.optional(),
  strategy: strategySchema.default(() => ({ direct: {} })),
  freeze: z.array(freezeSchema, { error: 'must be a list of freeze windows' }).max(20, 'must have at most 20 freeze windows').optional(),
  // Deploy target and health source by registered name (the worker's registry, so unknown names fail there); absent means "registry".
  target: pluginNameSchema('deploy target').optional(),
  healthSource: pluginNameSchema('health source').optional(),
}).superRefine(
  (stage, ctx) => {
    // Names identify gates in status output and activity keys, so they must not collide.
    if (Array.isArray(stage.gates)) {
      const gates: unknown[] = stage.gates;
      reportDuplicates(gates, (g) => (isPlainObject(g) && typeof g['name'] === 'string' ? g['name'] : undefined), ['gates'], 'is the name of another gate in this stage', ctx, ['name']);
    }
  },
  { when: (payload) => isPlainObject(payload.value) },
);

const breakGlassSchema = strictObject({
  approvers: z
    .array(z.string().regex(APPROVER_PATTERN, "must be 1-128 letters, digits, '.', '_', '@' or '-'"), { error: 'must be a list of approver names' })
    .min(1, 'must list at least one break-glass approver')
    .max(100, 'lists more than 100 approvers'),
}).superRefine(
  (breakGlass, ctx) => {
    const approvers: unknown[] = Array.isArray(breakGlass.approvers) ? breakGlass.approvers : [];
    reportDuplicates(approvers, (a) => (typeof a === 'string' ? a.toLowerCase() : undefined), ['approvers'], 'is listed twice', ctx);
  },
  { when: (payload) => isPlainObject(payload.value) },
);

/** pipelineNameSchema validates a pipeline's name, in a file and wherever a caller names a pipeline (show, bind, start). */
export const pipelineNameSchema = z
  .string({ error: 'must be a pipeline name such as "default"' })
  .min(1, 'must not be empty')
  .max(64, 'must be at most 64 characters')
  .regex(PIPELINE_NAME_PATTERN, "must be letters, digits, '_' or '-', starting with a letter or digit");

/** pipelineSchema validates a whole pipeline and fills in defaults. */
export const pipelineSchema = strictObject({
  name: pipelineNameSchema,
  // What a failed stage does to the stages already deployed: undo them, or leave them and stop.
  onFailure: z.enum(['rollback', 'halt'], { error: 'must be "rollback" or "halt"' }).default('rollback'),
  // When a newer release of the same model reaches a stage where an older one waits: the older yields, or the newer waits its turn.
  concurrency: z.enum(['supersede', 'queue'], { error: 'must be "supersede" or "queue"' }).default('supersede'),
  stages: z
    .array(stageSchema, { error: 'must be a list of stages' })
    .min(1, 'must list at least one stage')
    .max(20, 'must have at most 20 stages'),
  // Who may let a hotfix release pass a stopped line: one signed break-glass approval from one of them.
  breakGlass: breakGlassSchema.optional(),
}).superRefine(
  (pipeline, ctx) => {
    if (!Array.isArray(pipeline.stages)) return;
    const stages: unknown[] = pipeline.stages;
    reportDuplicates(stages, (s) => (isPlainObject(s) && typeof s['env'] === 'string' ? s['env'] : undefined), ['stages'], 'is the env of another stage: each env appears once', ctx, ['env']);
  },
  { when: (payload) => isPlainObject(payload.value) },
);

/** Pipeline is a validated pipeline with defaults filled in; durations stay as written (parse with parseDuration). */
export type Pipeline = z.output<typeof pipelineSchema>;

/** Stage is one environment of a pipeline. */
export type Stage = Pipeline['stages'][number];

/** ApprovalConfig is a stage's approval rule. */
export type ApprovalConfig = z.output<typeof approvalSchema>;

/** HealthCheckConfig is how a stage watches health while baking. */
export type HealthCheckConfig = z.output<typeof healthChecksSchema>;

/** FreezeConfig is one freeze window of a stage. */
export type FreezeConfig = z.output<typeof freezeSchema>;

// ---------------------------------------------------------------------------
// Parsing and validation

// No pipeline field nests deeper than this; anything deeper is a mistake or an attack.
const MAX_DEPTH = 32;
// Real pipelines have a few hundred values; this bounds the walk over hostile input.
const MAX_NODES = 100_000;

/** parsePipeline reads pipeline YAML; returns a Pipeline or throws a PipelineError naming file, path and reason. */
export function parsePipeline(source: string, file: string): Pipeline {
  if (typeof source !== 'string') {
    throw new PipelineError([{ file, path: ROOT_PATH, reason: `pipeline source must be text (got ${describeType(source)})` }]);
  }
  if (source.length > MAX_PIPELINE_SOURCE_LENGTH) {
    throw new PipelineError([
      { file, path: ROOT_PATH, reason: `is ${source.length} characters long; a pipeline may be at most ${MAX_PIPELINE_SOURCE_LENGTH}` },
    ]);
  }
  let value: unknown;
  try {
    const doc = YAML.parseDocument(source, { prettyErrors: true, uniqueKeys: true });
    const problems = [...doc.errors, ...doc.warnings];
    if (problems.length > 0) throw new PipelineError(problems.map((p) => yamlIssue(p, file)));
    // Aliases are expanded here; the bound stops "billion laughs" documents.
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    if (err instanceof PipelineError) throw err;
    throw new PipelineError([{ file, path: ROOT_PATH, reason: `is not valid YAML: ${unexpectedErrorReason(err)}` }]);
  }
  return validatePipeline(value, file);
}

/** validatePipeline checks an already-parsed value (e.g. JSON from the API); returns a Pipeline or throws a PipelineError. */
export function validatePipeline(value: unknown, file: string): Pipeline {
  try {
    if (!isPlainObject(value)) {
      const got = value === null || value === undefined ? 'nothing (the document is empty)' : describeType(value);
      throw new PipelineError([{ file, path: ROOT_PATH, reason: `a pipeline must be a mapping with at least "name" and "stages"; got ${got}` }]);
    }
    const shapeProblems = findHostileShapes(value);
    if (shapeProblems.length > 0) {
      throw new PipelineError(shapeProblems.map((p) => ({ file, path: formatPath(p.path), reason: p.reason })));
    }
    const result = pipelineSchema.safeParse(value);
    if (result.success) return result.data;
    throw new PipelineError(
      result.error.issues.flatMap((issue) => zodIssueParts(issue).map((part) => ({ file, path: formatPath(part.path), reason: part.reason }))),
    );
  } catch (err) {
    if (err instanceof PipelineError) throw err;
    throw new PipelineError([{ file, path: ROOT_PATH, reason: `could not be validated: ${unexpectedErrorReason(err)}` }]);
  }
}

// Deep nesting, cycles, huge fan-out and `__proto__` keys, found without recursion before zod sees the value.
function findHostileShapes(root: Record<string, unknown>): { path: PropertyKey[]; reason: string }[] {
  const problems: { path: PropertyKey[]; reason: string }[] = [];
  const pending: { value: unknown; path: PropertyKey[] }[] = [{ value: root, path: [] }];
  let visited = 0;
  while (pending.length > 0 && problems.length < 20) {
    const { value, path } = pending.pop() as { value: unknown; path: PropertyKey[] };
    if (++visited > MAX_NODES) {
      return [{ path: [], reason: `has more than ${MAX_NODES} values; a pipeline needs far fewer` }];
    }
    if (value === null || typeof value !== 'object') continue;
    if (path.length >= MAX_DEPTH) {
      problems.push({ path, reason: `is nested more than ${MAX_DEPTH} levels deep; no pipeline field nests that far` });
      continue;
    }
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) pending.push({ value: value[i], path: [...path, i] });
      continue;
    }
    const keys = Object.keys(value);
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i] as string;
      if (key === '__proto__') {
        problems.push({ path: [...path, key], reason: 'the key "__proto__" is not allowed' });
        continue;
      }
      pending.push({ value: (value as Record<string, unknown>)[key], path: [...path, key] });
    }
  }
  return problems;
}

function yamlIssue(problem: YAML.YAMLError, file: string): PipelineIssue {
  const position = problem.linePos?.[0];
  const path = position === undefined ? ROOT_PATH : `line ${position.line}, column ${position.col}`;
  // prettyErrors appends " at line L, column C:" and a source excerpt; the path already says where.
  const firstLine = (problem.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
  // The parser turns its own stack overflow into an error; say what it means.
  if (/call stack/i.test(firstLine)) return { file, path, reason: 'is nested too deeply to read; no pipeline field nests more than a few levels' };
  return { file, path, reason: `YAML syntax: ${truncate(firstLine, 200)}` };
}

// One zod issue as path + reason; an unknown key is reported at the key itself.
function zodIssueParts(issue: z.core.$ZodIssue): { path: PropertyKey[]; reason: string }[] {
  const path = [...issue.path];
  if (issue.code === 'unrecognized_keys' && issue.keys.length === 1) {
    return [{ path: [...path, issue.keys[0] as string], reason: issue.message }];
  }
  return [{ path, reason: issue.message }];
}

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return ROOT_PATH;
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') {
      out += `[${part}]`;
      continue;
    }
    const key = String(part);
    if (/^[A-Za-z_][A-Za-z0-9_-]{0,63}$/.test(key)) out += out === '' ? key : `.${key}`;
    else out += `[${JSON.stringify(truncate(key))}]`;
  }
  return out;
}

function reportDuplicates(
  items: unknown[],
  identity: (item: unknown) => string | undefined,
  listPath: PropertyKey[],
  reason: string,
  ctx: z.core.$RefinementCtx,
  itemPath: PropertyKey[] = [],
): void {
  const firstSeen = new Map<string, number>();
  items.forEach((item, index) => {
    const id = identity(item);
    if (id === undefined) return;
    const first = firstSeen.get(id);
    if (first === undefined) firstSeen.set(id, index);
    else ctx.addIssue({ code: 'custom', path: [...listPath, index, ...itemPath], message: `"${truncate(id)}" ${reason} (also at [${first}])` });
  });
}

// ---------------------------------------------------------------------------
// The built-in pipeline

/** DEFAULT_PIPELINE_YAML is the built-in `default` pipeline; a `default` in SLIPWAY_PIPELINES replaces it. */
export const DEFAULT_PIPELINE_YAML = `# The built-in pipeline, used when a release names none. To change it, copy
# this into your SLIPWAY_PIPELINES folder (e.g. default.yaml) and edit it there.
name: default
onFailure: rollback        # a failed stage undoes the stages already deployed
concurrency: supersede     # a newer release of the same model replaces an older one still waiting
stages:
  - env: dev
    gates:
      - type: metrics      # thresholds on the metrics registered with the model version
        name: quality-floor
        require: { accuracy: ">= 0.8" }
  - env: staging
    bake: 30s              # watch health this long before moving on
    healthChecks: { interval: 10s, maxErrorRate: 0.05 }   # needs >= 1 health report (minReports) to pass
  - env: prod
    approval: { required: 1, approvers: [alice, bob, carol], selfApproval: false, timeout: 72h }
`;

/** DEFAULT_PIPELINE is DEFAULT_PIPELINE_YAML, parsed and validated. */
export const DEFAULT_PIPELINE: Pipeline = parsePipeline(DEFAULT_PIPELINE_YAML, BUILT_IN_FILE);

// ---------------------------------------------------------------------------
// Canonical JSON

// ---------------------------------------------------------------------------
// Small helpers

function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

function unexpectedErrorReason(err: unknown): string {
  if (err instanceof RangeError && /call stack/i.test(err.message)) return 'it is nested too deeply to read';
  return truncate(errorMessage(err), 300);
}

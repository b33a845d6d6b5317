/**
 * Pipelines: the YAML policy a release follows (stages, gates, bake, health
 * checks, approvals, rollout strategy, freeze windows), parsed and validated
 * at the edge so that a typo such as `aprovals` or `">= 0,9"` is reported with
 * file, path and reason before any release starts.
 *
 * Pure: no Node built-ins and no I/O, so workflow code may import it. Gate
 * types are registered in GATE_CONFIG_SCHEMAS (one schema per type), not
 * switched on, so adding a gate type is one entry there.
 */
import { z } from 'zod';
import YAML from 'yaml';
import { DURATION_FORMAT, parseDuration } from './duration';
import { validateFreezeWindow } from './freeze';
import { parseComparator } from './thresholds';

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
// Same rule as metric keys in the registry (domain/model-version.ts): a gate may only name storable metrics.
const METRIC_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
// Same rule as approver names in approvals (domain/quorum.ts), so every listed approver can actually approve.
const APPROVER_PATTERN = /^[A-Za-z0-9._@-]{1,128}$/;
// Gate, deploy-target and health-source names end up in activity keys and status output.
const SHORT_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

const SECOND_MS = 1_000;
const DAY_MS = 86_400_000;
const MAX_BAKE_MS = 7 * DAY_MS;

/** APPROVAL_CHANNELS are the ways an approval may arrive; a stage accepts all of them unless it says otherwise. */
export const APPROVAL_CHANNELS = ['api', 'cli', 'ui'] as const;

/** strictObject is z.strictObject whose errors name the allowed keys and suggest the intended one for a typo. */
export function strictObject<T extends z.core.$ZodLooseShape>(shape: T) {
  const allowed = Object.keys(shape);
  return z.strictObject(shape, {
    error: (issue) => {
      if (issue.code === 'unrecognized_keys') return unknownKeysMessage(issue.keys, allowed);
      if (issue.code === 'invalid_type') return `must be a mapping with keys ${allowed.join(', ')} (got ${describeType(issue.input)})`;
      return undefined;
    },
  });
}

function unknownKeysMessage(keys: string[], allowed: string[]): string {
  const tail = `allowed keys here: ${allowed.join(', ')}`;
  if (keys.length === 1) {
    const hint = suggest(keys[0] as string, allowed);
    return `unknown key${hint === undefined ? '' : ` (did you mean "${hint}"?)`}; ${tail}`;
  }
  const named = keys.slice(0, 10).map((k) => {
    const hint = suggest(k, allowed);
    return `"${truncate(k)}"${hint === undefined ? '' : ` (did you mean "${hint}"?)`}`;
  });
  return `unknown keys ${named.join(', ')}${keys.length > 10 ? ', ...' : ''}; ${tail}`;
}

// The allowed key closest to a typo, if it is close enough to be what was meant.
function suggest(key: string, allowed: string[]): string | undefined {
  if (key.length > 64) return undefined;
  const lower = key.toLowerCase();
  let best: { key: string; distance: number } | undefined;
  for (const candidate of allowed) {
    const distance = candidate.toLowerCase() === lower ? 0 : editDistance(lower, candidate.toLowerCase());
    if (best === undefined || distance < best.distance) best = { key: candidate, distance };
  }
  if (best === undefined) return undefined;
  return best.distance <= Math.max(1, Math.floor(key.length / 3)) ? best.key : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] as number;
}

/** durationSchema validates a duration string (kept as written) with optional bounds in milliseconds. */
export function durationSchema(bounds: { min?: number; max?: number } = {}) {
  const { min = 0, max } = bounds;
  return z.string({ error: (issue) => `must be ${DURATION_FORMAT} (got ${describeType(issue.input)})` }).superRefine((text, ctx) => {
    let ms: number;
    try {
      ms = parseDuration(text);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: errorMessage(err) });
      return;
    }
    if (ms < min) ctx.addIssue({ code: 'custom', message: `must be at least ${formatBound(min)} (got "${truncate(text)}")` });
    if (max !== undefined && ms > max) ctx.addIssue({ code: 'custom', message: `must be at most ${formatBound(max)} (got "${truncate(text)}")` });
  });
}

function formatBound(ms: number): string {
  if (ms === 0) return '0s';
  if (ms % DAY_MS === 0) return `${ms / DAY_MS}d`;
  if (ms % SECOND_MS === 0) return `${ms / SECOND_MS}s`;
  return `${ms}ms`;
}

// A map keyed by metric name; each key is checked so the error names the bad one.
function metricMap<V extends z.ZodType>(value: V) {
  return z.record(z.string(), value, { error: (issue) => `must be a mapping of metric name to value (got ${describeType(issue.input)})` }).superRefine(
    (map, ctx) => {
      for (const key of Object.keys(map)) {
        if (!METRIC_NAME_PATTERN.test(key)) {
          ctx.addIssue({
            code: 'custom',
            path: [key],
            message: "is not a valid metric name: use a letter then letters, digits or '_' (at most 64 characters; no '.', '$' or '-')",
          });
        }
      }
    },
  );
}

const comparatorSchema = z
  .string({ error: (issue) => `must be a quoted comparison such as ">= 0.90" or "<= 250" (got ${describeType(issue.input)})` })
  .max(100, 'is too long for a comparison such as ">= 0.90"')
  .superRefine((text, ctx) => {
    try {
      parseComparator(text);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: errorMessage(err) });
    }
  });

const rateSchema = z.number().min(0, 'must be a fraction between 0 and 1').max(1, 'must be a fraction between 0 and 1 (0.05 means 5%)');
const latencyMsSchema = z.number().positive('must be a number of milliseconds greater than 0');

// ---------------------------------------------------------------------------
// Gates

const gateNameSchema = z
  .string()
  .regex(SHORT_NAME_PATTERN, "must be 1-64 letters, digits, '_' or '-', starting with a letter or digit");

/** defineGateConfig builds the strict config schema of one gate type: `type`, an optional `name`, and its own fields. */
export function defineGateConfig<T extends string, S extends z.core.$ZodLooseShape>(type: T, shape: S) {
  return strictObject({ type: z.literal(type), name: gateNameSchema.optional(), ...shape });
}

/** metricsGateSchema checks a version's registered metrics against fixed thresholds and against the live version. */
export const metricsGateSchema = defineGateConfig('metrics', {
  // Metric name -> comparison the candidate must satisfy, e.g. accuracy: ">= 0.90".
  require: metricMap(comparatorSchema).optional(),
  // Metric name -> largest allowed drop from the live version, in the metric's own units.
  noWorseThanLive: metricMap(z.number().min(0, 'must be the largest allowed drop, a number >= 0 (0 means no worse at all)')).optional(),
  // Metric name -> false for metrics where lower is better (latency); missing means higher is better.
  higherIsBetter: metricMap(z.boolean({ error: 'must be true or false' })).optional(),
}).superRefine((gate, ctx) => {
  const required = Object.keys(gate.require ?? {}).length;
  const compared = Object.keys(gate.noWorseThanLive ?? {}).length;
  if (required + compared === 0) {
    ctx.addIssue({ code: 'custom', message: 'a metrics gate checks nothing: give "require" and/or "noWorseThanLive" with at least one metric' });
  }
  for (const metric of Object.keys(gate.higherIsBetter ?? {})) {
    if (!Object.hasOwn(gate.noWorseThanLive ?? {}, metric)) {
      ctx.addIssue({
        code: 'custom',
        path: ['higherIsBetter', metric],
        message: `only applies to metrics under noWorseThanLive; add noWorseThanLive.${metric} or remove this entry`,
      });
    }
  }
});

// A CSV file the computing gates read; relative paths are read from the repository root.
const datasetPathSchema = z
  .string({ error: 'must be the path of a CSV file such as "models/fraud/data/holdout.csv"' })
  .min(1, 'must not be empty')
  .max(1024, 'is too long for a file path');
const columnNameSchema = z.string({ error: 'must be a column name' }).regex(METRIC_NAME_PATTERN, "must be a column name: a letter, then letters, digits or '_'");
// Model input columns in order; absent means the model's manifest.json, else every column not otherwise named.
const featureColumnsSchema = z.array(columnNameSchema, { error: 'must be a list of column names' }).min(1, 'must list at least one column').max(1000, 'lists more than 1000 columns');
// A score at or above this counts as a positive prediction.
const scoreThresholdSchema = z.number({ error: 'must be a number between 0 and 1' }).gt(0, 'must be greater than 0').lt(1, 'must be less than 1');
const EVAL_METRICS = ['accuracy', 'auc', 'f1', 'precision', 'recall'];

/** evalGateSchema runs the candidate (and the live version) on a held-out CSV and checks accuracy, AUC, F1, precision, recall. */
export const evalGateSchema = defineGateConfig('eval', {
  dataset: datasetPathSchema,
  // Column holding the true 0/1 label.
  label: columnNameSchema.default('label'),
  features: featureColumnsSchema.optional(),
  threshold: scoreThresholdSchema.default(0.5),
  // Metric -> comparison the candidate must satisfy, e.g. auc: ">= 0.85".
  require: metricMap(comparatorSchema).optional(),
  // Metric -> largest allowed drop from the live version, both measured on the same rows.
  noWorseThanLive: metricMap(z.number().min(0, 'must be the largest allowed drop, a number >= 0 (0 means no worse at all)')).optional(),
}).superRefine((gate, ctx) => {
  for (const field of ['require', 'noWorseThanLive'] as const) {
    for (const metric of Object.keys(gate[field] ?? {})) {
      if (!EVAL_METRICS.includes(metric)) ctx.addIssue({ code: 'custom', path: [field, metric], message: `is not a metric the eval gate computes; use one of ${EVAL_METRICS.join(', ')}` });
    }
  }
  if (Object.keys(gate.require ?? {}).length + Object.keys(gate.noWorseThanLive ?? {}).length === 0) {
    ctx.addIssue({ code: 'custom', message: `an eval gate checks nothing: give "require" and/or "noWorseThanLive" with at least one of ${EVAL_METRICS.join(', ')}` });
  }
});

/** biasGateSchema measures fairness across a sensitive group on a held-out CSV: demographic-parity and equal-opportunity gaps. */
export const biasGateSchema = defineGateConfig('bias', {
  dataset: datasetPathSchema,
  // Column holding the true 0/1 label (equal opportunity compares true-positive rates).
  label: columnNameSchema.default('label'),
  // Column holding each row's sensitive group: measured, never fed to the model.
  group: columnNameSchema.default('group'),
  features: featureColumnsSchema.optional(),
  threshold: scoreThresholdSchema.default(0.5),
  // Largest allowed gap between the groups' shares of positive predictions.
  maxDemographicParityDiff: rateSchema.optional(),
  // Largest allowed gap between the groups' true-positive rates.
  maxEqualOpportunityDiff: rateSchema.optional(),
  // Smaller groups (fewer positives, for equal opportunity) are shown but not judged: their rates are mostly noise.
  minGroupSize: z.number({ error: 'must be a whole number >= 1' }).int('must be a whole number >= 1').min(1, 'must be at least 1').default(30),
}).superRefine((gate, ctx) => {
  if (gate.maxDemographicParityDiff === undefined && gate.maxEqualOpportunityDiff === undefined) {
    ctx.addIssue({ code: 'custom', message: 'a bias gate checks nothing: give maxDemographicParityDiff and/or maxEqualOpportunityDiff' });
  }
});

// A secret's environment variable: the worker's environment holds the value, pipeline YAML only its name.
const envVarNameSchema = z
  .string({ error: 'must be the name of an environment variable, such as "SLIPWAY_GATE_SECRET"' })
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, "must be the name of an environment variable (letters, digits, '_'; not starting with a digit): the secret itself never goes in pipeline YAML");
// A regex rather than URL(): this file stays free of host APIs so workflow code may import it.
const httpUrlSchema = z
  .string({ error: 'must be an http(s) URL such as "https://gates.example.com/check"' })
  .max(2048, 'is too long for a URL')
  .regex(/^https?:\/\/[^\s/?#@]+(?:[/?#]\S*)?$/i, 'must be an http(s) URL such as "https://gates.example.com/check"');
// Timeouts of the HTTP-calling gates; the gate activity itself gets 10 minutes.
const gateTimeoutSchema = durationSchema({ min: 1, max: 5 * 60 * SECOND_MS });

// A map keyed by column name; each key is checked so the error names the bad one.
function columnMap<V extends z.ZodType>(value: V) {
  return z.record(z.string(), value, { error: (issue) => `must be a mapping of column name to value (got ${describeType(issue.input)})` }).superRefine((map, ctx) => {
    for (const key of Object.keys(map)) {
      if (!METRIC_NAME_PATTERN.test(key)) ctx.addIssue({ code: 'custom', path: [key], message: "is not a column name: a letter, then letters, digits or '_'" });
    }
  });
}

/** webhookGateSchema asks the user's service for a verdict with a signed request (docs/webhook-protocol.md). */
export const webhookGateSchema = defineGateConfig('webhook', {
  // The service that answers {passed, checks?, reason?}.
  url: httpUrlSchema,
  // Environment variable holding the HMAC secret the request is signed with.
  secretEnv: envVarNameSchema,
  // No answer within this is a failed verdict, never a release stuck waiting.
  timeout: gateTimeoutSchema.default('10s'),
});

const valueRangeSchema = strictObject({
  min: z.number({ error: 'must be a number' }).optional(),
  max: z.number({ error: 'must be a number' }).optional(),
}).superRefine(
  (range, ctx) => {
    if (range.min === undefined && range.max === undefined) ctx.addIssue({ code: 'custom', message: 'gives no bound: set "min" and/or "max"' });
    if (typeof range.min === 'number' && typeof range.max === 'number' && range.min > range.max) {
      ctx.addIssue({ code: 'custom', path: ['max'], message: `must be at least min (${range.min})` });
    }
  },
  { when: (payload) => isPlainObject(payload.value) },
);

const psiSchema = strictObject({
  // Largest allowed index per column: < 0.1 stable, 0.1-0.25 moderate shift, > 0.25 major shift.
  max: z.number({ error: 'must be a number > 0, such as 0.2' }).positive('must be greater than 0, such as 0.2').default(0.2),
  // Equal-count bins taken from the reference (10: deciles).
  bins: z.number({ error: 'must be a whole number from 2 to 100' }).int('must be a whole number from 2 to 100').min(2, 'must be at least 2').max(100, 'must be at most 100').default(10),
  // Share an empty bin is clipped to, so ln(a/e) stays finite; smaller makes empty bins weigh more.
  epsilon: z.number({ error: 'must be a small share such as 0.0001' }).gt(0, 'must be greater than 0').max(0.01, 'must be at most 0.01').default(0.0001),
  // Columns compared; absent means every checked column.
  columns: featureColumnsSchema.optional(),
  // Values outside the reference's [min, max] get bins of their own (expected share 0) instead of joining the outer bins.
  outOfRangeBins: z.boolean({ error: 'must be true or false' }).default(false),
});

/** dataQualityGateSchema checks a recent traffic sample against a reference CSV: schema, null rates, value ranges, PSI per column. */
export const dataQualityGateSchema = defineGateConfig('data-quality', {
  // The training snapshot or held-out CSV the bins and the schema come from.
  reference: datasetPathSchema,
  // The recent traffic sample under test.
  current: datasetPathSchema,
  // Columns that must be present and numeric; absent means the candidate's manifest.json features, else the reference's columns.
  columns: featureColumnsSchema.optional(),
  // Largest share of null cells (empty, NA, NaN, null, None) in any column of the current sample.
  maxNullRate: rateSchema.default(0),
  // Per-column overrides of maxNullRate.
  maxNullRateByColumn: columnMap(rateSchema).optional(),
  // Column -> allowed [min, max] of the current sample's values, e.g. amount: { min: 0 }.
  ranges: columnMap(valueRangeSchema).optional(),
  psi: psiSchema.prefault({}),
});

/** promptSuiteGateSchema runs a file of prompt cases against an OpenAI-compatible chat endpoint and checks the pass rate. */
export const promptSuiteGateSchema = defineGateConfig('prompt-suite', {
  // YAML or JSON file of cases; relative paths are read from the repository root.
  suite: z
    .string({ error: 'must be the path of a YAML or JSON file of cases, such as "prompts/support.yaml"' })
    .min(1, 'must not be empty')
    .max(1024, 'is too long for a file path'),
  // Requests go to {baseUrl}/v1/chat/completions.
  baseUrl: httpUrlSchema,
  // Model name sent to the endpoint; "{model}" and "{version}" are replaced by the candidate's.
  model: z.string({ error: 'must be a model name such as "gpt-4o-mini" or "{version}"' }).min(1, 'must not be empty').max(256, 'is too long for a model name'),
  // Environment variable holding the API key (sent as a bearer token); absent for endpoints that need none.
  apiKeyEnv: envVarNameSchema.optional(),
  // Per case: a case with no answer in time fails.
  timeout: gateTimeoutSchema.default('30s'),
  // Cases in flight at once, to stay inside the endpoint's rate limits.
  concurrency: z.number({ error: 'must be a whole number from 1 to 64' }).int('must be a whole number from 1 to 64').min(1, 'must be at least 1').max(64, 'must be at most 64').default(4),
  // Share of cases that must pass.
  minPassRate: rateSchema.default(1),
  temperature: z.number({ error: 'must be a number from 0 to 2' }).min(0, 'must be at least 0').max(2, 'must be at most 2').default(0),
  maxTokens: z.number({ error: 'must be a whole number >= 1' }).int('must be a whole number >= 1').min(1, 'must be at least 1').optional(),
});

/** GATE_CONFIG_SCHEMAS maps each gate `type` to the schema of its config; register new gate types here. */
export const GATE_CONFIG_SCHEMAS = {
  metrics: metricsGateSchema,
  eval: evalGateSchema,
  bias: biasGateSchema,
  webhook: webhookGateSchema,
  'data-quality': dataQualityGateSchema,
  'prompt-suite': promptSuiteGateSchema,
} satisfies Record<string, z.ZodType>;

/** GateType is a registered gate type name. */
export type GateType = keyof typeof GATE_CONFIG_SCHEMAS;

/** GateConfig is one gate of a stage, as validated by its type's schema. */
export type GateConfig = { [K in GateType]: z.output<(typeof GATE_CONFIG_SCHEMAS)[K]> }[GateType];

/** MetricsGateConfig is the config of a `metrics` gate. */
export type MetricsGateConfig = z.output<typeof metricsGateSchema>;

/** EvalGateConfig is the config of an `eval` gate. */
export type EvalGateConfig = z.output<typeof evalGateSchema>;

/** BiasGateConfig is the config of a `bias` gate. */
export type BiasGateConfig = z.output<typeof biasGateSchema>;

/** WebhookGateConfig is the config of a `webhook` gate. */
export type WebhookGateConfig = z.output<typeof webhookGateSchema>;

/** DataQualityGateConfig is the config of a `data-quality` gate. */
export type DataQualityGateConfig = z.output<typeof dataQualityGateSchema>;

/** PromptSuiteGateConfig is the config of a `prompt-suite` gate. */
export type PromptSuiteGateConfig = z.output<typeof promptSuiteGateSchema>;

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
  const schema: z.ZodType = GATE_CONFIG_SCHEMAS[type as GateType];
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
  channels: z
    .array(z.enum(APPROVAL_CHANNELS, { error: `must be one of ${APPROVAL_CHANNELS.join(', ')}` }), { error: 'must be a list of channels' })
    .min(1, `must list at least one channel (${APPROVAL_CHANNELS.join(', ')})`)
    .default(() => [...APPROVAL_CHANNELS]),
}).superRefine(
  (approval, ctx) => {
    const approvers: unknown[] = Array.isArray(approval.approvers) ? approval.approvers : [];
    // Case-insensitive: "Alice" and "alice" are one person who must not count twice.
    reportDuplicates(approvers, (a) => (typeof a === 'string' ? a.toLowerCase() : undefined), ['approvers'], 'is listed twice', ctx);
    if (Array.isArray(approval.channels)) reportDuplicates(approval.channels, (c) => (typeof c === 'string' ? c : undefined), ['channels'], 'is listed twice', ctx);
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

// Largest allowed gap between the mean prediction of the version under watch and the stable baseline's.
const driftSchema = z.number({ error: 'must be a number from 0 to 1 (largest allowed gap in mean prediction)' }).min(0, 'must be at least 0').max(1, 'must be at most 1');

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
  analysis: strictObject({ maxErrorRate: rateSchema.optional(), maxLatencyP99Ms: latencyMsSchema.optional(), maxPredictionDrift: driftSchema.optional() }).optional(),
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
  maxErrorRate: rateSchema.optional(),
  maxLatencyP99Ms: latencyMsSchema.optional(),
  maxPredictionDrift: driftSchema.optional(),
});

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

/** pipelineSchema validates a whole pipeline and fills in defaults. */
export const pipelineSchema = strictObject({
  name: z
    .string({ error: 'must be a pipeline name such as "default"' })
    .min(1, 'must not be empty')
    .max(64, 'must be at most 64 characters')
    .regex(PIPELINE_NAME_PATTERN, "must be letters, digits, '_' or '-', starting with a letter or digit"),
  // What a failed stage does to the stages already deployed: undo them, or leave them and stop.
  onFailure: z.enum(['rollback', 'halt'], { error: 'must be "rollback" or "halt"' }).default('rollback'),
  // When a newer release of the same model reaches a stage where an older one waits: the older yields, or the newer waits its turn.
  concurrency: z.enum(['supersede', 'queue'], { error: 'must be "supersede" or "queue"' }).default('supersede'),
  stages: z
    .array(stageSchema, { error: 'must be a list of stages' })
    .min(1, 'must list at least one stage')
    .max(20, 'must have at most 20 stages'),
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
    healthChecks: { interval: 10s, maxErrorRate: 0.05 }
  - env: prod
    approval: { required: 1, approvers: [alice, bob, carol], selfApproval: false, timeout: 72h }
`;

/** DEFAULT_PIPELINE is DEFAULT_PIPELINE_YAML, parsed and validated. */
export const DEFAULT_PIPELINE: Pipeline = parsePipeline(DEFAULT_PIPELINE_YAML, BUILT_IN_FILE);

// ---------------------------------------------------------------------------
// Canonical JSON

/** canonicalJson writes JSON with object keys sorted, so equal values always give equal text (and hashes). */
export function canonicalJson(value: unknown): string {
  const text = writeCanonical(value, new Set());
  if (text === undefined) throw new TypeError(`canonicalJson cannot encode ${describeType(value)}`);
  return text;
}

// Follows JSON.stringify's rules (toJSON, undefined dropped in objects and null in arrays, non-finite numbers as null).
function writeCanonical(input: unknown, ancestors: Set<object>): string | undefined {
  let value = input;
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    value = (value as { toJSON: () => unknown }).toJSON();
  }
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      throw new TypeError('canonicalJson cannot encode a bigint');
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  const object = value as object;
  if (ancestors.has(object)) throw new TypeError('canonicalJson cannot encode a value that contains itself');
  ancestors.add(object);
  try {
    if (Array.isArray(object)) {
      return `[${object.map((item: unknown) => writeCanonical(item, ancestors) ?? 'null').join(',')}]`;
    }
    const parts: string[] = [];
    // Default sort compares UTF-16 code units: the same order on every machine and locale.
    for (const key of Object.keys(object).sort()) {
      const text = writeCanonical((object as Record<string, unknown>)[key], ancestors);
      if (text !== undefined) parts.push(`${JSON.stringify(key)}:${text}`);
    }
    return `{${parts.join(',')}}`;
  } finally {
    ancestors.delete(object);
  }
}

// ---------------------------------------------------------------------------
// Small helpers

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `the text "${truncate(value, 40)}"`;
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${String(value)}`;
  return `a ${typeof value}`;
}

function truncate(text: string, max = 64): string {
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function unexpectedErrorReason(err: unknown): string {
  if (err instanceof RangeError && /call stack/i.test(err.message)) return 'it is nested too deeply to read';
  return truncate(errorMessage(err), 300);
}

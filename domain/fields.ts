/**
 * Validated fields shared by pipeline YAML and the configs of the plugins it
 * names (gates): strict mappings whose errors suggest the key meant,
 * durations, metric and column maps, comparisons, rates, URLs and secret
 * names. Every message names what is wrong so the pipeline error can say
 * file, path and reason.
 *
 * Pure: no Node built-ins and no I/O, so workflow code may import it.
 */
import { z } from 'zod';
import { DURATION_FORMAT, parseDuration } from './duration';
import { parseComparator } from './thresholds';

/** METRIC_NAME_PATTERN is the rule for metric and column names: the same as metric keys in the registry (domain/model-version.ts), so a gate may only name storable metrics. */
export const METRIC_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

/** SHORT_NAME_PATTERN is the rule for gate, deploy-target and health-source names: they end up in activity keys and status output. */
export const SHORT_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** SECOND_MS is one second in milliseconds, for duration bounds. */
export const SECOND_MS = 1_000;

/** DAY_MS is one day in milliseconds, for duration bounds. */
export const DAY_MS = 86_400_000;

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

/** metricMap is a mapping of metric name to value; each key is checked, so the error names the bad one. */
export function metricMap<V extends z.ZodType>(value: V) {
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

/** comparatorSchema is a quoted threshold comparison such as ">= 0.90" or "<= 250". */
export const comparatorSchema = z
  .string({ error: (issue) => `must be a quoted comparison such as ">= 0.90" or "<= 250" (got ${describeType(issue.input)})` })
  .max(100, 'is too long for a comparison such as ">= 0.90"')
  .superRefine((text, ctx) => {
    try {
      parseComparator(text);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: errorMessage(err) });
    }
  });

/** rateSchema is a fraction from 0 to 1 (0.05 means 5%). */
export const rateSchema = z.number().min(0, 'must be a fraction between 0 and 1').max(1, 'must be a fraction between 0 and 1 (0.05 means 5%)');

/** envVarNameSchema names a secret's environment variable: the worker's environment holds the value, pipeline YAML only its name. */
export const envVarNameSchema = z
  .string({ error: 'must be the name of an environment variable, such as "GATE_SECRET"' })
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, "must be the name of an environment variable (letters, digits, '_'; not starting with a digit): the secret itself never goes in pipeline YAML");
// A regex rather than URL(): this file stays free of host APIs so workflow code may import it.
/** httpUrlSchema is an http(s) URL a plugin calls. */
export const httpUrlSchema = z
  .string({ error: 'must be an http(s) URL such as "https://gates.example.com/check"' })
  .max(2048, 'is too long for a URL')
  .regex(/^https?:\/\/[^\s/?#@]+(?:[/?#]\S*)?$/i, 'must be an http(s) URL such as "https://gates.example.com/check"');

/** columnMap is a mapping of CSV column name to value; each key is checked, so the error names the bad one. */
export function columnMap<V extends z.ZodType>(value: V) {
  return z.record(z.string(), value, { error: (issue) => `must be a mapping of column name to value (got ${describeType(issue.input)})` }).superRefine((map, ctx) => {
    for (const key of Object.keys(map)) {
      if (!METRIC_NAME_PATTERN.test(key)) ctx.addIssue({ code: 'custom', path: [key], message: "is not a column name: a letter, then letters, digits or '_'" });
    }
  });
}

/** isPlainObject says whether a value is a mapping (not null, not a list). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** describeType names what a value is, for "(got ...)" in error messages. */
export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `the text "${truncate(value, 40)}"`;
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${String(value)}`;
  return `a ${typeof value}`;
}

/** truncate cuts text to `max` characters, ending in "..." when cut. */
export function truncate(text: string, max = 64): string {
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

/** errorMessage is an error's message, or the thrown value as text. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

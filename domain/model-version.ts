/**
 * Model versions as first-class artifacts: their shape, and the validation
 * every write goes through at the edge (names that cannot smuggle Mongo
 * operators or dotted paths, sha256 digests, bounded metric maps).
 */
import { z } from 'zod';

/** NAME_PATTERN is what model, environment, alias, metric and tag names may look like: no `$`, no dots. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
/** VERSION_PATTERN allows semver-like versions (dots are fine in values, never in keys). */
export const VERSION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/;
/** MAX_METRICS bounds the metrics map so one version cannot bloat the registry. */
export const MAX_METRICS = 100;
/** MAX_TAGS bounds the tags map. */
export const MAX_TAGS = 50;

const name = (what: string) =>
  z
    .string({ error: `${what} must be a string` })
    .regex(NAME_PATTERN, `${what} must be 1-64 letters, digits, '_' or '-', starting with a letter or digit (no '$' or '.')`);

/** modelNameSchema validates a model name. */
export const modelNameSchema = name('model');
/** envNameSchema validates an environment name. */
export const envNameSchema = name('environment');
/** versionSchema validates a version string. */
export const versionSchema = z
  .string({ error: 'version must be a string' })
  .regex(VERSION_PATTERN, "version must be 1-64 letters, digits, '.', '_', '+' or '-', starting with a letter or digit");

const METRIC_KEY = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

/** keysMatch checks every key of a map, naming the first bad one (zod's own record-key message names none). */
function keysMatch(pattern: RegExp, what: string) {
  return (map: Record<string, unknown>, ctx: z.RefinementCtx) => {
    for (const key of Object.keys(map)) {
      if (!pattern.test(key)) {
        ctx.addIssue({ code: 'custom', path: [key], message: `${what} name "${key.slice(0, 80)}" is not allowed: use letters, digits and '_' (no '.' or '$'), at most 64 characters` });
      }
    }
  };
}

/** ARTIFACT_URI_SCHEMES are the schemes an artifact URI may have (what registrations use today); a URI without one is a path, which workers read only inside SLIPWAY_FILE_ROOTS. */
export const ARTIFACT_URI_SCHEMES = ['file', 's3', 'https'] as const;

/** artifactUriScheme is a URI's scheme, lowercase, or undefined for a path (a one-letter "scheme" is a Windows drive). */
export function artifactUriScheme(uri: string): string | undefined {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(uri)?.[1];
  return scheme !== undefined && scheme.length > 1 ? scheme.toLowerCase() : undefined;
}

/** artifactSchema describes where the weights are and how to verify them. */
export const artifactSchema = z.strictObject({
  uri: z
    .string()
    .min(1, 'artifact.uri is required')
    .max(2048, 'artifact.uri is longer than 2048 characters')
    .refine((uri) => ![...uri].some((c) => c.charCodeAt(0) < 0x20 || c === '\x7f'), 'artifact.uri contains control characters')
    .refine((uri) => {
      const scheme = artifactUriScheme(uri);
      return scheme === undefined || (ARTIFACT_URI_SCHEMES as readonly string[]).includes(scheme);
    }, `artifact.uri must be a path or a URI with one of the schemes ${ARTIFACT_URI_SCHEMES.map((s) => `${s}:`).join(', ')}`),
  sha256: z
    .string({ error: 'artifact.sha256 must be a string' })
    .regex(/^[a-f0-9]{64}$/, 'artifact.sha256 must be 64 lowercase hex characters (the output of `sha256sum`)'),
  sizeBytes: z.number().int().nonnegative().optional(),
  format: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,31}$/, 'artifact.format must be a short lowercase word such as onnx or safetensors').optional(),
});

/** registerVersionInputSchema is what `slipway model register` and the API accept. */
export const registerVersionInputSchema = z.strictObject({
  model: modelNameSchema,
  version: versionSchema,
  artifact: artifactSchema,
  codeCommit: z.string().regex(/^[A-Za-z0-9._/-]{1,128}$/, 'codeCommit must be a commit id (letters, digits, . _ / -)').optional(),
  codeCommittedAt: z.iso.datetime({ offset: true, error: 'codeCommittedAt must be an ISO-8601 date-time' }).optional(),
  dataSnapshot: z.string().min(1).max(256).optional(),
  promptVersion: z.string().min(1).max(128).optional(),
  metrics: z
    .record(z.string(), z.number({ error: 'metric values must be numbers' }).finite('metric values must be finite numbers'))
    .superRefine(keysMatch(METRIC_KEY, 'metric'))
    .refine((m) => Object.keys(m).length <= MAX_METRICS, `metrics may hold at most ${MAX_METRICS} entries`)
    .default({}),
  tags: z
    .record(z.string(), z.string({ error: 'tag values must be strings' }).max(256, 'tag values are at most 256 characters'))
    .superRefine(keysMatch(NAME_PATTERN, 'tag'))
    .refine((t) => Object.keys(t).length <= MAX_TAGS, `tags may hold at most ${MAX_TAGS} entries`)
    .default({}),
  parentVersion: versionSchema.optional(),
});

/** RegisterVersionInput is a validated registration request. */
export type RegisterVersionInput = z.infer<typeof registerVersionInputSchema>;

/** ModelVersion is an immutable registered version. */
export interface ModelVersion extends RegisterVersionInput {
  registeredBy: string;
  registeredAt: Date;
  /** sha256 of the canonical content, so re-registration can be compared cheaply. */
  contentHash: string;
}

/** CONTENT_FIELDS are the fields that make two registrations "the same content". */
export const CONTENT_FIELDS = [
  'artifact',
  'codeCommit',
  'codeCommittedAt',
  'dataSnapshot',
  'promptVersion',
  'metrics',
  'tags',
  'parentVersion',
] as const;

/** formatZodIssues turns zod issues into "field: reason" lines naming the path. */
export function formatZodIssues(error: z.ZodError, prefix = ''): { field: string; reason: string }[] {
  return error.issues.map((issue) => {
    const field = [prefix, ...issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))]
      .filter(Boolean)
      .join('.')
      .replace(/\.\[/g, '[');
    return { field: field || '(input)', reason: issue.message };
  });
}

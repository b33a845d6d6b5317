/**
 * Prompt-suite files: reading and validating a file of cases, and judging an
 * answer against a case's expectations.
 *
 * Suite file (YAML or JSON; relative paths from the repository root; read only inside SLIPWAY_FILE_ROOTS):
 *
 *   cases:
 *     - name: refund-policy
 *       input: "Can I get a refund after 30 days?"   # one user message, or:
 *       # messages: [{ role: system, content: "…" }, { role: user, content: "…" }]
 *       expect:
 *         contains: ["refund"]          # a string or a list; ignoreCase: true to fold case
 *         notContains: ["guarantee"]
 *         regex: "\\b30 days\\b"         # a pattern, "/pattern/flags", or a list
 *         jsonSchema: { type: object, required: [answer] }   # the answer must be JSON matching it
 *         maxLatencyMs: 2000
 */
import Ajv, { type ValidateFunction } from 'ajv';
import YAML from 'yaml';
import { z } from 'zod';
import { truncate } from '../../domain/fields';
import { readAllowedText, type FileAccess } from '../../lib/files';

const oneOrMany = <T extends z.ZodType>(item: T) => z.union([item, z.array(item).min(1).max(100)]).transform((v) => (Array.isArray(v) ? v : [v]) as z.output<T>[]);

const messageSchema = z.strictObject({
  role: z.enum(['system', 'user', 'assistant'], { error: 'must be system, user or assistant' }),
  content: z.string({ error: 'must be text' }).max(100_000, 'is longer than 100000 characters'),
});

const expectSchema = z.strictObject({
  contains: oneOrMany(z.string().min(1, 'must not be empty')).optional(),
  notContains: oneOrMany(z.string().min(1, 'must not be empty')).optional(),
  // contains / notContains compare without case when true.
  ignoreCase: z.boolean({ error: 'must be true or false' }).default(false),
  regex: oneOrMany(z.string().min(1, 'must not be empty').max(1000, 'is longer than 1000 characters')).optional(),
  jsonSchema: z.record(z.string(), z.unknown(), { error: 'must be a JSON schema (a mapping)' }).optional(),
  maxLatencyMs: z.number({ error: 'must be a number of milliseconds' }).positive('must be greater than 0').optional(),
});

const caseSchema = z
  .strictObject({
    name: z.string({ error: 'must be a short name for the case' }).min(1, 'must not be empty').max(128, 'is longer than 128 characters'),
    input: z.string({ error: 'must be the user message' }).max(100_000, 'is longer than 100000 characters').optional(),
    messages: z.array(messageSchema, { error: 'must be a list of {role, content}' }).min(1, 'must have at least one message').max(100, 'has more than 100 messages').optional(),
    expect: expectSchema.prefault({}),
  })
  .superRefine((c, ctx) => {
    if ((c.input === undefined) === (c.messages === undefined)) ctx.addIssue({ code: 'custom', message: 'give exactly one of "input" (one user message) or "messages"' });
    const e = c.expect;
    if (!e.contains && !e.notContains && !e.regex && !e.jsonSchema && e.maxLatencyMs === undefined) {
      ctx.addIssue({ code: 'custom', path: ['expect'], message: 'expects nothing: give contains, notContains, regex, jsonSchema and/or maxLatencyMs' });
    }
  });

/** promptSuiteFileSchema is the shape of a suite file: a list of cases with unique names. */
export const promptSuiteFileSchema = z
  .strictObject({ cases: z.array(caseSchema, { error: 'must be a list of cases' }).min(1, 'must list at least one case').max(1000, 'lists more than 1000 cases') })
  .superRefine((suite, ctx) => {
    const seen = new Map<string, number>();
    suite.cases.forEach((c, i) => {
      const first = seen.get(c.name);
      if (first !== undefined) ctx.addIssue({ code: 'custom', path: ['cases', i, 'name'], message: `"${c.name}" is the name of another case (also at [${first}])` });
      else seen.set(c.name, i);
    });
  });

/** PromptCase is one validated case, ready to run: its messages and compiled expectations. */
export interface PromptCase {
  name: string;
  messages: { role: 'system' | 'user' | 'assistant'; content: string }[];
  contains: string[];
  notContains: string[];
  ignoreCase: boolean;
  regex: RegExp[];
  jsonSchema?: ValidateFunction;
  maxLatencyMs?: number;
}

// Suite files are text a person writes; anything this big is a mistake.
const MAX_SUITE_BYTES = 1024 * 1024;

/** loadPromptSuite reads (inside the worker's file roots) and validates a suite file, compiling regexes and JSON schemas; errors name the file, case path and reason. */
export async function loadPromptSuite(file: string, access: FileAccess): Promise<PromptCase[]> {
  // The suite's own limit is tighter than the worker's.
  const { path: resolved, text } = await readAllowedText(file, 'suite', { ...access, maxBytes: Math.min(access.maxBytes, MAX_SUITE_BYTES) });
  let value: unknown;
  try {
    value = YAML.parse(text, { maxAliasCount: 100 });
  } catch (err) {
    throw new Error(`${resolved} is not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
  const parsed = promptSuiteFileSchema.safeParse(value);
  if (!parsed.success) {
    throw new Error(`${resolved}: ${parsed.error.issues.slice(0, 10).map((i) => `${formatPath(i.path)}: ${i.message}`).join('; ')}`);
  }
  const ajv = new Ajv({ allErrors: true, strict: false });
  return parsed.data.cases.map((c, i) => {
    const at = (field: string) => `${resolved}: cases[${i}] (${c.name}).expect.${field}`;
    const regex = (c.expect.regex ?? []).map((pattern, j) => {
      try {
        return compileRegex(pattern);
      } catch (err) {
        throw new Error(`${at(`regex[${j}]`)}: ${(err as Error).message}`, { cause: err });
      }
    });
    let jsonSchema: ValidateFunction | undefined;
    if (c.expect.jsonSchema) {
      try {
        jsonSchema = ajv.compile(c.expect.jsonSchema);
      } catch (err) {
        throw new Error(`${at('jsonSchema')}: not a usable JSON schema: ${(err as Error).message}`, { cause: err });
      }
    }
    return {
      name: c.name,
      messages: c.messages ?? [{ role: 'user', content: c.input as string }],
      contains: c.expect.contains ?? [],
      notContains: c.expect.notContains ?? [],
      ignoreCase: c.expect.ignoreCase,
      regex,
      ...(jsonSchema ? { jsonSchema } : {}),
      ...(c.expect.maxLatencyMs === undefined ? {} : { maxLatencyMs: c.expect.maxLatencyMs }),
    };
  });
}

// "/pattern/flags" is a literal with flags; anything else is the pattern itself.
function compileRegex(pattern: string): RegExp {
  const literal = /^\/(.+)\/([dimsuy]*)$/s.exec(pattern);
  return literal ? new RegExp(literal[1] as string, literal[2]) : new RegExp(pattern);
}

/** CaseOutcome is how one case went: the answer, how long it took, and each expectation it missed. */
export interface CaseOutcome {
  name: string;
  passed: boolean;
  latencyMs: number | null;
  answer: string | null;
  failures: string[];
}

/** judgeAnswer checks an answer against a case's expectations and returns what it missed (empty: passed). */
export function judgeAnswer(c: PromptCase, answer: string, latencyMs: number): string[] {
  const failures: string[] = [];
  const fold = (s: string) => (c.ignoreCase ? s.toLowerCase() : s);
  for (const text of c.contains) if (!fold(answer).includes(fold(text))) failures.push(`does not contain ${JSON.stringify(text)}`);
  for (const text of c.notContains) if (fold(answer).includes(fold(text))) failures.push(`contains ${JSON.stringify(text)}`);
  for (const re of c.regex) if (!re.test(answer)) failures.push(`does not match ${re}`);
  if (c.jsonSchema) {
    let json: unknown;
    try {
      json = JSON.parse(unfence(answer));
    } catch {
      failures.push('is not JSON, but the case expects JSON matching a schema');
    }
    if (json !== undefined && !c.jsonSchema(json)) {
      failures.push(`JSON does not match the schema: ${(c.jsonSchema.errors ?? []).slice(0, 5).map((e) => `${e.instancePath || '(root)'} ${e.message}`).join('; ')}`);
    }
  }
  if (c.maxLatencyMs !== undefined && latencyMs > c.maxLatencyMs) failures.push(`took ${Math.round(latencyMs)} ms, more than ${c.maxLatencyMs} ms`);
  return failures;
}

// Chat models often wrap JSON in a ```json fence; the fence is not part of the answer.
function unfence(text: string): string {
  const fenced = /^\s*```[a-zA-Z]*\s*\n([\s\S]*?)\n?```\s*$/.exec(text);
  return fenced ? (fenced[1] as string) : text;
}

/** describeExpectations lists a case's expectations in a few words, for its check in the release status. */
export function describeExpectations(c: PromptCase): string {
  const parts = [
    ...c.contains.map((t) => `contains ${JSON.stringify(truncate(t, 40))}`),
    ...c.notContains.map((t) => `not ${JSON.stringify(truncate(t, 40))}`),
    ...c.regex.map((r) => `matches ${truncate(String(r), 60)}`),
    ...(c.jsonSchema ? ['JSON schema'] : []),
    ...(c.maxLatencyMs === undefined ? [] : [`<= ${c.maxLatencyMs} ms`]),
  ];
  return parts.join(', ');
}

function formatPath(parts: readonly PropertyKey[]): string {
  let out = '';
  for (const p of parts) out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`;
  return out || '(root)';
}

/**
 * The `prompt-suite` gate: runs a file of prompt cases against an
 * OpenAI-compatible chat endpoint (`POST {baseUrl}/v1/chat/completions`) and
 * checks each answer against the case's expectations — contains, notContains,
 * regex, a JSON schema (ajv), maximum latency — then the share of cases that
 * passed against the gate's minimum. Cases run a few at a time, each with its
 * own timeout; a case the endpoint does not answer fails, it does not crash
 * the gate. The API key comes from the worker's environment, in a variable
 * the config names: never from pipeline YAML.
 *
 * Suite file (YAML or JSON; relative paths from the repository root):
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
import fs from 'node:fs/promises';
import path from 'node:path';
import Ajv, { type ValidateFunction } from 'ajv';
import YAML from 'yaml';
import { z } from 'zod';
import { parseDuration } from '../../domain/duration';
import type { GateCheck } from '../../domain/thresholds';
import type { GateResult } from '../../workflows/release.api';
import { REPO_ROOT } from '../../serving/model-runtime';
import { readCapped } from '../../lib/http';
import type { Gate } from '../types';
import { promptSuiteGateSchema, type PromptSuiteGateConfig } from './schema';

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
// Chat answers are read up to this size.
const MAX_ANSWER_BYTES = 1024 * 1024;
// Per-case checks shown in the release status; the pass rate counts them all.
const MAX_CASE_CHECKS = 100;

/** loadPromptSuite reads and validates a suite file, compiling regexes and JSON schemas; errors name the file, case path and reason. */
export async function loadPromptSuite(file: string): Promise<PromptCase[]> {
  const resolved = path.resolve(REPO_ROOT, file);
  const text = await fs.readFile(resolved, 'utf8');
  if (text.length > MAX_SUITE_BYTES) throw new Error(`${resolved} is ${text.length} characters; a suite may be at most ${MAX_SUITE_BYTES}`);
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

const chatAnswerSchema = z.object({
  choices: z
    .array(
      z.object({
        message: z.object({
          content: z.union([z.string(), z.null(), z.array(z.object({ type: z.string(), text: z.string().optional() }).loose())]),
        }).loose(),
      }).loose(),
    )
    .min(1, 'must hold at least one choice'),
}).loose();

/** PromptSuiteGateDeps are where the gate reads the API key from (the worker's environment unless a test hands in its own). */
export interface PromptSuiteGateDeps {
  env?: Record<string, string | undefined>;
}

/** createPromptSuiteGate builds the `prompt-suite` gate. */
export function createPromptSuiteGate(deps: PromptSuiteGateDeps = {}): Gate<PromptSuiteGateConfig> {
  return {
    type: 'prompt-suite',
    configSchema: promptSuiteGateSchema,
    async run(ctx, config) {
      const name = config.name ?? 'prompt-suite';
      const fail = (error: string): GateResult => ({ type: 'prompt-suite', name, passed: false, checks: [], error });
      let apiKey: string | undefined;
      if (config.apiKeyEnv !== undefined) {
        apiKey = (deps.env ?? process.env)[config.apiKeyEnv];
        if (!apiKey) return fail(`environment variable ${config.apiKeyEnv} is not set on the worker; the prompt-suite gate reads the API key for ${config.baseUrl} from it (apiKeyEnv)`);
      }
      let cases: PromptCase[];
      try {
        cases = await loadPromptSuite(config.suite);
      } catch (err) {
        return fail(`cannot load the prompt suite: ${(err as Error).message}`);
      }
      const model = config.model.replaceAll('{model}', ctx.candidate.model).replaceAll('{version}', ctx.candidate.version);
      const endpoint = chatCompletionsUrl(config.baseUrl);
      const timeoutMs = parseDuration(config.timeout);
      const run = (c: PromptCase) => runCase(c, { endpoint, model, apiKey, timeoutMs, timeout: config.timeout, temperature: config.temperature, maxTokens: config.maxTokens });
      const outcomes = await mapLimited(cases, config.concurrency, run);
      const passedCount = outcomes.filter((o) => o.passed).length;
      const rate = passedCount / outcomes.length;
      const passed = rate >= config.minPassRate;
      const checks: GateCheck[] = [
        {
          metric: 'pass_rate',
          value: Number(rate.toFixed(4)),
          threshold: `>= ${config.minPassRate}`,
          passed,
          reason: `${passedCount} of ${outcomes.length} cases passed against ${model} at ${endpoint}${passed ? '' : `; failed: ${outcomes.filter((o) => !o.passed).map((o) => o.name).slice(0, 20).join(', ')}`}`,
        },
      ];
      // Failed cases first, so the status shows what went wrong even in a big suite.
      const shown = [...outcomes.filter((o) => !o.passed), ...outcomes.filter((o) => o.passed)].slice(0, MAX_CASE_CHECKS);
      for (const o of shown) {
        const expected = cases.find((c) => c.name === o.name);
        checks.push({
          metric: `case[${o.name}]`,
          value: o.latencyMs === null ? null : Math.round(o.latencyMs),
          threshold: expected ? describeExpectations(expected) : '',
          passed: o.passed,
          reason: o.passed ? `passed in ${Math.round(o.latencyMs ?? 0)} ms` : `${o.failures.join('; ')}${o.answer === null ? '' : ` (answer: ${JSON.stringify(truncate(o.answer, 200))})`}`,
        });
      }
      return { type: 'prompt-suite', name, passed, checks };
    },
  };
}

/** chatCompletionsUrl is `{baseUrl}/v1/chat/completions`, without doubling a `/v1` the base URL already ends in. */
export function chatCompletionsUrl(baseUrl: string): string {
  const base = baseUrl.replace(/\/+$/, '');
  return `${/\/v1$/.test(base) ? base : `${base}/v1`}/chat/completions`;
}

interface CaseRun {
  endpoint: string;
  model: string;
  apiKey: string | undefined;
  timeoutMs: number;
  timeout: string;
  temperature: number;
  maxTokens: number | undefined;
}

async function runCase(c: PromptCase, run: CaseRun): Promise<CaseOutcome> {
  const started = performance.now();
  const failed = (reason: string, latencyMs: number | null = null): CaseOutcome => ({ name: c.name, passed: false, latencyMs, answer: null, failures: [reason] });
  let status: number;
  let text: string;
  try {
    const response = await fetch(run.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...(run.apiKey ? { authorization: `Bearer ${run.apiKey}` } : {}) },
      body: JSON.stringify({ model: run.model, messages: c.messages, temperature: run.temperature, ...(run.maxTokens ? { max_tokens: run.maxTokens } : {}) }),
      signal: AbortSignal.timeout(run.timeoutMs),
    });
    status = response.status;
    text = await readCapped(response, MAX_ANSWER_BYTES);
  } catch (err) {
    if (err instanceof Error && err.name === 'TimeoutError') return failed(`no answer within ${run.timeout}`, performance.now() - started);
    const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return failed(`endpoint unreachable (${err instanceof Error ? err.message : String(err)}${cause})`);
  }
  const latencyMs = performance.now() - started;
  if (status < 200 || status > 299) return failed(`endpoint answered HTTP ${status}: ${truncate(text.trim(), 200)}`, latencyMs);
  let answer: string;
  try {
    const parsed = chatAnswerSchema.parse(JSON.parse(text));
    const content = parsed.choices[0]?.message.content;
    answer = typeof content === 'string' ? content : (content ?? []).map((part) => part.text ?? '').join('');
  } catch {
    return failed(`endpoint answered something other than a chat completion: ${truncate(text.trim(), 200)}`, latencyMs);
  }
  const failures = judgeAnswer(c, answer, latencyMs);
  return { name: c.name, passed: failures.length === 0, latencyMs, answer, failures };
}

// Runs fn over items with at most `limit` in flight, keeping the input order in the output.
async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i] as T);
      }
    }),
  );
  return out;
}

function describeExpectations(c: PromptCase): string {
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

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

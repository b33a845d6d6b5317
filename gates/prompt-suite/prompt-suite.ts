/**
 * The `prompt-suite` gate: runs a file of prompt cases (suite.ts) against an
 * OpenAI-compatible chat endpoint (`POST {baseUrl}/v1/chat/completions`) and
 * checks each answer against the case's expectations — contains, notContains,
 * regex, a JSON schema (ajv), maximum latency — then the share of cases that
 * passed against the gate's minimum. Cases run a few at a time, each with its
 * own timeout. An answer that misses its expectations, or a refusal (4xx),
 * fails the case; no answer in time, HTTP 5xx (or 408, 425, 429) or a refused
 * connection means the gate could not ask: it throws a retryable failure and
 * the gate activity asks again. The API key comes from the worker's
 * environment, in a variable the config names and SLIPWAY_SECRET_ENV_ALLOW
 * lists (never from pipeline YAML); the suite file from SLIPWAY_FILE_ROOTS.
 */
import { z } from 'zod';
import { parseDuration } from '../../domain/duration';
import { truncate } from '../../domain/fields';
import type { GateCheck } from '../../domain/thresholds';
import { describeFetchError, isTimeout, isUnavailableStatus, readCapped, snippet } from '../../lib/http';
import { OutboundRefusedError, checkOutboundUrl, outboundFetch, type OutboundPolicy } from '../../lib/outbound';
import type { GateResult } from '../../workflows/release/api';
import { isSandboxRefusal } from '../../lib/sandbox';
import type { Gate } from '../types';
import { failedVerdict, gateUnavailable } from '../verdicts';
import { promptSuiteGateSchema, type PromptSuiteGateConfig } from './schema';
import { describeExpectations, judgeAnswer, loadPromptSuite, type CaseOutcome, type PromptCase } from './suite';

// Chat answers are read up to this size.
const MAX_ANSWER_BYTES = 1024 * 1024;
// Per-case checks shown in the release status; the pass rate counts them all.
const MAX_CASE_CHECKS = 100;

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

/** createPromptSuiteGate builds the `prompt-suite` gate; its key, suite file and endpoint go through the worker's sandbox. */
export function createPromptSuiteGate(): Gate<PromptSuiteGateConfig> {
  return {
    type: 'prompt-suite',
    secretEnvFields: ['apiKeyEnv'],
    configSchema: promptSuiteGateSchema,
    async run(ctx, config) {
      const name = config.name ?? 'prompt-suite';
      const fail = (error: string): GateResult => failedVerdict('prompt-suite', name, error);
      let apiKey: string | undefined;
      if (config.apiKeyEnv !== undefined) {
        apiKey = ctx.sandbox.secret(config.apiKeyEnv, 'apiKeyEnv');
        if (!apiKey) return fail(`environment variable ${config.apiKeyEnv} is not set on the worker; the prompt-suite gate reads the API key for ${config.baseUrl} from it (apiKeyEnv)`);
      }
      const endpoint = chatCompletionsUrl(config.baseUrl);
      // Refused before the suite is read: a key is never sent where the worker may not call.
      checkOutboundUrl(endpoint, ctx.sandbox.outbound, 'baseUrl');
      let cases: PromptCase[];
      try {
        cases = await loadPromptSuite(config.suite, ctx.sandbox.files);
      } catch (err) {
        if (isSandboxRefusal(err)) throw err;
        return fail(`cannot load the prompt suite: ${(err as Error).message}`);
      }
      const model = config.model.replaceAll('{model}', ctx.candidate.model).replaceAll('{version}', ctx.candidate.version);
      const timeoutMs = parseDuration(config.timeout);
      const run = (c: PromptCase) => runCase(c, { endpoint, model, apiKey, timeoutMs, timeout: config.timeout, temperature: config.temperature, maxTokens: config.maxTokens, outbound: ctx.sandbox.outbound });
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
  outbound: OutboundPolicy;
}

async function runCase(c: PromptCase, run: CaseRun): Promise<CaseOutcome> {
  const started = performance.now();
  const failed = (reason: string, latencyMs: number | null = null): CaseOutcome => ({ name: c.name, passed: false, latencyMs, answer: null, failures: [reason] });
  let status: number;
  let text: string;
  try {
    const response = await outboundFetch(
      run.endpoint,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', ...(run.apiKey ? { authorization: `Bearer ${run.apiKey}` } : {}) },
        body: JSON.stringify({ model: run.model, messages: c.messages, temperature: run.temperature, ...(run.maxTokens ? { max_tokens: run.maxTokens } : {}) }),
        signal: AbortSignal.timeout(run.timeoutMs),
        field: 'baseUrl',
      },
      run.outbound,
    );
    status = response.status;
    text = await readCapped(response, MAX_ANSWER_BYTES);
  } catch (err) {
    if (err instanceof OutboundRefusedError) throw err;
    if (isTimeout(err)) throw gateUnavailable(`${run.endpoint} gave no answer to case ${c.name} within ${run.timeout}`);
    throw gateUnavailable(`${run.endpoint} is unreachable (${describeFetchError(err)})`);
  }
  const latencyMs = performance.now() - started;
  if (isUnavailableStatus(status)) throw gateUnavailable(`${run.endpoint} answered HTTP ${status} to case ${c.name}${snippet(text)}`);
  // Never followed: the bearer key would go wherever the endpoint pointed.
  if (status >= 300 && status <= 399) return failed(`endpoint answered HTTP ${status} (a redirect), which the gate does not follow with the API key; set baseUrl to the address that answers`, latencyMs);
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
// The first failure stops further items from starting: the gate is asked again as a whole.
async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let stopped = false;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length && !stopped) {
        const i = next++;
        try {
          out[i] = await fn(items[i] as T);
        } catch (err) {
          stopped = true;
          throw err;
        }
      }
    }),
  );
  return out;
}

import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { parsePipeline } from '../../domain/pipeline';
import { dataQualityGate } from '../../gates/data-quality';
import { dataQualityGateSchema } from '../../gates/data-quality/schema';
import { chatCompletionsUrl, createPromptSuiteGate } from '../../gates/prompt-suite/prompt-suite';
import { promptSuiteGateSchema } from '../../gates/prompt-suite/schema';
import type { GateContext } from '../../gates/types';
import type { Sandbox } from '../../lib/sandbox';
import { Registry } from '../../registry/registry';
import type { VersionDoc } from '../../registry/types';
import { REPO_ROOT, sha256Hex } from '../../serving/model-runtime';
import type { GateResult } from '../../workflows/release/api';
import { testSandbox } from '../support/gate-context';
import { openTestDb, uniqueName, type TestDb } from '../support/stack';

const HOLDOUT = 'models/fraud/data/holdout.csv';
const TRAFFIC = 'models/fraud/data/traffic-sample.csv';
const FEATURES = ['amount', 'hour', 'velocity_24h', 'merchant_risk', 'account_age_days', 'distance_km'];
const check = (result: GateResult, metric: string) => {
  const found = result.checks.find((c) => c.metric === metric);
  assert.ok(found, `no ${metric} check in ${JSON.stringify(result, null, 1)}`);
  return found;
};

describe('data-quality gate on the committed fraud data', () => {
  let t: TestDb;
  let registry: Registry;
  let v1: VersionDoc;
  let elsewhere: VersionDoc;
  let tmp: string;
  let sandbox: Sandbox;
  const ctx = (candidate: VersionDoc): GateContext => ({ releaseId: 'rel-dq', env: 'prod', candidate, live: null, registry, sandbox });

  before(async () => {
    t = await openTestDb();
    registry = new Registry(t.db);
    await registry.ensureIndexes();
    const model = uniqueName('fraud').replace(/_/g, '-');
    const sha = sha256Hex(fs.readFileSync(path.join(REPO_ROOT, 'models', 'fraud', 'v1', 'model.onnx')));
    v1 = (await registry.registerVersion({ model, version: 'v1', artifact: { uri: 'models/fraud/v1/model.onnx', sha256: sha } }, 'ci')).version;
    elsewhere = (await registry.registerVersion({ model, version: 'remote', artifact: { uri: 's3://models/fraud/remote.onnx', sha256: sha } }, 'ci')).version;
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-dq-'));
    sandbox = testSandbox({ SLIPWAY_FILE_ROOTS: [path.join(REPO_ROOT, 'models'), tmp].join(path.delimiter) });
  });
  after(async () => {
    fs.rmSync(tmp, { recursive: true, force: true });
    await t?.close();
  });

  it('flags the refunds in the traffic sample with the range check: 89 of 1000 amounts below 0, the lowest -321.63', async (tc) => {
    const config = dataQualityGateSchema.parse({ type: 'data-quality', reference: HOLDOUT, current: TRAFFIC, ranges: { amount: { min: 0 }, hour: { min: 0, max: 23 } } });
    const result = await dataQualityGate.run(ctx(v1), config);
    assert.equal(result.passed, false);
    assert.equal(result.error, undefined);
    const amount = check(result, 'min[amount]');
    assert.deepEqual([amount.passed, amount.value, amount.threshold], [false, -321.63, '>= 0']);
    assert.equal(amount.reason, '89 of 1000 values of amount are below 0 (lowest -321.63) in traffic-sample.csv');
    assert.deepEqual([check(result, 'min[hour]').passed, check(result, 'max[hour]').passed], [true, true]);
    // Schema from v1's manifest: six numeric inputs in both files, no nulls.
    assert.match(check(result, 'schema_current').reason, /^traffic-sample\.csv \(1000 rows\) has the 6 columns from .*@v1's manifest\.json, all numeric$/);
    assert.equal(check(result, 'schema_reference').passed, true);
    for (const column of FEATURES) assert.deepEqual([check(result, `null_rate[${column}]`).value, check(result, `null_rate[${column}]`).passed], [0, true], column);
    // Decile PSI sees the refunds only as a fuller lowest bin: a shift, under the usual 0.2.
    const psi = check(result, 'psi[amount]');
    assert.equal(psi.value, 0.0451);
    assert.equal(psi.passed, true);
    assert.match(psi.reason, /largest move in bin <= 9\.76: 10\.0% -> 16\.2%; 89 below the reference minimum 1\.2$/);
    tc.diagnostic(`PSI by column: ${FEATURES.map((c) => `${c}=${check(result, `psi[${c}]`).value}`).join(' ')}`);
    for (const column of FEATURES.filter((c) => c !== 'amount')) assert.ok((check(result, `psi[${column}]`).value as number) < 0.03, `${column} is stable`);
  });

  it('flags the refunds with PSI too when values outside the reference get bins of their own', async () => {
    const config = dataQualityGateSchema.parse({ type: 'data-quality', reference: HOLDOUT, current: TRAFFIC, psi: { outOfRangeBins: true } });
    const result = await dataQualityGate.run(ctx(v1), config);
    assert.equal(result.passed, false);
    const psi = check(result, 'psi[amount]');
    assert.deepEqual([psi.value, psi.passed], [0.6275, false]);
    assert.match(psi.reason, /^PSI 0\.6275 > 0\.2 over 12 bins of amount .*largest move in bin < 1\.2 \(below the reference\): 0\.0% -> 8\.9%/);
    assert.deepEqual(result.checks.filter((c) => !c.passed).map((c) => c.metric), ['psi[amount]'], 'only amount drifted');
  });

  it('passes the held-out set against itself', async () => {
    const config = dataQualityGateSchema.parse({ type: 'data-quality', reference: HOLDOUT, current: HOLDOUT, ranges: { amount: { min: 0 } } });
    const result = await dataQualityGate.run(ctx(v1), config);
    assert.equal(result.passed, true, JSON.stringify(result.checks.filter((c) => !c.passed)));
    assert.ok(result.checks.filter((c) => c.metric.startsWith('psi[')).every((c) => c.value === 0));
  });

  it('reports a missing column, text cells and nulls in a broken export, naming each', async () => {
    const current = path.join(tmp, 'broken.csv');
    fs.writeFileSync(current, ['amount,hour,merchant_risk', '12.5,3,0.2', ',4,0.1', 'NA,5,high', '7.25,,0.3'].join('\n'));
    const config = dataQualityGateSchema.parse({ type: 'data-quality', reference: HOLDOUT, current, columns: ['amount', 'hour', 'merchant_risk', 'distance_km'], maxNullRate: 0.3, maxNullRateByColumn: { hour: 0 } });
    const result = await dataQualityGate.run(ctx(elsewhere), config);
    assert.equal(result.passed, false);
    const schema = check(result, 'schema_current');
    assert.equal(schema.value, 2);
    assert.equal(schema.reason, 'broken.csv does not match the 4 columns from the gate config: missing column distance_km; merchant_risk has 1 non-numeric cell (line 4: "high")');
    assert.deepEqual([check(result, 'null_rate[amount]').value, check(result, 'null_rate[amount]').passed], [0.5, false]);
    assert.equal(check(result, 'null_rate[amount]').reason, '2 of 4 cells of amount in broken.csv are empty or NA (50.0% > 30.0%)');
    assert.deepEqual([check(result, 'null_rate[hour]').value, check(result, 'null_rate[hour]').passed], [0.25, false]);
    assert.equal(check(result, 'null_rate[merchant_risk]').passed, true);
    assert.deepEqual([check(result, 'null_rate[distance_km]').passed, check(result, 'psi[distance_km]').passed], [false, false]);
    assert.match(check(result, 'psi[distance_km]').reason, /cannot compute PSI: broken\.csv has no column distance_km/);
  });

  it('falls back to the reference header when the candidate has no local manifest, and reports unreadable files as errors', async () => {
    const config = dataQualityGateSchema.parse({ type: 'data-quality', reference: HOLDOUT, current: TRAFFIC });
    const result = await dataQualityGate.run(ctx(elsewhere), config);
    // The held-out set has a label column that live traffic cannot have: the gate says so instead of guessing.
    assert.equal(check(result, 'schema_current').reason, 'traffic-sample.csv does not match the 8 columns from the header of holdout.csv: missing column label');
    const missing = await dataQualityGate.run(ctx(v1), dataQualityGateSchema.parse({ type: 'data-quality', reference: HOLDOUT, current: 'models/fraud/data/nope.csv' }));
    assert.equal(missing.passed, false);
    assert.match(missing.error ?? '', /cannot check data quality for .*@v1: current: "models\/fraud\/data\/nope\.csv" does not exist/);
  });
});

/**
 * An OpenAI-compatible chat server on 127.0.0.1 that answers from the last
 * user message, deterministically: `echo: X` answers X, a message with "json"
 * answers a JSON object (fenced when it also says "fenced"), "slow" answers
 * after 400 ms, "hang" never answers; anything else gets a refusal.
 */
async function startFakeChat(apiKey: string) {
  const seen: { model: string; auth: string | undefined }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const send = (code: number, body: unknown) => res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (req.method !== 'POST' || req.url !== '/v1/chat/completions') return send(404, { error: { message: 'not found' } });
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { model: string; messages: { role: string; content: string }[] };
      seen.push({ model: body.model, auth: req.headers.authorization });
      if (req.headers.authorization !== `Bearer ${apiKey}`) return send(401, { error: { message: 'Incorrect API key provided', type: 'invalid_request_error' } });
      const prompt = [...body.messages].reverse().find((m) => m.role === 'user')?.content ?? '';
      let content = 'I am sorry, I cannot help with that.';
      if (prompt.startsWith('echo: ')) content = prompt.slice('echo: '.length);
      else if (/json/i.test(prompt)) content = JSON.stringify({ answer: 'refunds take 5 business days', confidence: 0.9 });
      if (/fenced/.test(prompt)) content = `\`\`\`json\n${content}\n\`\`\``;
      const answer = () => {
        inFlight--;
        send(200, { id: 'chatcmpl-1', object: 'chat.completion', created: 0, model: body.model, choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } });
      };
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      if (/hang/.test(prompt)) return;
      if (/slow/.test(prompt)) return void setTimeout(answer, 400);
      setTimeout(answer, 20);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    maxInFlight: () => maxInFlight,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('prompt-suite gate against an OpenAI-compatible server on 127.0.0.1', () => {
  const KEY = 'sk-test-0123456789';
  let chat: Awaited<ReturnType<typeof startFakeChat>>;
  let tmp: string;
  let suite: string;
  const candidate = { _id: 'support-bot:2025-06', model: 'support-bot', version: '2025-06', artifact: { uri: 's3://prompts/support-bot/2025-06.json', sha256: 'ef'.repeat(32) }, metrics: {} } as unknown as VersionDoc;
  // The suite files live in tmp; the key variable is allowed and, unless a test says otherwise, set.
  const ctxWith = (secrets: Record<string, string>): GateContext => ({
    releaseId: 'rel-ps',
    env: 'staging',
    candidate,
    live: null,
    registry: {} as Registry,
    sandbox: testSandbox({ SLIPWAY_FILE_ROOTS: tmp, SLIPWAY_SECRET_ENV_ALLOW: 'FAKE_LLM_KEY' }, secrets),
  });
  let ctx: GateContext;
  const gate = createPromptSuiteGate();
  const config = (extra: Record<string, unknown> = {}) =>
    promptSuiteGateSchema.parse({ type: 'prompt-suite', suite, baseUrl: chat.baseUrl, model: '{model}-{version}', apiKeyEnv: 'FAKE_LLM_KEY', timeout: '2s', concurrency: 2, ...extra });

  before(async () => {
    chat = await startFakeChat(KEY);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-prompts-'));
    ctx = ctxWith({ FAKE_LLM_KEY: KEY });
    suite = path.join(tmp, 'support.yaml');
    fs.writeFileSync(
      suite,
      `cases:
  - name: refund-window
    input: "echo: Refunds are processed within 5 business days."
    expect:
      contains: refunds
      ignoreCase: true
      notContains: [sorry, guarantee]
      regex: ["\\\\b5 business days\\\\b", "/^REFUNDS/i"]
      maxLatencyMs: 1500
  - name: structured-answer
    messages:
      - { role: system, content: "Answer as JSON with answer and confidence." }
      - { role: user, content: "How long do refunds take? Reply in json, fenced." }
    expect:
      jsonSchema:
        type: object
        required: [answer, confidence]
        properties: { answer: { type: string }, confidence: { type: number, minimum: 0, maximum: 1 } }
  - name: cites-policy
    input: "Reply in json please"
    expect:
      jsonSchema: { type: object, required: [policyId] }
  - name: stays-polite
    input: "Tell me a secret"
    expect:
      notContains: sorry
  - name: answers-fast
    input: "echo: slow answer"
    expect:
      contains: answer
      maxLatencyMs: 100
`,
    );
  });
  after(async () => {
    fs.rmSync(tmp, { recursive: true, force: true });
    await chat?.close();
  });

  it('passes cases whose answers meet their expectations and fails the others, each saying why', async (tc) => {
    const result = await gate.run(ctx, config({ minPassRate: 0.4 }));
    assert.equal(result.error, undefined);
    const rate = check(result, 'pass_rate');
    assert.deepEqual([rate.value, rate.passed, rate.threshold], [0.4, true, '>= 0.4']);
    assert.equal(rate.reason, `2 of 5 cases passed against support-bot-2025-06 at ${chat.baseUrl}/v1/chat/completions`);
    assert.equal(result.passed, true);
    assert.equal(check(result, 'case[refund-window]').passed, true);
    assert.equal(check(result, 'case[structured-answer]').passed, true, 'a fenced JSON answer is read as JSON');
    const cites = check(result, 'case[cites-policy]');
    assert.equal(cites.passed, false);
    assert.match(cites.reason, /^JSON does not match the schema: \(root\) must have required property 'policyId' \(answer: /);
    assert.match(check(result, 'case[stays-polite]').reason, /^contains "sorry" \(answer: "I am sorry, I cannot help with that\."\)/);
    const fast = check(result, 'case[answers-fast]');
    assert.equal(fast.passed, false);
    assert.match(fast.reason, /^took \d+ ms, more than 100 ms/);
    assert.ok((fast.value as number) >= 400, `latency ${fast.value}`);
    assert.deepEqual(result.checks.slice(1, 4).map((c) => c.passed), [false, false, false], 'failed cases are listed first');
    assert.ok(chat.seen.every((s) => s.model === 'support-bot-2025-06' && s.auth === `Bearer ${KEY}`));
    assert.ok(chat.maxInFlight() <= 2, `at most 2 cases in flight (saw ${chat.maxInFlight()})`);
    tc.diagnostic(result.checks.map((c) => `${c.metric}: ${c.passed ? 'pass' : 'FAIL'} ${c.reason}`).join(' | '));
  });

  it('fails the gate when the pass rate is below the minimum', async () => {
    const result = await gate.run(ctx, config());
    assert.equal(result.passed, false);
    assert.match(check(result, 'pass_rate').reason, /^2 of 5 cases passed .*; failed: /);
  });

  it('throws a retryable GateUnavailable when a case gets no answer in time, so the gate activity asks again', async () => {
    const hanging = path.join(tmp, 'hang.json');
    fs.writeFileSync(hanging, JSON.stringify({ cases: [{ name: 'hangs', input: 'hang forever', expect: { contains: 'x' } }, { name: 'echoes', input: 'echo: hi', expect: { contains: 'hi' } }] }));
    const started = Date.now();
    await assert.rejects(gate.run(ctx, config({ suite: hanging, timeout: '300ms', minPassRate: 0.5 })), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure, String(err));
      assert.deepEqual([err.type, err.nonRetryable, err.message], ['GateUnavailable', false, `${chat.baseUrl}/v1/chat/completions gave no answer to case hangs within 300ms`]);
      return true;
    });
    assert.ok(Date.now() - started < 1_500, 'the timeout cut the case short');
  });

  it('names the API key variable when it is not set, before calling the endpoint', async () => {
    const calls = chat.seen.length;
    const result = await gate.run(ctxWith({}), config());
    assert.equal(result.passed, false);
    assert.equal(result.error, `environment variable FAKE_LLM_KEY is not set on the worker; the prompt-suite gate reads the API key for ${chat.baseUrl} from it (apiKeyEnv)`);
    assert.equal(chat.seen.length, calls, 'nothing was sent');
  });

  it('fails every case with the endpoint\'s answer when the key is wrong', async () => {
    const result = await gate.run(ctxWith({ FAKE_LLM_KEY: 'sk-wrong' }), config());
    assert.equal(check(result, 'pass_rate').value, 0);
    assert.match(check(result, 'case[refund-window]').reason, /^endpoint answered HTTP 401: .*Incorrect API key provided/);
  });

  it('reports a broken suite file with its path and the case at fault', async () => {
    const broken = path.join(tmp, 'broken.yaml');
    fs.writeFileSync(broken, 'cases:\n  - name: a\n    input: hi\n    expect: { regex: "(" }\n  - name: b\n    expect: {}\n');
    const result = await gate.run(ctx, config({ suite: broken }));
    assert.equal(result.passed, false);
    assert.match(result.error ?? '', /^cannot load the prompt suite: .*broken\.yaml: cases\[1\]: give exactly one of "input" \(one user message\) or "messages"; cases\[1\]\.expect: expects nothing/);
    fs.writeFileSync(broken, 'cases:\n  - name: a\n    input: hi\n    expect: { regex: "(" }\n');
    const badRegex = await gate.run(ctx, config({ suite: broken }));
    assert.match(badRegex.error ?? '', /broken\.yaml: cases\[0\] \(a\)\.expect\.regex\[0\]: Invalid regular expression/);
  });

  it('keeps API keys out of pipeline YAML and joins the chat path once', () => {
    assert.throws(
      () => parsePipeline(`name: p\nstages:\n  - env: dev\n    gates:\n      - { type: prompt-suite, suite: s.yaml, baseUrl: "http://x", model: m, apiKeyEnv: "sk-123" }\n`, 'p.yaml'),
      /p\.yaml: stages\[0\]\.gates\[0\]\.apiKeyEnv: must be the name of an environment variable .*the secret itself never goes in pipeline YAML/,
    );
    assert.equal(chatCompletionsUrl('https://api.openai.com/v1/'), 'https://api.openai.com/v1/chat/completions');
    assert.equal(chatCompletionsUrl('http://127.0.0.1:8000'), 'http://127.0.0.1:8000/v1/chat/completions');
  });
});

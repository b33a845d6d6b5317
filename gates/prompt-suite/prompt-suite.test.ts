import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import type { GateContext } from '../types';
import { checkOf, fakeVersion, gateContext, testSandbox } from '../../test/support/gate-context';
import { startLocalServer, type LocalServer } from '../../test/support/local-http';
import { chatCompletionsUrl, createPromptSuiteGate } from './prompt-suite';
import { promptSuiteGateSchema } from './schema';
import { judgeAnswer, loadPromptSuite } from './suite';

const completion = (content: string) => ({ choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }] });

describe('prompt-suite gate', () => {
  let server: LocalServer;
  let dir: string;
  let suite: string;
  // The endpoint is unavailable for its first two requests, then echoes the prompt.
  let unavailableFor = 0;
  const gate = createPromptSuiteGate();
  let ctx: GateContext;
  const config = (extra: Record<string, unknown> = {}) => promptSuiteGateSchema.parse({ type: 'prompt-suite', suite, baseUrl: server.url, model: '{model}-{version}', timeout: '2s', concurrency: 1, ...extra });

  before(async () => {
    server = await startLocalServer((req) => {
      if (unavailableFor > 0) {
        unavailableFor--;
        return { status: 503, body: { error: { message: 'overloaded' } } };
      }
      const body = JSON.parse(req.body.toString('utf8')) as { messages: { content: string }[] };
      const prompt = body.messages.at(-1)?.content ?? '';
      if (prompt === 'forbidden') return { status: 400, body: { error: { message: 'content policy' } } };
      if (prompt === 'moved') return { status: 307, body: {}, headers: { location: 'https://collector.example.net/v1/chat/completions' } };
      return { status: 200, body: completion(prompt.replace(/^echo: /, '')) };
    });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-prompts-unit-'));
    ctx = gateContext(fakeVersion('v2'), null, testSandbox({ SLIPWAY_FILE_ROOTS: dir }));
    suite = path.join(dir, 'suite.yaml');
    fs.writeFileSync(suite, 'cases:\n  - { name: polite, input: "echo: thank you", expect: { contains: thank } }\n  - { name: refuses, input: forbidden, expect: { contains: x } }\n');
  });
  after(async () => {
    fs.rmSync(dir, { recursive: true, force: true });
    await server.close();
  });

  it('throws a retryable failure while the endpoint answers 503, and judges the cases once it answers', async () => {
    unavailableFor = 2;
    for (let attempt = 0; attempt < 2; attempt++) {
      await assert.rejects(gate.run(ctx, config()), (err: unknown) => {
        assert.ok(err instanceof ApplicationFailure, String(err));
        assert.deepEqual([err.type, err.nonRetryable], ['GateUnavailable', false]);
        assert.match(err.message, /chat\/completions answered HTTP 503 to case polite: /);
        return true;
      });
    }
    const result = await gate.run(ctx, config({ minPassRate: 0.5 }));
    assert.equal(result.passed, true, JSON.stringify(result));
    assert.equal(checkOf(result, 'case[polite]').passed, true);
    assert.match(checkOf(result, 'case[refuses]').reason, /^endpoint answered HTTP 400: .*content policy/, 'a refusal (4xx) fails the case, not the attempt');
  });

  it('never sends the API key to a metadata address, a plain-http host or through a redirect', async () => {
    const keyed = gateContext(fakeVersion('v2'), null, testSandbox({ SLIPWAY_FILE_ROOTS: dir, SLIPWAY_SECRET_ENV_ALLOW: 'LLM_KEY' }, { LLM_KEY: 'sk-never-leaves' }));
    const before = server.requests.length;
    await assert.rejects(gate.run(keyed, config({ apiKeyEnv: 'LLM_KEY', baseUrl: 'https://169.254.169.254' })), /^OutboundRefusedError: baseUrl: 169\.254\.169\.254 is a link-local or cloud metadata address/);
    await assert.rejects(gate.run(keyed, config({ apiKeyEnv: 'LLM_KEY', baseUrl: 'http://llm.example.com' })), /baseUrl: http:\/\/llm\.example\.com is plain http .*SLIPWAY_OUTBOUND_ALLOW_HTTP=true/);
    await assert.rejects(gate.run(keyed, config({ apiKeyEnv: 'SLIPWAY_API_SIGNING_KEY' })), /^SecretRefusedError: apiKeyEnv: SLIPWAY_API_SIGNING_KEY is one of Slipway's or Temporal's own variables/);
    assert.equal(server.requests.length, before, 'nothing was sent');
    const redirected = path.join(dir, 'redirect.yaml');
    fs.writeFileSync(redirected, 'cases:\n  - { name: moved, input: moved, expect: { contains: x } }\n');
    const result = await gate.run(keyed, config({ apiKeyEnv: 'LLM_KEY', suite: redirected }));
    assert.match(checkOf(result, 'case[moved]').reason, /answered HTTP 307 \(a redirect\), which the gate does not follow with the API key/);
    assert.equal(server.requests.length, before + 1, 'asked once, the redirect not followed');
  });

  it('judges answers against contains, regex, JSON schema and latency', async () => {
    const [c] = await loadPromptSuite(writeSuite('cases:\n  - { name: j, input: hi, expect: { contains: Refund, ignoreCase: true, regex: "/^re/i", jsonSchema: { type: object }, maxLatencyMs: 10 } }\n'), ctx.sandbox.files);
    assert.ok(c);
    assert.deepEqual(judgeAnswer(c, 'refund', 5), ['is not JSON, but the case expects JSON matching a schema']);
    assert.equal(judgeAnswer(c, 'nope', 50).length, 4, 'misses contains, regex, JSON and latency');
  });

  it('names the file and the case at fault in a broken suite', async () => {
    await assert.rejects(loadPromptSuite(writeSuite('cases:\n  - { name: a, input: hi, expect: {} }\n'), ctx.sandbox.files), /bad\.yaml: cases\[0\]\.expect: expects nothing/);
  });

  it('joins the chat path once', () => {
    assert.equal(chatCompletionsUrl('https://api.openai.com/v1/'), 'https://api.openai.com/v1/chat/completions');
    assert.equal(chatCompletionsUrl('http://127.0.0.1:8000'), 'http://127.0.0.1:8000/v1/chat/completions');
  });

  function writeSuite(text: string): string {
    const file = path.join(dir, 'bad.yaml');
    fs.writeFileSync(file, text);
    return file;
  }
});

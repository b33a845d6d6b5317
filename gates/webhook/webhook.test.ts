import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { WEBHOOK_SIGNATURE_HEADER, verifyWebhookSignature } from '../../lib/request-signing';
import { fakeVersion, gateContext, testSandbox } from '../../test/support/gate-context';
import { startLocalServer, type LocalServer } from '../../test/support/local-http';
import { webhookGateSchema } from './schema';
import { createWebhookGate } from './webhook';

const SECRET = 'unit-secret-0123456789abcdef';

// Each path answers a script, one step per request: status and body.
const SCRIPTS: Record<string, [number, unknown][]> = {
  '/flaky': [[503, { error: 'restarting' }], [503, { error: 'restarting' }], [200, { passed: true }]],
  '/busy': [[429, { error: 'slow down' }]],
  '/no': [[200, { passed: false, reason: 'toxicity 4% > 1%' }]],
  '/forbidden': [[403, { error: 'not allowed' }]],
};

describe('webhook gate', () => {
  let server: LocalServer;
  const gate = createWebhookGate();
  const ctx = gateContext(fakeVersion('v2'), null, testSandbox({ SLIPWAY_SECRET_ENV_ALLOW: 'GATE_SECRET' }, { GATE_SECRET: SECRET }));
  const config = (path: string, extra: Record<string, unknown> = {}) => webhookGateSchema.parse({ type: 'webhook', url: `${server.url}${path}`, secretEnv: 'GATE_SECRET', timeout: '300ms', ...extra });
  const unavailable = (pattern: RegExp) => (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.deepEqual([err.type, err.nonRetryable], ['GateUnavailable', false]);
    assert.match(err.message, pattern);
    return true;
  };

  before(async () => {
    const seen = new Map<string, number>();
    server = await startLocalServer((req) => {
      if (req.path === '/hang') return null;
      const step = seen.get(req.path) ?? 0;
      seen.set(req.path, step + 1);
      const script = SCRIPTS[req.path] ?? [[404, {}]];
      const [status, body] = script[Math.min(step, script.length - 1)] as [number, unknown];
      return { status, body };
    });
  });
  after(() => server.close());

  it('throws a retryable failure while its service answers 503, and passes once it answers', async () => {
    await assert.rejects(gate.run(ctx, config('/flaky')), unavailable(/\/flaky answered HTTP 503: \{"error":"restarting"\}$/));
    await assert.rejects(gate.run(ctx, config('/flaky')), unavailable(/answered HTTP 503/));
    const result = await gate.run(ctx, config('/flaky'));
    assert.equal(result.passed, true, JSON.stringify(result));
    const signed = server.requests.filter((r) => r.path === '/flaky').map((r) => verifyWebhookSignature(SECRET, r.headers[WEBHOOK_SIGNATURE_HEADER], r.body).valid);
    assert.deepEqual(signed, [true, true, true], 'every attempt is signed');
  });

  it('takes 429, a timeout and a refused connection as "could not ask" too', async () => {
    await assert.rejects(gate.run(ctx, config('/busy')), unavailable(/answered HTTP 429/));
    await assert.rejects(gate.run(ctx, config('/hang')), unavailable(/\/hang gave no verdict within 300ms$/));
    await assert.rejects(gate.run(ctx, config('/', { url: 'http://127.0.0.1:9/gate' })), unavailable(/^http:\/\/127\.0\.0\.1:9\/gate is unreachable \(fetch failed/));
  });

  it('answers a failed verdict, not an error, for a failing verdict or a refusal', async () => {
    const no = await gate.run(ctx, config('/no'));
    assert.deepEqual([no.passed, no.error, no.checks[0]?.reason], [false, undefined, 'toxicity 4% > 1%']);
    const forbidden = await gate.run(ctx, config('/forbidden'));
    assert.deepEqual([forbidden.passed, forbidden.error], [false, `${server.url}/forbidden answered HTTP 403: {"error":"not allowed"}`]);
  });

  it('refuses a URL the worker may not call before signing anything', async () => {
    const before = server.requests.length;
    await assert.rejects(gate.run(ctx, config('/', { url: 'http://gates.example.com/check' })), /^OutboundRefusedError: url: http:\/\/gates\.example\.com is plain http/);
    await assert.rejects(gate.run(ctx, config('/', { url: 'https://[fd00:ec2::254]/check' })), /link-local or cloud metadata address/);
    assert.equal(server.requests.length, before);
  });

  it('keeps secrets out of pipeline YAML: the config names a variable', () => {
    const pasted = webhookGateSchema.safeParse({ type: 'webhook', url: 'https://gates.example.com/check', secretEnv: 'sk-live-123' });
    assert.match(pasted.error?.issues[0]?.message ?? '', /the secret itself never goes in pipeline YAML/);
  });
});

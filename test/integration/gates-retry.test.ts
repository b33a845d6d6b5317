import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ReleaseService } from '../../client/releases';
import { parseSecretEnvAllow } from '../../domain/secret-env';
import { WEBHOOK_SIGNATURE_HEADER, verifyWebhookSignature } from '../../lib/request-signing';
import { testSandbox } from '../support/gate-context';
import { startLocalServer } from '../support/local-http';
import { registerModel, writePipelines } from '../support/releases';
import { openTestDb, startTestWorker, type TestDb, type TestTemporal } from '../support/stack';

const SECRET = 'retry-secret-0123456789abcdef0123456789';

/**
 * A verdict service on 127.0.0.1: `/flaky` answers 503 twice, then passes;
 * `/strict` always answers a failing verdict. It counts the signed requests
 * each path gets.
 */
async function startVerdictService() {
  const hits = { flaky: 0, strict: 0 };
  const server = await startLocalServer((req) => {
    if (!verifyWebhookSignature(SECRET, req.headers[WEBHOOK_SIGNATURE_HEADER], req.body).valid) return { status: 401, body: { error: 'bad signature' } };
    if (req.path === '/flaky') {
      hits.flaky++;
      return hits.flaky <= 2 ? { status: 503, body: { error: 'verdict service restarting' } } : { status: 200, body: { passed: true, reason: 'red team found nothing' } };
    }
    if (req.path === '/strict') {
      hits.strict++;
      return { status: 200, body: { passed: false, reason: 'jailbreak success rate 7% > 2%' } };
    }
    return { status: 404, body: {} };
  });
  return { url: server.url, hits, close: () => server.close() };
}

describe('gate retries in a release', () => {
  let t: TestDb;
  let temporal: TestTemporal;
  let service: ReleaseService;
  let verdicts: Awaited<ReturnType<typeof startVerdictService>>;

  before(async () => {
    t = await openTestDb();
    verdicts = await startVerdictService();
    const pipeline = (name: string, path: string) => `
name: ${name}
stages:
  - env: dev
    gates:
      - { type: webhook, name: red-team, url: "${verdicts.url}${path}", secretEnv: RETRY_GATE_SECRET, timeout: 2s }
`;
    // The worker allows the variable and holds its value, as config would read them from its environment.
    temporal = await startTestWorker(t.db, { sandbox: testSandbox({ SLIPWAY_SECRET_ENV_ALLOW: 'RETRY_GATE_SECRET' }, { RETRY_GATE_SECRET: SECRET }) });
    service = new ReleaseService({
      temporal: temporal.client,
      db: t.db,
      taskQueue: temporal.taskQueue,
      pipelinesDir: await writePipelines({ flaky: pipeline('flaky', '/flaky'), strict: pipeline('strict', '/strict') }),
      bootstrapFromFolder: true,
      secretEnvAllow: parseSecretEnvAllow('RETRY_GATE_SECRET'),
    });
  });
  after(async () => {
    await temporal?.close();
    await verdicts?.close();
    await t?.close();
  });

  it('passes the gate when its service answers 503 twice and then a passing verdict: the gate activity asked again', { timeout: 60_000 }, async () => {
    const model = await registerModel(service.registry, { r1: { accuracy: 0.9 } });
    const started = await service.start({ model, version: 'r1', pipeline: 'flaky', requestedBy: 'ci' });
    const final = await service.result(started.releaseId);
    assert.equal(final.status, 'succeeded', final.summary);
    assert.deepEqual(final.stages[0]?.gates.map((g) => [g.name, g.passed, g.checks[0]?.reason]), [['red-team', true, 'red team found nothing']]);
    assert.equal(verdicts.hits.flaky, 3, 'two unavailable answers, then the verdict');
  });

  it('fails the release on a failing verdict without asking again', { timeout: 60_000 }, async () => {
    const model = await registerModel(service.registry, { r2: { accuracy: 0.9 } });
    const started = await service.start({ model, version: 'r2', pipeline: 'strict', requestedBy: 'ci' });
    const final = await service.result(started.releaseId);
    assert.equal(final.status, 'failed', final.summary);
    assert.match(final.outcome?.reason ?? '', /gate failed at dev — red-team: jailbreak success rate 7% > 2%/);
    assert.equal(verdicts.hits.strict, 1, 'a verdict is final: asked once');
  });
});

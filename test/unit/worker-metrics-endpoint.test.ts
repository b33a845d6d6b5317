/**
 * The worker's own /metrics endpoint honours SLIPWAY_METRICS_TOKEN as the
 * API's does (bearer token, 401 otherwise, /healthz left open), and listens
 * on loopback unless SLIPWAY_WORKER_HTTP_HOST says otherwise. A real HTTP
 * server on a free 127.0.0.1 port; no Temporal needed.
 */
import assert from 'node:assert/strict';
import type http from 'node:http';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import pino from 'pino';
import { loadConfig } from '../../config';
import { SlipwayMetrics } from '../../observability/metrics';
import { startHealthServer, workerSettingsFromEnv } from '../../workers/main';

const TOKEN = 'worker-scrape-token-0123456789';

async function serve(metricsToken: string | undefined): Promise<{ server: http.Server; base: string }> {
  const metrics = new SlipwayMetrics();
  metrics.releases.inc({ status: 'succeeded' });
  const server = await startHealthServer({
    host: '127.0.0.1',
    port: 0,
    ...(metricsToken === undefined ? {} : { metricsToken }),
    worker: () => undefined,
    metrics,
    // Nothing listens on port 9 of loopback: only Slipway's own metrics are served.
    runtimeMetricsUrl: 'http://127.0.0.1:9/metrics',
    logger: pino({ level: 'silent' }),
  });
  const address = server.address();
  return { server, base: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}` };
}

const close = (server: http.Server) => new Promise<void>((resolve) => server.close(() => resolve()));
const scrape = (base: string, authorization?: string) => fetch(`${base}/metrics`, { headers: authorization === undefined ? {} : { authorization } });

describe('worker metrics endpoint', () => {
  let guarded: { server: http.Server; base: string };
  before(async () => {
    guarded = await serve(loadConfig({ SLIPWAY_METRICS_TOKEN: TOKEN }).apiEdge.metricsToken);
  });
  after(async () => {
    await close(guarded.server);
  });

  it('answers /metrics with 401 naming SLIPWAY_METRICS_TOKEN without the token, and serves it with the token', async () => {
    const missing = await scrape(guarded.base);
    assert.equal(missing.status, 401);
    assert.equal(missing.headers.get('www-authenticate'), 'Bearer');
    const body = await missing.text();
    assert.match(body, /SLIPWAY_METRICS_TOKEN/);
    assert.doesNotMatch(body, /slipway_releases_finished_total/);
    const ok = await scrape(guarded.base, `Bearer ${TOKEN}`);
    assert.equal(ok.status, 200);
    assert.match(await ok.text(), /slipway_releases_finished_total\{status="succeeded"\} 1/);
  });

  it('refuses every other Authorization header, including the token in another scheme or with a suffix', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 64 }).filter((s) => s.trim() !== TOKEN).map((s) => `Bearer ${s}`),
          fc.constantFrom(`Basic ${TOKEN}`, `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, TOKEN, `Bearer ${TOKEN} extra`),
        ),
        async (header) => {
          // fetch refuses some header values itself; only those it sends reach the server.
          let res: Response;
          try {
            res = await scrape(guarded.base, header);
          } catch {
            return;
          }
          assert.equal(res.status, 401, `header ${JSON.stringify(header)}`);
          await res.arrayBuffer();
        },
      ),
      { numRuns: 60 },
    );
  });

  it('leaves /healthz open, so liveness probes need no secret', async () => {
    const res = await fetch(`${guarded.base}/healthz`);
    // No worker has started in this test: the probe answers, with 503 and the state.
    assert.equal(res.status, 503);
    assert.equal(((await res.json()) as { worker: string }).worker, 'INITIALIZED');
  });

  it('serves /metrics to anyone when SLIPWAY_METRICS_TOKEN is unset', async () => {
    const open = await serve(loadConfig({}).apiEdge.metricsToken);
    try {
      const res = await scrape(open.base);
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    } finally {
      await close(open.server);
    }
  });

  it('listens on 127.0.0.1 unless SLIPWAY_WORKER_HTTP_HOST names another address', () => {
    assert.equal(workerSettingsFromEnv({}).httpHost, '127.0.0.1');
    assert.equal(workerSettingsFromEnv({ SLIPWAY_WORKER_HTTP_HOST: '0.0.0.0' }).httpHost, '0.0.0.0');
  });
});

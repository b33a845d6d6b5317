/**
 * The production worker process (what the `slipway-worker` container runs):
 * one Slipway worker on SLIPWAY_TASK_QUEUE until SIGTERM or SIGINT, then a
 * clean drain and exit. Run it with `node --import tsx workers/main.ts`.
 *
 * Besides what config/index.ts reads, this entry point reads:
 *   SLIPWAY_WORKER_HTTP_PORT       9464; `/healthz` and `/metrics` (0 turns the endpoint off)
 *   SLIPWAY_WORKER_HTTP_HOST       127.0.0.1; set 0.0.0.0 (as docker-compose.yml does) for a scraper on another host
 *   SLIPWAY_METRICS_TOKEN          (config/index.ts) when set, `/metrics` needs it as a bearer token, as the API's does
 *   SLIPWAY_RUNTIME_METRICS_ADDRESS  127.0.0.1:9465; where Temporal Core serves its metrics,
 *                                  re-served on `/metrics` so one scrape gets both
 *   SLIPWAY_MAX_CONCURRENT_WORKFLOW_TASKS, SLIPWAY_MAX_CACHED_WORKFLOWS,
 *   SLIPWAY_MAX_CONCURRENT_ACTIVITIES   worker tuning (SDK defaults when unset)
 *   SLIPWAY_LOG_LEVEL              info; JSON logs on stdout
 *   OTEL_TRACES_EXPORTER=otlp and OTEL_EXPORTER_OTLP_*   tracing (observability/tracing.ts)
 */
import http from 'node:http';
import type { Worker } from '@temporalio/worker';
import type { Logger } from 'pino';
import { loadConfig } from '../config';
import { describeTemporal, loadTemporalSettings } from '../config/temporal';
import { createLogger, temporalLogger } from '../observability/logger';
import { bearerTokenMatches } from '../lib/constant-time';
import { SlipwayMetrics } from '../observability/metrics';
import { tracingFromEnv } from '../observability/tracing';
import { connectRegistryDb } from '../registry/db';
import { installRuntime } from './runtime';
import { Signer } from '../lib/signing';
import { createSlipwayWorker, type SlipwayWorkerOptions } from './worker';
import { parseTrustedKeys } from '../lib/signing';

/** WorkerProcessSettings are the worker-process knobs read from the environment. */
export interface WorkerProcessSettings {
  httpPort: number;
  httpHost: string;
  runtimeMetricsAddress: string;
  logLevel: string;
  tuning: NonNullable<SlipwayWorkerOptions['tuning']>;
}

/** workerSettingsFromEnv reads and validates the worker-process variables, naming the bad one. */
export function workerSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): WorkerProcessSettings {
  const tuning: WorkerProcessSettings['tuning'] = {};
  const maxWorkflowTasks = positiveInt(env, 'SLIPWAY_MAX_CONCURRENT_WORKFLOW_TASKS');
  const maxCached = positiveInt(env, 'SLIPWAY_MAX_CACHED_WORKFLOWS', 0);
  const maxActivities = positiveInt(env, 'SLIPWAY_MAX_CONCURRENT_ACTIVITIES');
  if (maxWorkflowTasks !== undefined) tuning.maxConcurrentWorkflowTaskExecutions = maxWorkflowTasks;
  if (maxCached !== undefined) tuning.maxCachedWorkflows = maxCached;
  if (maxActivities !== undefined) tuning.maxConcurrentActivityTaskExecutions = maxActivities;
  const httpPort = positiveInt(env, 'SLIPWAY_WORKER_HTTP_PORT', 0) ?? 9464;
  if (httpPort > 65535) throw new Error(`SLIPWAY_WORKER_HTTP_PORT must be a port number (0-65535), got "${env.SLIPWAY_WORKER_HTTP_PORT}"`);
  return {
    httpPort,
    // Loopback unless configured: the metrics say which models are released where.
    httpHost: env.SLIPWAY_WORKER_HTTP_HOST || '127.0.0.1',
    runtimeMetricsAddress: env.SLIPWAY_RUNTIME_METRICS_ADDRESS || '127.0.0.1:9465',
    logLevel: env.SLIPWAY_LOG_LEVEL || 'info',
    tuning,
  };
}

function positiveInt(env: NodeJS.ProcessEnv, name: string, min = 1): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be an integer >= ${min}, got "${raw}"`);
  return value;
}

/** startHealthServer serves /healthz (200 while the worker runs) and /metrics (Slipway's and Temporal Core's; only to `metricsToken` as a bearer token when it is set). */
export function startHealthServer(options: {
  host: string;
  port: number;
  /** SLIPWAY_METRICS_TOKEN; /healthz stays open so liveness probes need no secret. */
  metricsToken?: string;
  worker: () => Worker | undefined;
  metrics: SlipwayMetrics;
  runtimeMetricsUrl: string;
  logger: Logger;
}): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz') {
      const state = options.worker()?.getState() ?? 'INITIALIZED';
      const ok = state === 'RUNNING';
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: ok ? 'ok' : 'unavailable', worker: state }));
      return;
    }
    if (path === '/metrics') {
      if (options.metricsToken !== undefined && !bearerTokenMatches(req.headers.authorization, options.metricsToken)) {
        res
          .writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer' })
          .end(JSON.stringify({ error: { code: 'unauthorized', message: 'GET /metrics needs "Authorization: Bearer <token>" with the token set in SLIPWAY_METRICS_TOKEN' } }));
        return;
      }
      void metricsText(options.metrics, options.runtimeMetricsUrl).then(
        (text) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(text),
        (err: unknown) => {
          options.logger.warn({ err }, 'metrics scrape failed');
          res.writeHead(500).end();
        },
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'not_found', message: `no route ${path}` } }));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

async function metricsText(metrics: SlipwayMetrics, runtimeMetricsUrl: string): Promise<string> {
  const parts = [await metrics.registry.metrics()];
  const res = await fetch(runtimeMetricsUrl, { signal: AbortSignal.timeout(2_000) }).catch(() => undefined);
  if (res?.ok) parts.push(await res.text());
  return parts.join('\n');
}

/** main runs the worker until a signal, then drains it and closes every connection; resolves to the exit code. */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const config = loadConfig(env);
  const temporal = loadTemporalSettings(env);
  const settings = workerSettingsFromEnv(env);
  const logger = createLogger({ level: settings.logLevel });
  installRuntime({ logger: temporalLogger(logger, 'INFO'), metricsAddress: settings.runtimeMetricsAddress });
  const tracing = tracingFromEnv('slipway-worker', env);
  const metrics = new SlipwayMetrics({ processMetrics: true });

  let worker: Worker | undefined;
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting without waiting for the drain');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing in-flight tasks');
    // A worker that is not running yet never starts: startup below checks `stopping`.
    if (worker?.getState() === 'RUNNING') worker.shutdown();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  const registry = await connectRegistryDb(config.mongodbUri, { caFile: config.mongodbCaFile });
  let closeWorker: (() => Promise<void>) | undefined;
  let server: http.Server | undefined;
  let exitCode = 0;
  try {
    const created = await createSlipwayWorker({
      temporalAddress: temporal.address,
      temporalTransport: temporal.transport,
      namespace: temporal.namespace,
      taskQueue: config.taskQueue,
      db: registry.db,
      codecKeys: config.codecKeys,
      trustedKeys: parseTrustedKeys(config.apiPublicKeys),
      pluginSettings: config.pluginSettings,
      secretEnv: config.secretEnv,
      publicUrl: config.publicUrl,
      tracing,
      metrics,
      tuning: settings.tuning,
      // The `local` target (supervised ONNX model servers) is for single-machine setups.
      localServingDir: config.localServingDir,
      auditSigner: config.auditSigningKeyFile ? Signer.fromPemFile(config.auditSigningKeyFile, 'SLIPWAY_AUDIT_SIGNING_KEY') : undefined,
      lineRecheckMs: config.lineRecheckMs,
    });
    worker = created.worker;
    closeWorker = created.close;
    if (settings.httpPort > 0) {
      server = await startHealthServer({
        host: settings.httpHost,
        port: settings.httpPort,
        metricsToken: config.apiEdge.metricsToken,
        worker: () => worker,
        metrics,
        runtimeMetricsUrl: `http://${settings.runtimeMetricsAddress}/metrics`,
        logger,
      });
    }
    if (!stopping) {
      logger.info(
        {
          ...describeTemporal(temporal),
          taskQueue: config.taskQueue,
          encrypted: Boolean(config.codecKeys),
          tracing: Boolean(tracing),
          http: settings.httpPort > 0 ? `${settings.httpHost}:${settings.httpPort}` : 'off',
          ...settings.tuning,
        },
        'worker running',
      );
      await worker.run();
    }
    logger.info('worker stopped');
  } catch (err) {
    logger.error({ err }, 'worker failed');
    exitCode = 1;
  } finally {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await Promise.allSettled([closeWorker?.(), registry.close(), tracing?.shutdown()]);
    logger.flush();
  }
  return exitCode;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`slipway worker: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}

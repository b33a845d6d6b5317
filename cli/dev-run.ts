/**
 * The embedded stack behind `slipway dev`: Temporal dev server with its Web
 * UI, the registry database, a worker and the HTTP API, until Ctrl-C.
 */
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { createAuthenticator, ensureDevSigningKey, ensureDevTokens } from '../api/bootstrap';
import { parseTrustedKeys } from '../lib/signing';
import { buildApi } from '../api/server';
import { ReleaseService } from '../client/releases';
import { runDemo } from '../demo/run-demo';
import { codecFromKeys, dataConverterFor } from '../codec';
import { loadConfig } from '../config';
import { devTemporalSettings } from '../config/temporal';
import { startStack } from '../devstack/stack';
import { freePort, isPortFree } from '../devstack/processes';
import pino from 'pino';
import { createLogger, temporalLogger } from '../observability/logger';
import { SlipwayMetrics } from '../observability/metrics';
import { clientTracingInterceptors, tracingFromEnv } from '../observability/tracing';
import { installRuntime } from '../workers/runtime';
import { connectRegistryDb, redactUri } from '../registry/db';
import { createSlipwayWorker } from '../workers/worker';
import { stackCheckWorkflow } from '../workflows';
import { ExitCode } from './exit-codes';
import { printErr } from './terminal';

/** runDev starts everything, prints the URLs, and stops it all on SIGINT/SIGTERM. */
export async function runDev(opts: { temporalPort: string; uiPort: string; mongoPort: string; apiPort?: string; dataDir: string; demo?: boolean }): Promise<void> {
  const config = loadConfig();
  const ports = {
    temporal: parsePort('--temporal-port', opts.temporalPort),
    ui: parsePort('--ui-port', opts.uiPort),
    mongo: parsePort('--mongo-port', opts.mongoPort),
    api: opts.apiPort === undefined ? config.apiPort : parsePort('--api-port', opts.apiPort),
  };
  const wanted: [string, number][] = [['--temporal-port', ports.temporal], ['--ui-port', ports.ui], ['--api-port', ports.api]];
  if (!config.mongodbUriGiven) wanted.push(['--mongo-port', ports.mongo]);
  for (const [flag, port] of wanted) {
    if (!(await isPortFree(port))) {
      process.stderr.write(`slipway dev: port ${port} (${flag}) is taken — is another stack running? Stop it or pass ${flag} <free port>.\n`);
      process.exit(ExitCode.badInput);
    }
  }

  const started = Date.now();
  // Logs are JSON on stderr (SLIPWAY_LOG_LEVEL, default warn), so stdout keeps the URLs readable.
  const logger = createLogger({ level: process.env.SLIPWAY_LOG_LEVEL ?? 'warn', destination: pino.destination(2) });
  const runtimeMetricsPort = await freePort();
  installRuntime({ logger: temporalLogger(logger, 'WARN'), metricsAddress: `127.0.0.1:${runtimeMetricsPort}` });
  const tracing = tracingFromEnv('slipway-dev');
  const metrics = new SlipwayMetrics({ processMetrics: true });
  process.stdout.write('slipway dev: starting Temporal dev server and registry database…\n');
  const stack = await startStack({
    dataDir: path.resolve(opts.dataDir),
    temporalPort: ports.temporal,
    uiPort: ports.ui,
    mongoPort: ports.mongo,
    mongodbUri: config.mongodbUriGiven ? config.mongodbUri : undefined,
    uiCodecEndpoint: config.codecKeys ? `http://127.0.0.1:${ports.api}/codec` : undefined,
  });
  // The server just started, plain loopback: a user's TEMPORAL_* TLS settings or temporal.toml profile are not for it.
  const temporal = devTemporalSettings(stack.temporalAddress);
  const registry = await connectRegistryDb(stack.mongodbUri, { caFile: config.mongodbUriGiven ? config.mongodbCaFile : undefined });
  const signer = ensureDevSigningKey(path.resolve(opts.dataDir), config.apiSigningKeyFile);
  const { worker, close: closeWorker, supervisor } = await createSlipwayWorker({
    temporalAddress: stack.temporalAddress,
    namespace: temporal.namespace,
    taskQueue: config.taskQueue,
    db: registry.db,
    codecKeys: config.codecKeys,
    // The in-process API's key, and any others this stack is told to trust.
    trustedKeys: { ...parseTrustedKeys(config.apiPublicKeys), ...signer.trusted() },
    // One key in dev: the worker's audit checkpoints are signed with it too.
    auditSigner: signer,
    pluginSettings: config.pluginSettings,
    secretEnv: config.secretEnv,
    publicUrl: config.publicUrl,
    tracing,
    metrics,
    localServingDir: path.join(path.resolve(opts.dataDir), 'local-serving'),
  });
  const workerRun = worker.run();
  const clientConnection = await Connection.connect({ address: stack.temporalAddress });
  const client = new Client({
    connection: clientConnection,
    namespace: temporal.namespace,
    dataConverter: dataConverterFor(config.codecKeys, temporal.namespace),
    ...(tracing ? { interceptors: clientTracingInterceptors() } : {}),
  });
  const codec = codecFromKeys(config.codecKeys, temporal.namespace);
  const devTokens = config.apiTokensFile ? undefined : ensureDevTokens(path.resolve(opts.dataDir), config.user);
  // One service for the API and the demo; the demo starts in direct mode, the API takes its verified copy (buildApi), which never binds.
  const releases = new ReleaseService({ temporal: client, db: registry.db, taskQueue: config.taskQueue, pipelinesDir: config.pipelinesDir, bootstrapFromFolder: true, signer, secretEnvAllow: config.secretEnvAllow, publicUrl: config.publicUrl });
  const api = await buildApi({
    db: registry.db,
    releases,
    signer,
    secretEnvAllow: config.secretEnvAllow,
    temporal: client,
    auth: createAuthenticator(config, devTokens?.file),
    metrics,
    requestsPerMinute: config.apiEdge.requestsPerMinute,
    metricsToken: config.apiEdge.metricsToken,
    runtimeMetricsUrl: `http://127.0.0.1:${runtimeMetricsPort}/metrics`,
    logger,
    // The local Web UI sends no token; in dev, loopback callers may decode.
    codec: codec ? { codec, uiOrigins: [`http://127.0.0.1:${ports.ui}`, `http://localhost:${ports.ui}`], anonymousFromLoopback: true } : undefined,
    board: { temporalUiUrl: config.temporalUiUrl ?? stack.uiUrl, namespace: temporal.namespace },
  });
  await api.listen({ host: '127.0.0.1', port: ports.api });

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\nslipway dev: ${signal} — stopping worker, API, Temporal and the registry database…\n`);
    worker.shutdown();
    await workerRun.catch(() => undefined);
    await Promise.allSettled([api.close(), closeWorker(), clientConnection.close()]);
    await registry.close();
    await stack.stop();
    await tracing?.shutdown();
    process.stdout.write('slipway dev: stopped.\n');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  // Prove the round trip (workflow → activity → registry DB) before saying "ready".
  const check = await client.workflow.execute(stackCheckWorkflow, {
    taskQueue: config.taskQueue,
    workflowId: `stack-check-${randomUUID()}`,
    args: [`dev-${Date.now()}`],
  });

  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  process.stdout.write(
    [
      `slipway dev: ready in ${seconds}s (stack check ${check.readBack ? 'passed' : 'FAILED'})`,
      `  Temporal gRPC    ${stack.temporalAddress}   (TEMPORAL_ADDRESS)`,
      `  Temporal Web UI  ${stack.uiUrl}`,
      `  Registry DB      ${redactUri(stack.mongodbUri)}   (${stack.registryBackend}; SLIPWAY_MONGODB_URI)`,
      `  Release board    http://127.0.0.1:${ports.api}/   (log in with the API token below)`,
      `  HTTP API         http://127.0.0.1:${ports.api}   (OpenAPI at /openapi.json, Prometheus at /metrics)`,
      devTokens ? `  API token        ${devTokens.token}   (admin, local only; in ${devTokens.file})` : `  API tokens       ${config.apiTokensFile}`,
      `  Worker           task queue "${config.taskQueue}"${codec ? ', payloads encrypted (AES-256-GCM), Web UI decodes via /codec' : ''}`,
      `  Data             ${path.resolve(opts.dataDir)}`,
      `Press Ctrl-C to stop everything.${opts.demo === false ? '' : ' (The demo runs now; start with --no-demo to skip it.)'}`,
      '',
    ].join('\n'),
  );
  if (opts.demo !== false && supervisor) {
    runDemo({ service: releases, supervisor, workDir: path.resolve(opts.dataDir) }).catch((err: unknown) => {
      if (!stopping) printErr(`slipway dev: the demo stopped: ${err instanceof Error ? err.message : String(err)}`);
    });
  }
}

function parsePort(flag: string, value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    process.stderr.write(`slipway dev: ${flag} must be a port number 1-65535, got "${value}"\n`);
    process.exit(ExitCode.badInput);
  }
  return port;
}

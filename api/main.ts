/**
 * The production HTTP API process (what the `slipway-api` container runs):
 * the API alone, talking to Temporal as a client and to the registry, until
 * SIGTERM or SIGINT, then a graceful close. Run it with
 * `node --import tsx api/main.ts`.
 *
 * Besides what config/index.ts reads (SLIPWAY_API_PORT, SLIPWAY_API_TOKENS,
 * SLIPWAY_OIDC_*, SLIPWAY_CODEC_KEYS, SLIPWAY_UI_ORIGINS, …), this entry
 * point reads SLIPWAY_API_HOST (0.0.0.0), SLIPWAY_LOG_LEVEL (info; JSON logs
 * on stdout) and the OpenTelemetry variables (observability/tracing.ts).
 */
import { Client, Connection } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { ReleaseService } from '../client/releases';
import { codecFromKeys, dataConverterFor } from '../codec';
import { loadConfig } from '../config';
import { describeTemporal, explainConnectFailure, loadTemporalSettings } from '../config/temporal';
import { createLogger } from '../observability/logger';
import { SlipwayMetrics } from '../observability/metrics';
import { clientTracingInterceptors, tracingFromEnv } from '../observability/tracing';
import { connectRegistryDb } from '../registry/db';
import { configuredKeys } from '../lib/keys';
import { createAuthenticator } from './bootstrap';
import { buildApi } from './server';

/** main serves the API until a signal, then stops accepting, finishes in-flight requests and closes; resolves to the exit code. */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const config = loadConfig(env);
  const temporal = loadTemporalSettings(env);
  const host = env.SLIPWAY_API_HOST || '0.0.0.0';
  const logger = createLogger({ level: env.SLIPWAY_LOG_LEVEL || 'info' });
  const tracing = tracingFromEnv('slipway-api', env);
  const metrics = new SlipwayMetrics({ processMetrics: true });
  // Fail at start, not at the first request, when the tokens file or OIDC settings are wrong.
  const auth = createAuthenticator(config);
  if (!config.apiTokensFile && !config.oidc) {
    logger.warn('neither SLIPWAY_API_TOKENS nor SLIPWAY_OIDC_* is set: every route but /healthz, /metrics and /openapi.json will answer 401');
  }
  const codec = codecFromKeys(config.codecKeys, temporal.namespace);
  const keys = configuredKeys(config);
  // Fail closed: an API that cannot sign would forward every approval as an unverified claim.
  if (!keys.api) throw new Error('SLIPWAY_API_SIGNING_KEY is not set: the API signs every decision it forwards; make a key with `slipway keys generate api-key.pem`, point SLIPWAY_API_SIGNING_KEY at it, and give workers its public half in SLIPWAY_API_PUBLIC_KEYS (`slipway keys public api-key.pem`)');
  const signer = keys.api;

  let stopping = false;
  let stop: (() => void) | undefined;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting without waiting for in-flight requests');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    stop?.();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  const registry = await connectRegistryDb(config.mongodbUri, { caFile: config.mongodbCaFile });
  let connection: Connection | undefined;
  let api: FastifyInstance | undefined;
  let exitCode = 0;
  try {
    connection = await Connection.connect({ address: temporal.address, ...temporal.transport }).catch(async (err: unknown) => {
      throw new Error(`cannot connect to Temporal at ${temporal.address} (${temporal.source}): ${await explainConnectFailure(temporal.address, temporal.transport, err)}`, { cause: err });
    });
    const client = new Client({
      connection,
      namespace: temporal.namespace,
      dataConverter: dataConverterFor(config.codecKeys, temporal.namespace),
      ...(tracing ? { interceptors: clientTracingInterceptors() } : {}),
    });
    api = await buildApi({
      db: registry.db,
      releases: new ReleaseService({ temporal: client, db: registry.db, taskQueue: config.taskQueue, pipelinesDir: config.pipelinesDir, bootstrapFromFolder: false, signer, secretEnvAllow: config.secretEnvAllow, publicUrl: config.publicUrl }),
      temporal: client,
      auth,
      metrics,
      logger,
      requestsPerMinute: config.apiEdge.requestsPerMinute,
      metricsToken: config.apiEdge.metricsToken,
      signer,
      trustedKeys: keys.trusted,
      secretEnvAllow: config.secretEnvAllow,
      // The Web UI decodes from the browser: only its origins, and only callers with a viewer token.
      codec: codec ? { codec, uiOrigins: config.uiOrigins } : undefined,
      board: { temporalUiUrl: config.temporalUiUrl, namespace: temporal.namespace, ...(config.oidc?.clientId ? { login: { issuer: config.oidc.issuer, clientId: config.oidc.clientId } } : {}) },
    });
    if (!stopping) {
      await api.listen({ host, port: config.apiPort });
      logger.info(
        {
          address: `${host}:${config.apiPort}`,
          ...describeTemporal(temporal),
          taskQueue: config.taskQueue,
          codecEndpoint: codec ? '/codec' : 'off',
          tracing: Boolean(tracing),
        },
        'API listening',
      );
      await stopped;
    }
  } catch (err) {
    logger.error({ err }, 'API failed');
    exitCode = 1;
  } finally {
    // close() stops accepting connections and waits for in-flight requests.
    await api?.close().catch((err: unknown) => logger.warn({ err }, 'closing the HTTP server failed'));
    await Promise.allSettled([connection?.close(), registry.close(), tracing?.shutdown()]);
    logger.info('API stopped');
    logger.flush();
  }
  return exitCode;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`slipway api: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}

/**
 * Worker wiring: one task queue serving every Slipway workflow and activity.
 */
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { Db } from 'mongodb';
import { createActivities, type ActivityDeps, type PolicySource } from '../activities';
import { explainConnectFailure, type TemporalTransport } from '../config/temporal';
import type { TrustedKeys } from '../domain/decisions';
import { dataConverterFor } from '../codec';
import type { SlipwayMetrics } from '../observability/metrics';
import { clientTracingInterceptors, workerTracingOptions, type Tracing } from '../observability/tracing';
import { PolicyStore } from '../registry/policy';
import { createSandbox, type Sandbox } from '../lib/sandbox';
import { Registry } from '../registry/registry';
import { ReleaseStore } from '../registry/releases';
import { SubscriptionStore } from '../registry/subscriptions';
import { installRuntime } from './runtime';
import { buildHealthSources } from '../health';
import type { PluginContext, PluginSettings } from '../lib/plugins';
import { LocalServingSupervisor } from '../serving/supervisor';
import { buildTargets } from '../targets';

/** SlipwayWorkerOptions say where the worker connects and what it hands activities. */
export interface SlipwayWorkerOptions {
  temporalAddress: string;
  /** TLS, mTLS and API key for both connections (config/temporal.ts); none for the local dev server. */
  temporalTransport?: TemporalTransport;
  namespace: string;
  taskQueue: string;
  db: Db;
  /** Extra or replacement deploy targets, health sources or gates (tests pass fakes or slow ones here). */
  extensions?: Pick<ActivityDeps, 'targets' | 'healthSources' | 'gates'>;
  /** Pre-built workflow bundle, so several workers in one process bundle once. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** SLIPWAY_CODEC_KEYS: payloads are AES-256-GCM encrypted when set. */
  codecKeys?: string;
  /** OpenTelemetry tracing (observability/tracing.ts); off when absent. */
  tracing?: Tracing;
  /** Prometheus instruments the activities update. */
  metrics?: SlipwayMetrics;
  /**
   * Folder for local model servers: when set, the `local` deploy target and
   * health source serve ONNX models in supervised processes (dev, demo, tests).
   */
  localServingDir?: string;
  /** The SLIPWAY_* settings (config's pluginSettings) each target and health-source factory reads its own from; none when absent. */
  pluginSettings?: PluginSettings;
  /** The API's public keys: only decisions they verify count as verified identities. */
  trustedKeys?: TrustedKeys;
  /** The values of the variables SLIPWAY_SECRET_ENV_ALLOW lets pipelines read (config's secretEnv); none when absent. */
  secretEnv?: Readonly<Record<string, string>>;
  /** What pipelines may reach (lib/sandbox.ts); default: built from pluginSettings and secretEnv. */
  sandbox?: Sandbox;
  /** Where each model's bound pipeline is read (default: the registry's policy store). */
  policy?: PolicySource;
  /** Signs audit checkpoints after each append (SLIPWAY_AUDIT_SIGNING_KEY); none when absent. */
  auditSigner?: ActivityDeps['auditSigner'];
  /** How often a release held by a stopped line asks again (SLIPWAY_LINE_RECHECK_INTERVAL). */
  lineRecheckMs?: number;
  /** SLIPWAY_PUBLIC_URL (config's publicUrl): the base of links into the release board in events. */
  publicUrl?: string;
  /** Worker tuning (cache size, concurrency) for benchmarks. */
  tuning?: Pick<WorkerOptions, 'maxCachedWorkflows' | 'maxConcurrentWorkflowTaskExecutions' | 'maxConcurrentActivityTaskExecutions'>;
}

/** RunningParts are what the caller closes after the worker stops. */
export interface SlipwayWorker {
  worker: Worker;
  /** The local model servers' supervisor, when localServingDir was given (the demo sends traffic through it). */
  supervisor?: LocalServingSupervisor;
  close(): Promise<void>;
}

/** createSlipwayWorker connects to Temporal, ensures registry indexes, and builds (but does not run) the worker. */
export async function createSlipwayWorker(options: SlipwayWorkerOptions): Promise<SlipwayWorker> {
  installRuntime();
  await Promise.all([new Registry(options.db).ensureIndexes(), new ReleaseStore(options.db).ensureIndexes(), new SubscriptionStore(options.db).ensureIndexes()]);
  // Before connecting: a bad SLIPWAY_SECRET_ENV_ALLOW, SLIPWAY_FILE_ROOTS or SLIPWAY_OUTBOUND_* stops the worker here, naming it.
  const sandbox = options.sandbox ?? createSandbox({ settings: options.pluginSettings ?? {}, secrets: options.secretEnv });
  const connectFailed = async (err: unknown): Promise<never> => {
    throw new Error(`cannot connect to Temporal at ${options.temporalAddress}: ${await explainConnectFailure(options.temporalAddress, options.temporalTransport ?? {}, err)}`, { cause: err });
  };
  const connection = await NativeConnection.connect({ address: options.temporalAddress, ...options.temporalTransport }).catch(connectFailed);
  const clientConnection = await Connection.connect({ address: options.temporalAddress, ...options.temporalTransport }).catch(async (err: unknown) => {
    await connection.close();
    return connectFailed(err);
  });
  const supervisor = options.localServingDir ? new LocalServingSupervisor({ runDir: options.localServingDir }) : undefined;
  const close = async () => {
    await Promise.allSettled([connection.close(), clientConnection.close(), supervisor?.stopAll()]);
  };
  try {
    const plugins: PluginContext = {
      // Targets move live pointers through this registry: its audit appends are checkpointed too.
      registry: new Registry(options.db, undefined, { auditSigner: options.auditSigner }),
      releases: new ReleaseStore(options.db),
      serving: supervisor,
      settings: options.pluginSettings ?? {},
    };
    const dataConverter = dataConverterFor(options.codecKeys, options.namespace);
    const temporal = new Client({
      connection: clientConnection,
      namespace: options.namespace,
      dataConverter,
      ...(options.tracing ? { interceptors: clientTracingInterceptors() } : {}),
    });
    const worker = await Worker.create({
      connection,
      namespace: options.namespace,
      taskQueue: options.taskQueue,
      ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath: require.resolve('../workflows') }),
      activities: createActivities({
        db: options.db,
        temporal,
        taskQueue: options.taskQueue,
        metrics: options.metrics,
        trustedKeys: options.trustedKeys ?? {},
        policy: options.policy ?? new PolicyStore(options.db),
        auditSigner: options.auditSigner,
        lineRecheckMs: options.lineRecheckMs,
        sandbox,
        settings: options.pluginSettings ?? {},
        ...(options.publicUrl ? { publicUrl: options.publicUrl } : {}),
        ...options.extensions,
        // Every registered target and health source this worker is configured for, then the caller's, which win by name.
        targets: [...buildTargets(plugins), ...(options.extensions?.targets ?? [])],
        healthSources: [...buildHealthSources(plugins), ...(options.extensions?.healthSources ?? [])],
      }),
      ...(dataConverter ? { dataConverter } : {}),
      ...(options.tracing ? workerTracingOptions(options.tracing) : {}),
      ...options.tuning,
    });
    return { worker, close, supervisor };
  } catch (err) {
    await close();
    throw err;
  }
}

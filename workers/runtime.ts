/**
 * The Temporal Core runtime, installed once per process before anything calls
 * Runtime.instance() (workers, test environments).
 */
import { Runtime, DefaultLogger, type LogLevel, type Logger } from '@temporalio/worker';

let installed = false;

/** RuntimeSettings choose where Temporal's logs and Core metrics go. */
export interface RuntimeSettings {
  logLevel?: LogLevel;
  /** A logger (e.g. pino via observability/logger.ts); default prints to stderr. */
  logger?: Logger;
  /** host:port where Core serves its Prometheus metrics (Temporal runtime metrics). */
  metricsAddress?: string;
}

/** installRuntime configures the Core runtime once; later calls are no-ops. */
export function installRuntime(settings: RuntimeSettings = {}): void {
  if (installed) return;
  Runtime.install({
    logger: settings.logger ?? new DefaultLogger(settings.logLevel ?? 'WARN'),
    ...(settings.metricsAddress ? { telemetryOptions: { metrics: { prometheus: { bindAddress: settings.metricsAddress } } } } : {}),
    // The v1.5.1 dev server (Temporal 1.29) predates worker heartbeats.
    workerHeartbeatInterval: 0,
    // Entry points decide how to shut down; the runtime must not race them.
    shutdownSignals: [],
  });
  installed = true;
}

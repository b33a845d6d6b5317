/**
 * The Temporal Core runtime, installed once per process before anything calls
 * Runtime.instance() (workers, test environments).
 */
import { Runtime, DefaultLogger, type LogLevel } from '@temporalio/worker';

let installed = false;

/** installRuntime configures the Core runtime once; later calls are no-ops. */
export function installRuntime(logLevel: LogLevel = 'WARN'): void {
  if (installed) return;
  Runtime.install({
    logger: new DefaultLogger(logLevel),
    // The v1.5.1 dev server (Temporal 1.29) predates worker heartbeats.
    workerHeartbeatInterval: 0,
    // Entry points decide how to shut down; the runtime must not race them.
    shutdownSignals: [],
  });
  installed = true;
}

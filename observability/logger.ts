/**
 * Structured JSON logs (pino) for workers and the API. Every line from
 * workflow and activity code carries the workflow id (= release id for
 * releases) and, when tracing is on, the trace id.
 */
import { trace } from '@opentelemetry/api';
import type { LogLevel, LogMetadata } from '@temporalio/common';
import { DefaultLogger, type LogEntry } from '@temporalio/worker';
import pino, { type DestinationStream, type Logger } from 'pino';

/** createLogger makes the process logger; tests pass a destination to capture lines. */
export function createLogger(options: { level?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    { level: options.level ?? 'info', base: { service: 'slipway', pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    options.destination,
  );
}

const LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/** ids picks the Slipway ids out of Temporal's log metadata and the active span. */
export function logIds(meta: LogMetadata | undefined): Record<string, string> {
  const ids: Record<string, string> = {};
  const workflowId = typeof meta?.workflowId === 'string' ? meta.workflowId : undefined;
  if (workflowId) {
    ids.workflowId = workflowId;
    if (workflowId.startsWith('release-') || workflowId.startsWith('rollback-')) ids.releaseId = workflowId;
  }
  // Temporal's OpenTelemetry interceptors put trace_id in activity log attributes.
  if (typeof meta?.trace_id === 'string') ids.traceId = meta.trace_id;
  const span = trace.getActiveSpan()?.spanContext();
  if (!ids.traceId && span && span.traceId !== '00000000000000000000000000000000') ids.traceId = span.traceId;
  return ids;
}

/** temporalLogger routes the Temporal runtime's logs (workflow, activity, worker) into pino. */
export function temporalLogger(logger: Logger, level: LogLevel = 'INFO'): DefaultLogger {
  return new DefaultLogger(level, (entry: LogEntry) => {
    const { meta } = entry;
    logger[LEVELS[entry.level]]({ ...meta, ...logIds(meta) }, entry.message);
  });
}

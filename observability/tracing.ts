/**
 * OpenTelemetry tracing, off by default: OTEL_TRACES_EXPORTER=otlp turns it on
 * and the standard OTEL_EXPORTER_OTLP_* variables say where spans go. One
 * trace per release action: the client's span, the workflow's spans and every
 * activity's span, joined by Temporal's OpenTelemetry interceptors.
 */
import { context, trace, type Attributes, type Span } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { ClientInterceptors } from '@temporalio/client';
import {
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  OpenTelemetryWorkflowClientInterceptor,
  makeWorkflowExporter,
} from '@temporalio/interceptors-opentelemetry';
import type { ActivityInboundCallsInterceptor, ActivityExecuteInput, Next, WorkerOptions } from '@temporalio/worker';

/** Tracing is an installed tracer provider and what Temporal's interceptors need. */
export interface Tracing {
  provider: NodeTracerProvider;
  spanProcessor: SpanProcessor;
  resource: Resource;
  shutdown(): Promise<void>;
}

/** tracingFromEnv installs OTLP tracing when OTEL_TRACES_EXPORTER=otlp; otherwise returns undefined. */
export function tracingFromEnv(serviceName: string, env: NodeJS.ProcessEnv = process.env): Tracing | undefined {
  if (env.OTEL_TRACES_EXPORTER !== 'otlp' || env.OTEL_SDK_DISABLED === 'true') return undefined;
  return installTracing(env.OTEL_SERVICE_NAME || serviceName, new BatchSpanProcessor(new OTLPTraceExporter()));
}

/** installTracing registers a global tracer provider exporting through spanProcessor (tests pass an in-memory one). */
export function installTracing(serviceName: string, spanProcessor: SpanProcessor): Tracing {
  const resource = new Resource({ [ATTR_SERVICE_NAME]: serviceName });
  const provider = new NodeTracerProvider({ resource, spanProcessors: [spanProcessor] });
  provider.register();
  return { provider, spanProcessor, resource, shutdown: () => provider.shutdown() };
}

/** workerTracingOptions are the interceptors and sink a traced worker needs. */
export function workerTracingOptions(tracing: Tracing): Pick<WorkerOptions, 'interceptors' | 'sinks'> {
  return {
    sinks: { exporter: makeWorkflowExporter(tracing.spanProcessor, tracing.resource) },
    interceptors: {
      workflowModules: [require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors')],
      activity: [
        (ctx) => ({
          inbound: new OpenTelemetryActivityInboundInterceptor(ctx),
          outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
        }),
        () => ({ inbound: new SlipwayAttributesInterceptor() }),
      ],
    },
  };
}

/** clientTracingInterceptors propagate the caller's trace into the workflows it starts and signals. */
export function clientTracingInterceptors(): ClientInterceptors {
  return { workflow: [new OpenTelemetryWorkflowClientInterceptor()] };
}

/** SLIPWAY_ATTRIBUTES maps activity input fields to span attribute names. */
const SLIPWAY_ATTRIBUTES: Record<string, string> = {
  model: 'slipway.model',
  version: 'slipway.version',
  env: 'slipway.env',
  releaseId: 'slipway.release_id',
};

/** SlipwayAttributesInterceptor tags each activity span with model, version, environment and release id. */
class SlipwayAttributesInterceptor implements ActivityInboundCallsInterceptor {
  async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const span = trace.getActiveSpan();
    const arg = input.args[0];
    if (span && arg && typeof arg === 'object') span.setAttributes(slipwayAttributes(arg as Record<string, unknown>));
    return next(input);
  }
}

/** slipwayAttributes picks the Slipway ids out of an object as span attributes. */
export function slipwayAttributes(source: Record<string, unknown>): Attributes {
  const attributes: Attributes = {};
  for (const [field, name] of Object.entries(SLIPWAY_ATTRIBUTES)) {
    if (typeof source[field] === 'string') attributes[name] = source[field];
  }
  return attributes;
}

/** inSpan runs fn inside a new active span, recording errors, so client actions root their trace. */
export async function inSpan<T>(name: string, attributes: Attributes, fn: (span: Span) => Promise<T>): Promise<T> {
  const tracer = trace.getTracer('slipway');
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await context.with(trace.setSpan(context.active(), span), () => fn(span));
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: 2, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  });
}

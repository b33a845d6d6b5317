import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { Authenticator } from '../../api/auth';
import { buildApi } from '../../api/server';
import { ReleaseService } from '../../client/releases';
import { createLogger, temporalLogger } from '../../observability/logger';
import { SlipwayMetrics } from '../../observability/metrics';
import { installTracing, type Tracing } from '../../observability/tracing';
import { installRuntime } from '../../workers/runtime';
import { registerModel, writePipelines } from '../support/releases';
import { openTestDb, startTestWorker, type TestDb, type TestTemporal } from '../support/stack';

const PIPELINE = `
name: observed
stages:
  - env: dev
    gates:
      - type: metrics
        require: { accuracy: ">= 0.9" }
  - env: staging
`;

describe('traces, metrics and logs of a release', () => {
  const exporter = new InMemorySpanExporter();
  const lines: Record<string, unknown>[] = [];
  let tracing: Tracing;
  let metrics: SlipwayMetrics;
  let t: TestDb;
  let temporal: TestTemporal;
  let service: ReleaseService;

  before(async () => {
    // This file's process owns the runtime: its logs go to the captured pino stream.
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    installRuntime({ logger: temporalLogger(createLogger({ level: 'debug', destination: sink }), 'DEBUG') });
    tracing = installTracing('slipway-test', new SimpleSpanProcessor(exporter));
    metrics = new SlipwayMetrics();
    t = await openTestDb();
    temporal = await startTestWorker(t.db, { tracing, metrics });
    service = new ReleaseService({ temporal: temporal.client, db: t.db, taskQueue: temporal.taskQueue, pipelinesDir: await writePipelines({ observed: PIPELINE }), bootstrapFromFolder: true });
  });
  after(async () => {
    await temporal?.close();
    await t?.close();
    await tracing?.shutdown();
  });

  it('forms one connected trace from the client through the workflow to every activity', async () => {
    const model = await registerModel(service.registry, { '1': { accuracy: 0.95 } });
    const started = await service.start({ model, version: '1', pipeline: 'observed', requestedBy: 'ci' });
    assert.equal((await service.result(started.releaseId)).status, 'succeeded');
    await tracing.provider.forceFlush();

    const spans = exporter.getFinishedSpans();
    const root = spans.find((s) => s.name === 'slipway.release.start' && s.attributes['slipway.model'] === model);
    assert.ok(root, `no client span; got ${spans.map((s) => s.name).join(', ')}`);
    const traceSpans = spans.filter((s) => s.spanContext().traceId === root.spanContext().traceId);
    const byId = new Map(traceSpans.map((s) => [s.spanContext().spanId, s]));
    const names = traceSpans.map((s) => s.name);
    for (const expected of ['StartWorkflow:releaseWorkflow', 'RunWorkflow:releaseWorkflow', 'RunActivity:runGate', 'RunActivity:deploy', 'RunActivity:recordRelease']) {
      assert.ok(names.includes(expected), `trace lacks ${expected}: ${names.join(', ')}`);
    }
    // Connected: every span but the root has its parent in the same trace.
    for (const span of traceSpans) {
      if (span === root) continue;
      assert.ok(byId.has(parentId(span)!), `${span.name} is not connected to the trace`);
    }
    const deploys = traceSpans.filter((s) => s.name === 'RunActivity:deploy');
    assert.deepEqual(deploys.map((s) => s.attributes['slipway.env']).sort(), ['dev', 'staging']);
    for (const d of deploys) {
      assert.equal(d.attributes['slipway.model'], model);
      assert.equal(d.attributes['slipway.version'], '1');
      assert.equal(d.attributes['slipway.release_id'], started.releaseId);
    }
  });

  it('counts the release outcome and gate failures on /metrics in Prometheus text', async () => {
    const model = await registerModel(service.registry, { bad: { accuracy: 0.2 } });
    const started = await service.start({ model, version: 'bad', pipeline: 'observed', requestedBy: 'ci' });
    assert.equal((await service.result(started.releaseId)).status, 'failed');

    const api = await buildApi({ db: t.db, auth: new Authenticator({ tokens: [] }), metrics });
    try {
      const res = await api.inject({ method: 'GET', url: '/metrics' });
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers['content-type']), /text\/plain/);
      const samples = parsePrometheus(res.body);
      assert.equal(samples.get('slipway_releases_finished_total{status="succeeded"}'), 1);
      assert.equal(samples.get('slipway_releases_finished_total{status="failed"}'), 1);
      assert.equal(samples.get('slipway_gate_failures_total{gate_type="metrics"}'), 1);
      assert.equal(samples.get('slipway_deployments_total{env="staging",outcome="succeeded"}'), 1);
    } finally {
      await api.close();
    }
  });

  it('writes JSON log lines that carry the release id and trace id', () => {
    const activityLines = lines.filter((l) => l.msg === 'deployed' && l.releaseId !== undefined);
    assert.ok(activityLines.length > 0, `no activity log line with release and trace ids among ${lines.length} lines`);
    const line = activityLines[0]!;
    assert.match(String(line.releaseId), /^release-/);
    assert.equal(line.workflowId, line.releaseId);
    assert.equal(line.env, 'dev');
    assert.match(String(line.traceId), /^[0-9a-f]{32}$/);
    assert.equal(typeof line.time, 'string');
  });
});

function parentId(span: ReadableSpan): string | undefined {
  const s = span as ReadableSpan & { parentSpanId?: string; parentSpanContext?: { spanId: string } };
  return s.parentSpanContext?.spanId ?? s.parentSpanId;
}

/** parsePrometheus reads exposition text into "name{labels}" → value, failing on any malformed line. */
function parsePrometheus(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.eE+-]+|NaN|\+Inf|-Inf)( \d+)?$/.exec(line);
    assert.ok(m, `not Prometheus text: ${line}`);
    samples.set(`${m[1]}${m[2] ?? ''}`, Number(m[3]));
  }
  return samples;
}

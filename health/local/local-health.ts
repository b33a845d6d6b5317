/**
 * The `local` health source: reads the Prometheus metrics of the (model,
 * environment) model server and judges the deployed version's error rate
 * and p99 latency against the stage's limits, with the stable version's
 * figures beside it as the baseline.
 *
 * The server starts a version's series when it loads it, so the figures
 * cover "since the version was loaded": for canary analysis and bakes that
 * is the deploy, inside the window asked for; when it is earlier than
 * `since` the verdict says so.
 */
import { histogramQuantile, type HistogramBucket } from '../../domain/model-metrics';
import type { LocalServingSupervisor } from '../../serving/supervisor';
import type { HealthSource } from '../types';

/** PromSample is one sample line of the Prometheus text format. */
export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** parsePrometheusText reads the sample lines of a Prometheus text exposition (comments skipped). */
export function parsePrometheusText(text: string): PromSample[] {
  const samples: PromSample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    const labelText = match[3] ?? '';
    const labelPattern = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
    for (let m = labelPattern.exec(labelText); m !== null; m = labelPattern.exec(labelText)) {
      labels[m[1] as string] = (m[2] as string).replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    const valueText = match[4] as string;
    const value = valueText === '+Inf' ? Infinity : valueText === '-Inf' ? -Infinity : Number(valueText);
    samples.push({ name: match[1] as string, labels, value });
  }
  return samples;
}

/** VersionServingStats are one version's figures from a model server's metrics. */
export interface VersionServingStats {
  version: string;
  requests: number;
  errors: number;
  errorRate: number;
  /** Estimated p99 request latency in ms; null without requests. */
  latencyP99Ms: number | null;
  meanPrediction: number | null;
  loadedAt: Date | null;
  slot: 'stable' | 'canary' | null;
}

/** versionStats sums one version's series from parsed samples. */
export function versionStats(samples: PromSample[], version: string): VersionServingStats {
  const of = (name: string) => samples.filter((s) => s.name === name && s.labels.version === version);
  const sum = (name: string) => of(name).reduce((acc, s) => acc + s.value, 0);
  const requests = sum('slipway_model_requests_total');
  const errors = sum('slipway_model_errors_total');
  const buckets: HistogramBucket[] = of('slipway_model_request_duration_seconds_bucket').map((s) => ({
    le: s.labels.le === '+Inf' ? Infinity : Number(s.labels.le),
    count: s.value,
  }));
  const p99 = histogramQuantile(0.99, buckets);
  const predictionCount = sum('slipway_model_prediction_count');
  const loaded = of('slipway_model_loaded_timestamp_seconds')[0];
  const slot = of('slipway_model_serving').find((s) => s.value === 1)?.labels.slot;
  return {
    version,
    requests,
    errors,
    errorRate: requests === 0 ? 0 : errors / requests,
    latencyP99Ms: p99 === null ? null : p99 * 1000,
    meanPrediction: predictionCount === 0 ? null : sum('slipway_model_prediction_sum') / predictionCount,
    loadedAt: loaded ? new Date(loaded.value * 1000) : null,
    slot: slot === 'stable' || slot === 'canary' ? slot : null,
  };
}

/** LocalHealthOptions configure the local health source. */
export interface LocalHealthOptions {
  supervisor: LocalServingSupervisor;
  /** Fewer requests than this to the version is unhealthy (no evidence); 0 judges whatever arrived. */
  minRequests?: number;
}

/** localHealthSource creates the `local` health source over the supervisor's model servers. */
export function localHealthSource(options: LocalHealthOptions): HealthSource {
  const floor = options.minRequests ?? 0;
  return {
    name: 'local',
    async check(q) {
      const server = await options.supervisor.find(q.model, q.env);
      if (!server) return { healthy: false, detail: `no local model server is running for ${q.model} in ${q.env}` };
      const samples = parsePrometheusText(await server.client.metricsText());
      const v = versionStats(samples, q.version);
      if (v.slot === null) return { healthy: false, detail: `${q.version} is not serving in ${q.env} (the server holds ${servingList(samples)})` };
      const problems: string[] = [];
      // The stage's minReports counts requests here, and only ever raises the worker's floor.
      const minRequests = Math.max(floor, q.minReports ?? 0);
      const tooFew = v.requests < minRequests;
      if (tooFew) problems.push(`only ${v.requests} request(s) reached ${q.version}; at least ${minRequests} are needed to judge it`);
      if (q.maxErrorRate !== undefined && v.requests > 0 && v.errorRate > q.maxErrorRate) {
        problems.push(`error rate ${pct(v.errorRate)} > max ${pct(q.maxErrorRate)}`);
      }
      if (q.maxLatencyP99Ms !== undefined && v.latencyP99Ms !== null && v.latencyP99Ms > q.maxLatencyP99Ms) {
        problems.push(`p99 latency ${v.latencyP99Ms.toFixed(1)} ms > max ${q.maxLatencyP99Ms} ms`);
      }
      const stableVersion = samples.find((s) => s.name === 'slipway_model_serving' && s.labels.slot === 'stable' && s.value === 1)?.labels.version;
      const baseline = stableVersion && stableVersion !== q.version ? versionStats(samples, stableVersion) : null;
      if (q.maxPredictionDrift !== undefined && baseline && v.meanPrediction != null && baseline.meanPrediction != null) {
        const drift = Math.abs(v.meanPrediction - baseline.meanPrediction);
        if (drift > q.maxPredictionDrift) problems.push(`prediction drift ${drift.toFixed(3)} from ${baseline.version} > max ${q.maxPredictionDrift}`);
      }
      const since = new Date(q.since);
      const window =
        v.loadedAt && v.loadedAt.getTime() < since.getTime()
          ? `counted since it was loaded at ${v.loadedAt.toISOString()}, before ${q.since}`
          : `since ${v.loadedAt?.toISOString() ?? q.since}`;
      const detail =
        `${q.version} (${v.slot}): ${v.errors}/${v.requests} requests failed (${pct(v.errorRate)}), p99 ${v.latencyP99Ms === null ? '-' : `${v.latencyP99Ms.toFixed(1)} ms`}, ` +
        `mean score ${v.meanPrediction?.toFixed(3) ?? '-'}` +
        (baseline ? `; baseline ${baseline.version}: ${baseline.errors}/${baseline.requests} failed (${pct(baseline.errorRate)}), mean score ${baseline.meanPrediction?.toFixed(3) ?? '-'}` : '') +
        `; ${window}`;
      if (problems.length === 0) return { healthy: true, detail };
      // Too few requests and nothing else wrong: more traffic may still bring a verdict.
      return { healthy: false, detail: `${problems.join('; ')} — ${detail}`, ...(tooFew && problems.length === 1 ? { missing: true } : {}) };
    },
  };
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

function servingList(samples: PromSample[]): string {
  const serving = samples.filter((s) => s.name === 'slipway_model_serving' && s.value === 1).map((s) => `${s.labels.version} (${s.labels.slot})`);
  return serving.length > 0 ? serving.join(', ') : 'nothing';
}

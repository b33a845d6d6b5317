/**
 * The `registry` health source: serving platforms post health reports to
 * the registry (API `POST /health-reports`); a bake judges the reports for
 * the deployed version since the deploy.
 */
import type { HealthReports } from '../../registry/releases';
import type { HealthSource } from '../types';

/** registryHealthSource judges the health reports stored in the registry; fewer than `minReports` is not a pass. */
export function registryHealthSource(store: HealthReports): HealthSource {
  return {
    name: 'registry',
    async check(q) {
      // Refused when a pipeline is applied (health/names.ts); a pipeline pinned before that still must not pass unjudged.
      if (q.maxPredictionDrift !== undefined) {
        return { healthy: false, detail: 'the registry health source cannot judge maxPredictionDrift (its reports carry no predictions): remove it or use healthSource: local' };
      }
      const minReports = q.minReports ?? 0;
      const reports = await store.healthSince(q.model, q.env, q.version, new Date(q.since));
      const bad = reports.find(
        (r) =>
          !r.healthy ||
          (q.maxErrorRate !== undefined && r.errorRate !== undefined && r.errorRate > q.maxErrorRate) ||
          (q.maxLatencyP99Ms !== undefined && r.latencyP99Ms !== undefined && r.latencyP99Ms > q.maxLatencyP99Ms),
      );
      if (bad) {
        return {
          healthy: false,
          detail: `unhealthy report from ${bad.source} at ${bad.at.toISOString()}: healthy=${bad.healthy} errorRate=${bad.errorRate ?? '-'} latencyP99Ms=${bad.latencyP99Ms ?? '-'}`,
        };
      }
      if (reports.length < minReports) {
        return {
          healthy: false,
          missing: true,
          detail: `only ${reports.length} health report(s) for ${q.version} in ${q.env} since ${q.since}; at least ${minReports} (minReports) are needed to judge it (platforms post them to POST /health-reports)`,
        };
      }
      if (reports.length === 0) return { healthy: true, detail: 'no health reports since deploy (minReports is 0, so none are required)' };
      return { healthy: true, detail: `${reports.length} healthy report(s) since deploy` };
    },
  };
}

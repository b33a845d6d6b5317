/**
 * The `registry` health source: serving platforms post health reports to
 * the registry (API `POST /health-reports`); a bake judges the reports for
 * the deployed version since the deploy.
 */
import type { HealthReports } from '../../registry/releases';
import type { HealthSource } from '../types';

/** registryHealthSource judges the health reports stored in the registry. */
export function registryHealthSource(store: HealthReports): HealthSource {
  return {
    name: 'registry',
    async check(q) {
      const reports = await store.healthSince(q.model, q.env, q.version, new Date(q.since));
      if (reports.length === 0) return { healthy: true, detail: 'no health reports since deploy' };
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
      return { healthy: true, detail: `${reports.length} healthy report(s) since deploy` };
    },
  };
}

/**
 * The names the registered health sources answer to (health/index.ts), as a
 * pure list for checking pipelines when they are applied to the server.
 * health/health.test.ts keeps it in step with the factories.
 */

/** HEALTH_SOURCE_NAMES are the names a stage may put under `healthSource:`. */
export const HEALTH_SOURCE_NAMES: readonly string[] = ['registry', 'local'];

/** HealthLimit is a stage option that asks a health source to judge something. */
export type HealthLimit = 'maxErrorRate' | 'maxLatencyP99Ms' | 'maxPredictionDrift' | 'minReports';

/**
 * HEALTH_SOURCE_LIMITS are the limits each built-in source can judge; a
 * pipeline setting another one for that source is refused when applied,
 * rather than ignored during the bake. Sources a custom worker adds are not
 * listed and accept every limit.
 */
export const HEALTH_SOURCE_LIMITS: Readonly<Record<string, readonly HealthLimit[]>> = {
  // Reports carry healthy, errorRate and latencyP99Ms; no predictions.
  registry: ['maxErrorRate', 'maxLatencyP99Ms', 'minReports'],
  // minReports counts requests to the version.
  local: ['maxErrorRate', 'maxLatencyP99Ms', 'maxPredictionDrift', 'minReports'],
};
